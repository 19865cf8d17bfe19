"""Generation cost of an evaluation directory: latency per request and throughput, kept apart.

Every ``predictions.jsonl`` line records ``latency_s``, the wall time of the call that produced it.
What a call is depends on the backend, so one number cannot serve as both latency and speed:

- ``hf`` and ``vllm`` (and any other local backend) generate a batch of ``--batch-size`` prompts per
  call: every line of a batch holds the batch's wall time, and a batch's lines are written together.
  A request is answered when its batch finishes, so its **latency** is its batch's wall time. The
  generation's **wall time** is the sum of the batches' times, a batch being a run of consecutive
  lines with the same ``latency_s`` (at most ``batch_size`` of them: two batches that took the same
  microseconds stay two).
- ``endpoint`` sends one request per line with ``batch_size`` requests in flight: a line's
  ``latency_s`` is its request's own latency. The wall time is not recorded; it is estimated as the
  summed request time divided by the requests in flight, ``min(batch_size, n)``. That assumes the
  pool never idles, so the estimate is short by the last requests' tail and the throughput it gives
  is an upper bound (:attr:`Timing.estimated`).

**Throughput** is items, and completion tokens, per second of that wall time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medreasoner.eval.metrics import distribution
from medreasoner.eval.predictions import PredictionsFile

CONCURRENT_BACKENDS = ("endpoint",)  # one request per line, batch_size of them in flight


@dataclass(frozen=True)
class Timing:
    """Latency and throughput of one evaluation directory.

    Attributes:
        latency_p50_s: median seconds from sending a request to its answer.
        items_per_s: items per second of generation wall time (None when the wall time is 0 or unknown).
        tokens_per_s: completion tokens per second of generation wall time (None likewise).
        estimated: the wall time is an estimate (endpoint), not a sum of measured batch times.
    """

    latency_p50_s: float
    items_per_s: float | None
    tokens_per_s: float | None
    estimated: bool


def timing(records: list[dict], backend: str, batch_size: int) -> Timing:
    """:class:`Timing` of prediction records (in file order) of one backend run at ``batch_size``."""
    latencies = [float(r["latency_s"]) for r in records]
    tokens = sum(int(r.get("completion_tokens") or 0) for r in records)
    estimated = backend in CONCURRENT_BACKENDS
    if estimated:
        wall = sum(latencies) / max(1, min(batch_size, len(latencies)))
    else:
        wall, run_length, previous = 0.0, 0, None
        for latency in latencies:
            if latency != previous or run_length == batch_size:  # the first line of a new batch
                wall += latency
                run_length = 0
            run_length += 1
            previous = latency
    return Timing(latency_p50_s=distribution(latencies)["p50"], items_per_s=len(records) / wall if wall > 0 else None,
                  tokens_per_s=tokens / wall if wall > 0 else None, estimated=estimated)


def results_timing(body: dict) -> Timing | None:
    """:class:`Timing` of the items a results.json was computed on, read from its predictions.jsonl
    (``body["_dir"]``); None when that file is gone or its lines lack ``latency_s`` (only the recorded
    latency distribution is left then)."""
    path = Path(body.get("_dir", "")) / "predictions.jsonl"
    if not path.is_file():
        return None
    records = list(PredictionsFile(path).load().values())
    scored = body.get("correct_by_id")
    if scored is not None:  # a rerun with a smaller --limit leaves extra lines that the results do not use
        records = [r for r in records if r["id"] in scored]
    if not records or not all(isinstance(r.get("latency_s"), (int, float)) for r in records):
        return None  # lines of a tool that recorded no timing: only the results' own figure is left
    backend = (body.get("backend") or {}).get("backend", "")
    return timing(records, backend, int((body.get("generation") or {}).get("batch_size") or 1))


def timing_cells(body: dict) -> list[str]:
    """The details table's cells: latency per request (s, p50), items/s, completion tokens/s; an
    endpoint's throughput is prefixed ``≈`` (estimated wall time), an unknown one is ``n/a``."""
    measured = results_timing(body)
    if measured is None:
        return [f"{body['latency_s']['p50']:.2f}", "n/a", "n/a"]
    mark = "≈" if measured.estimated else ""
    rates = [f"{mark}{_rate(rate)}" if rate is not None else "n/a"
             for rate in (measured.items_per_s, measured.tokens_per_s)]
    return [f"{measured.latency_p50_s:.2f}", *rates]


def _rate(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"  # three significant digits, no exponent
