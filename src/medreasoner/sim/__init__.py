"""The synthetic clinical world: knowledge base, case sampler, diagnostic chain, items, environment.

Entry points: :func:`medreasoner.sim.world.build_world` (``medreasoner data build-world``),
:class:`medreasoner.sim.environment.DiagnosticEnvironment` (TRL ``environment_factory``) and
:func:`medreasoner.sim.kb.load_knowledge_base`. See docs/sim.md.
"""
