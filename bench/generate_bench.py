"""Throughput of the `generate` step against a bare client loop, both on one instant local server.

    .venv/bin/python bench/generate_bench.py --requests 2000 --concurrency 16

A fake OpenAI-compatible server (ThreadingHTTPServer on 127.0.0.1, in a child process so it does not
share the client's interpreter lock) answers every chat request at once with a fixed small completion
and stops answering after a bounded number of requests. Against it, back to back in this process:

* bare loop: the same ``openai.AsyncOpenAI`` client (:func:`medreasoner.data.generate_endpoint.make_client`),
  ``concurrency`` workers, one request per prompt, only the reply's text kept;
* step: ``medreasoner.data.generate.run`` over a pool of as many questions (N = 1): retries armed,
  rows appended and fsynced to ``samples.partial.jsonl``, ``data.jsonl``/``funnel.json`` written.

Prints completions per second of each (median of ``--repeats`` alternating runs) and step / bare
(issue 8's goal: >= 0.9), and the same comparison in client CPU time per completion, which stays
readable when other jobs share the cores. Figures only, no assertions. ``bench/data_engine.py`` imports
:func:`bench_generate`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMPLETION = {"id": "bench", "object": "chat.completion", "created": 0, "model": "bench",
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "<think>\nshort\n</think>\n\nAnswer: A"}}],
              "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}}
LIFETIME_S = 900.0  # the server process exits after this long whatever happens


def serve(max_requests: int) -> None:
    """Child process: answer up to ``max_requests`` chat requests instantly (then 503); print the port."""
    payload = json.dumps(COMPLETION).encode()
    count = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in one segment: with the default unbuffered writes, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every response and the bench measures TCP, not code.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                count[0] += 1
                over = count[0] > max_requests
            body = b'{"error": {"message": "request budget spent"}}' if over else payload
            self.send_response(503 if over else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default backlog of 5 resets connections when many open at once

        def handle_error(self, request, client_address) -> None:
            pass  # a client closing its keep-alive connections at the end of a run is not news

    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(httpd.server_address[1], flush=True)
    time.sleep(LIFETIME_S)


def _section(url: str, concurrency: int):
    from medreasoner.data.generate_endpoint import EndpointSection

    return EndpointSection(base_url=url, api_key_env="MEDREASONER_BENCH_KEY", concurrency=concurrency, timeout_s=30.0,
                           max_retries=3)


def _pool(num_requests: int) -> list[dict]:
    return [{"id": f"b-{k}", "domain": "medical", "language": "en", "question": f"Bench question {k}: diagnosis?",
             "verifier": None, "source": "bench"} for k in range(num_requests)]


def bare_loop(url: str, num_requests: int, concurrency: int) -> tuple[float, float]:
    """(wall, CPU) seconds of this process for ``num_requests`` chat requests through the plain client."""
    from medreasoner.data.generate_endpoint import make_client

    prompts = iter([[{"role": "user", "content": row["question"]}] for row in _pool(num_requests)])
    texts = []

    async def main() -> None:
        async with make_client(_section(url, concurrency)) as client:
            async def worker() -> None:
                for messages in prompts:
                    response = await client.chat.completions.create(model="bench", messages=messages, max_tokens=16,
                                                                    temperature=0.0, top_p=1.0, seed=0)
                    texts.append(response.choices[0].message.content)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    began, began_cpu = time.perf_counter(), time.process_time()
    asyncio.run(main())
    elapsed = time.perf_counter() - began, time.process_time() - began_cpu
    assert len(texts) == num_requests, "the bench server refused requests: raise its request budget"
    return elapsed


def step_run(url: str, num_requests: int, concurrency: int, fsync_every: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the ``generate`` step over ``num_requests`` questions (N = 1), files included."""
    from medreasoner.data import generate
    from medreasoner.stages.context import StageContext

    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "pool.jsonl"
        pool.write_text("".join(json.dumps(row) + "\n" for row in _pool(num_requests)), encoding="utf-8")
        config = generate.Config(
            input=str(pool), num_samples=1, max_questions=None, prompt="question", backend="endpoint", model="bench", dtype="auto",
            progress=False, generation={"max_new_tokens": 16, "temperature": 0.0, "top_p": 1.0, "seed": 0,
                                        "batch_size": fsync_every},
            endpoint=_section(url, concurrency))
        out = Path(tmp) / "out"
        began, began_cpu = time.perf_counter(), time.process_time()
        metrics = generate.run(config, StageContext(run_dir=Path(tmp), out_dir=out, seed=0, log=lambda m, s: None))
        elapsed = time.perf_counter() - began, time.process_time() - began_cpu
    assert metrics["out"] == num_requests, metrics
    return elapsed


