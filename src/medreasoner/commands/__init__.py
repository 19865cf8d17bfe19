"""One module per `medreasoner` sub-command (registered in :data:`medreasoner.cli.COMMANDS`)."""
