"""Load test of ``medreasoner serve``: throughput and latency at 1, 8 and 32 concurrent clients.

    .venv/bin/python bench/serve_load.py [--model runs/tiny_pipeline/sft] [--requests 64] [--max-tokens 64]

Starts ``medreasoner serve`` as a subprocess on 127.0.0.1 (a free port) with the checkpoint, waits
for its "serving ... on URL" line, then per concurrency level sends ``--requests`` chat requests
(invented clinical questions, greedy, ``max_tokens`` fixed) from that many ``openai.AsyncOpenAI``
workers, and prints requests/s, generated tokens/s (from ``usage``), p50/p95 latency, failed
requests and the server's batches (from ``/health``) per level. Stops the server when done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

import httpx
import openai

SYMPTOMS = ["fever", "cough", "chest pain", "rash", "headache", "dyspnea", "jaundice", "syncope", "edema", "vertigo"]


def question(k: int) -> list[dict]:
    """An invented clinical question (no benchmark text); length varies with ``k``."""
    days = " ".join(f"Day {d}: {SYMPTOMS[(k + d) % len(SYMPTOMS)]}." for d in range(1 + k % 6))
    return [{"role": "user", "content": f"A {20 + k % 60}-year-old reports {days} What is the most likely diagnosis?"}]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` in [0, 100]."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def level(url: str, model: str, concurrency: int, requests: int, max_tokens: int) -> dict:
    """Send ``requests`` requests with ``concurrency`` workers; latency and token figures."""
    latencies, tokens, failures = [], 0, 0
    pending = iter(range(requests))
    async with openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=300) as client:
        async def worker() -> None:
            nonlocal tokens, failures
            for k in pending:
                began = time.perf_counter()
                try:
                    reply = await client.chat.completions.create(model=model, messages=question(k),
                                                                 max_tokens=max_tokens, temperature=0)
                except openai.OpenAIError:
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - began)
                tokens += reply.usage.completion_tokens

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return {"wall_s": wall, "ok": len(latencies), "failed": failures, "tokens": tokens, "latencies": latencies}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/tiny_pipeline/sft", help="checkpoint directory to serve")
    parser.add_argument("--requests", type=int, default=64, help="requests per concurrency level (default 64)")
    parser.add_argument("--max-tokens", type=int, default=64, help="max_tokens of every request (default 64)")
    parser.add_argument("--levels", default="1,8,32", help="comma-separated client counts (default 1,8,32)")
    parser.add_argument("--max-batch-size", type=int, default=32, help="the server's --max-batch-size (default 32)")
    args = parser.parse_args()

    command = [sys.executable, "-m", "medreasoner.cli", "serve", "--model", args.model, "--port", "0",
               "--model-name", "bench", "--max-batch-size", str(args.max_batch_size)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    try:
        line = server.stdout.readline()
        if " on http" not in line:
            print(f"the server did not start: {line!r}", file=sys.stderr)
            return 1
        url = line.split(" on ")[1].strip()
        health = url.removesuffix("/v1") + "/health"
        print(f"model {args.model}, {args.requests} requests per level, max_tokens {args.max_tokens}, greedy, "
              f"server --max-batch-size {args.max_batch_size}")
        print(f"{'clients':>7} {'req/s':>7} {'tok/s':>8} {'p50 s':>7} {'p95 s':>7} {'failed':>6} {'batches':>7} "
              f"{'rows/batch':>10}")
        for concurrency in (int(v) for v in args.levels.split(",")):
            before = httpx.get(health).json()["batches"]
            result = asyncio.run(level(url, "bench", concurrency, args.requests, args.max_tokens))
            batches = httpx.get(health).json()["batches"] - before
            latencies = result["latencies"] or [float("nan")]
            wall = result["wall_s"]
            print(f"{concurrency:>7} {result['ok'] / wall:>7.2f} {result['tokens'] / wall:>8.1f} "
                  f"{statistics.median(latencies):>7.3f} {percentile(latencies, 95):>7.3f} {result['failed']:>6} "
                  f"{batches:>7} {result['ok'] / max(batches, 1):>10.1f}")
    finally:
        server.terminate()
        server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
