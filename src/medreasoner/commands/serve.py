"""`medreasoner serve`: an OpenAI-compatible HTTP API (chat completions) for a local model.

    medreasoner serve --model runs/tiny/sft --port 8000
    medreasoner eval --endpoint http://127.0.0.1:8000/v1 --model-name sft --benchmark medqa --data ...

One request at a time (batch of 1); for throughput serve with vLLM instead. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.files import check_model_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``serve`` arguments."""
    parser.add_argument("--model", required=True, type=Path, help="local Hugging Face model directory")
    parser.add_argument("--port", required=True, type=int, help="TCP port (0 = pick a free one and print it)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--model-name", help="model id reported to clients (default: the model directory's name)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16")
    parser.add_argument("--default-max-tokens", type=int, default=512,
                        help="generated-token cap for requests without max_tokens (default 512)")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C exits with status 130 via the CLI)."""
    # Everything that needs no model is checked first: loading a model takes a while.
    if not 0 <= args.port <= 65535:
        raise InputError("--port", f"must be 1..65535 (or 0 to pick a free port), got {args.port}")
    if args.default_max_tokens < 1:
        raise InputError("--default-max-tokens", f"must be >= 1, got {args.default_max_tokens}")
    check_model_dir(args.model)
    from medreasoner.eval.server import ListenError, serve


    def announce(line: str) -> None:
        print(line, flush=True)

    try:
        serve(str(args.model), host=args.host, port=args.port, model_name=args.model_name or args.model.resolve().name,
              dtype=args.dtype, default_max_tokens=args.default_max_tokens, announce=announce)
    except ListenError as error:
        raise InputError("--port", str(error)) from None
    return 0
