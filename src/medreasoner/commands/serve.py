"""`medreasoner serve`: an OpenAI-compatible HTTP API (chat and text completions) for a local model.

    medreasoner serve --model runs/tiny/sft                  # http://127.0.0.1:8000/v1
    medreasoner eval --endpoint http://127.0.0.1:8000/v1 --model-name sft --benchmark medqa --data ...

Requests that arrive together are generated in one batch; streaming, n, stop, temperature, top_p,
seed and max_tokens are honoured, unsupported parameters refused. See docs/evaluation.md ("Server").
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.files import check_model_dir

API_KEY_ENV = "MEDREASONER_API_KEY"  # read when --api-key is not given (keeps the key out of `ps`)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``serve`` arguments."""
    parser.add_argument("--model", required=True, type=Path, help="local Hugging Face model directory")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000,
                        help="TCP port (default 8000; 0 = pick a free one and print it)")
    parser.add_argument("--model-name", help="the model id clients must send (default: the model directory's name); "
                        "other names get 404")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16")
    parser.add_argument("--api-key", help=f"require 'Authorization: Bearer KEY' on /v1 routes (default: ${API_KEY_ENV} "
                        "if set, else no key)")
    parser.add_argument("--default-max-tokens", type=int,
                        help="generated-token cap for requests without max_tokens (default: the rest of the context)")
    parser.add_argument("--max-batch-size", type=int, default=32,
                        help="most rows (choices) generated in one batch (default 32)")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0,
                        help="after a request arrives, wait this long for others to batch with it (default 5 ms)")
    parser.add_argument("--reasoning", choices=["split", "inline"], default="split",
                        help="split: a chat reply's <think> block goes to message.reasoning_content (default); "
                        "inline: it stays in content")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C)."""
    # Everything that needs no model is checked first: loading a model takes a while.
    if not 0 <= args.port <= 65535:
        raise InputError("--port", f"must be 1..65535 (or 0 to pick a free port), got {args.port}")
    for option, value in (("--default-max-tokens", args.default_max_tokens), ("--max-batch-size", args.max_batch_size)):
        if value is not None and value < 1:
            raise InputError(option, f"must be >= 1, got {value}")
    if not args.batch_wait_ms >= 0:  # also false for NaN
        raise InputError("--batch-wait-ms", f"must be >= 0, got {args.batch_wait_ms}")
    check_model_dir(args.model)
    from medreasoner.eval.server import ListenError, serve

    # One access-log line per request and one line per batch, on stderr; stdout only announces the URL.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("medreasoner.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def announce(line: str) -> None:
        print(line, flush=True)

    try:
        serve(str(args.model), host=args.host, port=args.port, model_name=args.model_name or args.model.resolve().name,
              dtype=args.dtype, api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
              default_max_tokens=args.default_max_tokens, max_batch_rows=args.max_batch_size,
              batch_wait_s=args.batch_wait_ms / 1000, split_reasoning=args.reasoning == "split", announce=announce)
    except ListenError as error:
        raise InputError("--port", str(error)) from None
    return 0