def bench_generate(num_requests: int, concurrency: int, *, repeats: int = 3, fsync_every: int = 64) -> dict:
    """Completions/s of the step and of the bare loop against one instant local server.

    Args:
        num_requests: requests per measured run (each run of each side).
        concurrency: requests in flight, the same for both sides.
        repeats: alternating (bare, step) pairs; the medians are reported.
        fsync_every: the step's ``generation.batch_size`` (appended samples per fsync).

    Returns:
        ``{"requests", "concurrency", "bare_per_s", "step_per_s", "ratio", "bare_cpu_ms", "step_cpu_ms",
        "cpu_ratio"}``: completions per wall second and their ratio step / bare (medians over the
        repeats), client CPU milliseconds per completion and bare / step (the same figure measured in
        CPU time, which other load on a shared machine disturbs far less than wall time).
    """
    warmup = min(200, num_requests)
    # A plain child process (not multiprocessing): works whoever imports this module, __main__ guard or not.
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(warmup + 2 * repeats * num_requests)],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{int(server.stdout.readline())}/v1"
        bare_loop(url, warmup, concurrency)  # imports, first connections
        bare, step = [], []
        for _ in range(repeats):
            bare.append(bare_loop(url, num_requests, concurrency))
            step.append(step_run(url, num_requests, concurrency, fsync_every))
    finally:
        server.terminate()
        server.wait(timeout=10)
    bare_per_s = num_requests / statistics.median(wall for wall, _ in bare)
    step_per_s = num_requests / statistics.median(wall for wall, _ in step)
    bare_cpu_ms = 1000 * statistics.median(cpu for _, cpu in bare) / num_requests
    step_cpu_ms = 1000 * statistics.median(cpu for _, cpu in step) / num_requests
    return {"requests": num_requests, "concurrency": concurrency, "bare_per_s": round(bare_per_s, 1),
            "step_per_s": round(step_per_s, 1), "ratio": round(step_per_s / bare_per_s, 3),
            "bare_cpu_ms": round(bare_cpu_ms, 3), "step_cpu_ms": round(step_cpu_ms, 3),
            "cpu_ratio": round(bare_cpu_ms / step_cpu_ms, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measured run (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating bare/step pairs (default 3)")
    parser.add_argument("--fsync-every", type=int, default=64, help="the step's samples per fsync (default 64)")
    parser.add_argument("--serve", type=int, metavar="MAX_REQUESTS", help=argparse.SUPPRESS)  # the server child
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    result = bench_generate(args.requests, args.concurrency, repeats=args.repeats, fsync_every=args.fsync_every)
    print(f"generate vs bare openai client loop: {result['requests']} requests, concurrency {result['concurrency']}")
    print(f"  bare loop   {result['bare_per_s']:8.1f} completions/s  {result['bare_cpu_ms']:6.3f} CPU ms/completion")
    print(f"  step        {result['step_per_s']:8.1f} completions/s  {result['step_cpu_ms']:6.3f} CPU ms/completion")
    print(f"  step / bare {result['ratio']:8.3f} (wall)       {result['cpu_ratio']:6.3f} (CPU)   goal >= 0.9")
    return 0


if __name__ == "__main__":
    sys.exit(main())
