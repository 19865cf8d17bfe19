"""The evaluation loop: load items, render prompts, generate what is missing, grade, write results.

Run directory per benchmark and mode: ``<output>/<name>_<mode>/`` (``name`` = the benchmark unless
the request names its results otherwise) with ``predictions.jsonl`` (one line per item, appended and
fsynced per batch), ``settings.json`` (what the predictions were generated with; a resume with other
settings is refused), ``model_identity.json`` (the model's content hash or endpoint; a resume with
another model is refused, :mod:`medreasoner.eval.provenance`) and ``results.json`` (atomic; it also
records the data's SHA-256 and the source commit, so a standalone eval has the provenance a pipeline's
stage manifest gives an eval stage). A rerun skips items whose id and prompt hash are already in
``predictions.jsonl``, so an interrupted run is finished by running the same command again. Metrics are
always recomputed by grading the stored raw responses with the current verifier, so an
interrupted-and-resumed greedy run ends with the same numbers as an uninterrupted one. A sampled run
resumed on the hf backend draws its missing answers anew (the seed is set per ``generate`` call, and
batches follow the prompts still missing), so it is the same protocol with other draws; vLLM and
endpoints seed each request.

With ``num_samples`` k > 1 (sampling, temperature > 0) every item is answered k times, one generation
pass per sample index with seed ``settings.seed + sample`` (as the ``generate`` data step draws its
samples), and ``predictions.jsonl`` holds one line per sample. ``metrics.accuracy`` is then pass@1, the
mean over items of each item's share of right samples, with a bootstrap interval over items, and
``metrics.pass_at_k`` the share of items some sample got right and ``metrics.maj_at_k`` the accuracy of a
vote over the samples (:func:`medreasoner.eval.metrics.majority_score`): how reasoning models are usually
scored when sampled (a temperature of about 0.6 and top-p 0.95, the mean over samples), and the
second protocol of the tiny reproduce run's finding 1 (docs/results.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from medreasoner.benchmarks import BENCHMARKS, load_benchmark
from medreasoner.benchmarks.item import GestationalAge, Item
from medreasoner.errors import InputError
from medreasoner.eval.generation import Completion, GenerationSettings, PromptStyle
from medreasoner.eval.metrics import BOOTSTRAP, accuracy_block, distribution, sampled_accuracy_block, stability
from medreasoner.eval.predictions import PredictionsFile
from medreasoner.eval.prompts import PromptBuilder, find_igakuqa_prompts, load_igakuqa_exemplars
from medreasoner.eval.provenance import check_identity, model_identity
from medreasoner.files import path_sha256, write_json_atomic
from medreasoner.scoring import summarize
from medreasoner.source_commit import source_commit
from medreasoner.verify import grade
from medreasoner.verify.result import vote_key

RESULTS_SCHEMA = 1
MODE_CHOICES = {"answer": ("answer",), "explain": ("explain",), "both": ("answer", "explain")}


@dataclass(frozen=True)
class EvalRequest:
    """Everything one ``medreasoner eval`` invocation asks for (backend aside).

    Attributes:
        benchmark: a key of ``medreasoner.benchmarks.BENCHMARKS``.
        data: the benchmark file or directory.
        mode: ``"answer"``, ``"explain"`` or ``"both"``.
        limit: evaluate only the first N items (None = all).
        output: the directory receiving ``<benchmark>_<mode>/``.
        prompt_style: ``"chat"`` or ``"completion"``.
        igakuqa_prompts: IgakuQA few-shot file/dir; None = look for ``prompts/`` beside the data;
            ``Path("none")`` = zero-shot.
        grading: verifier mode, ``"normalized"`` or ``"official"``.
        settings: decoding settings.
        num_samples: answers per item (k); above 1 the settings must sample (temperature > 0).
        name: what the results are called (``<name>_<mode>/``, results.json ``name``); None = the
            benchmark. Lets one output directory hold two files of the same benchmark.
    """

    benchmark: str
    data: Path
    mode: str
    limit: int | None
    output: Path
    prompt_style: PromptStyle
    igakuqa_prompts: Path | None
    grading: str
    settings: GenerationSettings
    num_samples: int
    name: str | None = None

    @property
    def results_name(self) -> str:
        """The stem of the run directories: ``name`` or the benchmark."""
        return self.name or self.benchmark


def jsonable(value):
    """JSON form of an extracted answer (sets sorted, dates ISO, gestational age as [weeks, days])."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, GestationalAge):
        return [value.weeks, value.days]
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _exemplars(request: EvalRequest):
    if request.benchmark != "igakuqa":
        return [], None
    if request.igakuqa_prompts is not None and str(request.igakuqa_prompts) == "none":
        return [], None
    source = request.igakuqa_prompts or find_igakuqa_prompts(request.data)
    if source is None:
        raise InputError(request.data, "the IgakuQA baseline prompt is 3-shot but no prompts/prompt.jsonl was found "
                         "beside the data; pass --igakuqa-prompts PATH (or --igakuqa-prompts none for zero-shot)")
    source = Path(source) / "prompt.jsonl" if Path(source).is_dir() else Path(source)
    return load_igakuqa_exemplars(source), source


def _record(item: Item, sample: int, prompt_hash: str, completion: Completion, grading: str) -> dict:
    result = grade(completion.text, item, grading)
    return {
        "id": item.id, "sample": sample, "prompt_hash": prompt_hash, "response": completion.text,
        "extracted": jsonable(result.extracted), "correct": bool(result.correct), "score": float(result.score),
        "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
        "latency_s": round(completion.latency_s, 6), "finish_reason": completion.finish_reason,
    }


def _check_settings(run_dir: Path, settings_record: dict, has_predictions: bool) -> None:
    """Record the generation settings; refuse to mix predictions made under other settings."""
    path = run_dir / "settings.json"
    if has_predictions and path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous != settings_record:
            raise InputError(path, f"this run directory was generated with other settings ({previous}); "
                             f"now {settings_record}. Use a new --output directory to compare settings")
    write_json_atomic(path, settings_record)


def source_record(request: EvalRequest) -> dict:
    """What the results were computed from: ``data_sha256`` (the data file's SHA-256; for a directory,
    :func:`medreasoner.files.path_sha256`'s hash, as a stage manifest records it) and
    ``git_commit`` (:func:`medreasoner.source_commit.source_commit`, None outside a git checkout)."""
    return {"data_sha256": path_sha256(Path(request.data)), "git_commit": source_commit()}


def evaluate_mode(items: list[Item], request: EvalRequest, mode: str, backend, show_progress: bool,
                  shared: dict[tuple[str, int], Completion], origin: dict) -> dict:
    """Generate the missing predictions of one mode, then grade everything and write results.json.

    ``shared`` maps (a rendered prompt's sha256, sample index) to its completion. A prompt found there is
    not generated again, and every new completion is added to it. One eval stage passes one map to all of
    its benchmarks, so a benchmark that is a subset of another (the demo's CPT-only items) costs no model
    time and gets exactly the superset's answers. The map must only be shared between requests with the
    same backend, generation settings and ``num_samples``.

    ``origin``: :func:`source_record` of the request (data hash, commit), computed once for all modes.

    Returns:
        The results dict written to ``<output>/<benchmark>_<mode>/results.json``.
    """
    exemplars, source = _exemplars(request)
    builder = PromptBuilder(request.benchmark, mode, request.prompt_style, exemplars, source)
    prompts = [builder.render(item) for item in items]
    hashes = [p.sha256 for p in prompts]
    run_dir = request.output / f"{request.results_name}_{mode}"
    # top_p 1.0 (the whole distribution) is left out, as num_samples 1 is below, so a directory written before
    # either setting existed still resumes: its decoding was exactly that.
    generation = {k: v for k, v in request.settings.to_dict().items()
                  if k != "batch_size" and not (k == "top_p" and v == 1.0)}
    predictions = PredictionsFile(run_dir / "predictions.jsonl")
    done = predictions.load()
    identity = model_identity(backend.describe())
    check_identity(run_dir, identity, bool(done))
    _check_settings(run_dir, {"backend": backend.describe()["backend"], "model": backend.describe()["model"],
                              "prompt_style": request.prompt_style, "generation": generation,
                              **({"num_samples": request.num_samples} if request.num_samples > 1 else {})},
                    bool(done))
    hash_of = dict(zip((item.id for item in items), hashes))
    for (item_id, _), record in done.items():
        if item_id in hash_of and record["prompt_hash"] != hash_of[item_id]:
            raise InputError(predictions.path, f"item {item_id!r} was generated from a different prompt "
                             "(template or data changed); use a new --output directory", field="prompt_hash")
    samples = range(request.num_samples)
    # Answers already on disk join the shared map too, so a benchmark resumed after its superset finished
    # still gets the superset's answers rather than new draws.
    for (item_id, sample), record in done.items():
        if item_id in hash_of and sample < request.num_samples:
            shared.setdefault((record["prompt_hash"], sample), Completion(
                record["response"], record.get("prompt_tokens", 0), record.get("completion_tokens", 0),
                record.get("latency_s", 0.0), record.get("finish_reason", "stop")))
    pending = [(i, s) for s in samples for i, item in enumerate(items) if (item.id, s) not in done]
    total = len(items) * request.num_samples
    with tqdm(total=total, initial=total - len(pending), desc=f"{request.benchmark}/{mode}",
              unit="answer" if request.num_samples > 1 else "item", disable=not show_progress) as bar:
        for sample in samples:
            def record(positions: list[int], completions: list[Completion], sample: int = sample) -> None:
                records = [_record(items[j], sample, hashes[j], c, request.grading)
                           for j, c in zip(positions, completions)]
                predictions.append(records)
                done.update(((r["id"], sample), r) for r in records)
                shared.update(((hashes[j], sample), c) for j, c in zip(positions, completions))
                bar.update(len(records))

            missing = [i for i, s in pending if s == sample]
            reused = [i for i in missing if (hashes[i], sample) in shared]
            if reused:
                record(reused, [shared[(hashes[i], sample)] for i in reused])
            todo = [i for i in missing if (hashes[i], sample) not in shared]
            if todo:
                # One pass per sample index, seeded seed + sample: every sample of an item differs, and k = 1
                # keeps the request's own seed.
                settings = replace(request.settings, seed=request.settings.seed + sample)
                backend.generate([prompts[i] for i in todo], settings,
                                 lambda indices, completions: record([todo[k] for k in indices], completions))
    records = [[done[(item.id, s)] for s in samples] for item in items]
    results = build_results(items, records, request, mode, backend, builder, prompts[0], origin)
    results["model_identity"] = identity
    write_json_atomic(run_dir / "results.json", results)
    return results


def build_results(items: list[Item], records: list[list[dict]], request: EvalRequest, mode: str, backend,
                  builder: PromptBuilder, example_prompt, origin: dict) -> dict:
    """The results.json body; grades come from re-grading the stored raw responses. ``records``: each
    item's prediction per sample (one when ``num_samples`` is 1). ``origin``: :func:`source_record`."""
    grades = [[grade(r["response"], item, request.grading) for r in item_records]
              for item, item_records in zip(items, records)]
    flat = [r for item_records in records for r in item_records]
    if request.num_samples == 1:
        first = [g[0] for g in grades]
        metrics = accuracy_block([g.correct for g in first], [g.score for g in first],
                                 [g.extracted is not None for g in first], BOOTSTRAP)
        summary = summarize(request.benchmark, items, first, request.grading)
        correct = {item.id: bool(g.correct) for item, g in zip(items, first)}
    else:
        metrics = sampled_accuracy_block([[g.correct for g in item] for item in grades],
                                         [[g.score for g in item] for item in grades],
                                         [[g.extracted is not None for g in item] for item in grades],
                                         [[vote_key(g) for g in item] for item in grades], BOOTSTRAP)
        # the benchmark's own breakdown (IgakuQA points, MedCalc categories) is defined on one answer per item
        summary = {"n": len(items), "per_sample": [summarize(request.benchmark, items, [g[s] for g in grades],
                                                             request.grading) for s in range(request.num_samples)]}
        correct = {item.id: sum(bool(g.correct) for g in item_grades) / len(item_grades)
                   for item, item_grades in zip(items, grades)}
    return {
        "schema_version": RESULTS_SCHEMA,
        "benchmark": request.benchmark,
        "name": request.results_name,
        "benchmark_version": BENCHMARKS[request.benchmark].version,
        "mode": mode,
        "data": str(request.data),
        "data_sha256": origin["data_sha256"],
        "git_commit": origin["git_commit"],
        "limit": request.limit,
        "grading": request.grading,
        "backend": backend.describe(),
        "generation": {**request.settings.to_dict(), "prompt_style": request.prompt_style,
                       "num_samples": request.num_samples},
        "prompt": {**builder.describe(), "example": example_prompt.to_dict()},
        "metrics": metrics,
        "summary": summary,
        "tokens": {"prompt": distribution([r["prompt_tokens"] for r in flat]),
                   "completion": distribution([r["completion_tokens"] for r in flat])},
        "latency_s": distribution([r["latency_s"] for r in flat]),
        "finish_reasons": dict(sorted(Counter(r["finish_reason"] for r in flat).items())),
        "context": _context(backend.describe().get("context_length"), flat),
        # right/wrong per item; with num_samples > 1 each item's share of right samples (its pass@1)
        "correct_by_id": correct,
    }


def _context(context_length: int | None, records: list[dict]) -> dict:
    """How many items ran past the model's trained context (their answers are unreliable)."""
    if context_length is None:
        return {"context_length": None, "n_over_context": None}
    over = sum(r["prompt_tokens"] + r["completion_tokens"] > context_length for r in records)
    return {"context_length": context_length, "n_over_context": over}


def run_eval(request: EvalRequest, backend, *, show_progress: bool,
             shared: dict[tuple[str, int], Completion] | None = None) -> dict[str, dict]:
    """Evaluate every mode ``request.mode`` names; with ``both``, add the paired stability block.

    ``shared``: completions by (prompt hash, sample), reused across calls (:func:`evaluate_mode`).

    Returns:
        ``{mode: results}``; with ``both`` each results dict also holds ``"stability"``.
    """
    if request.mode not in MODE_CHOICES:
        raise ValueError(f"unknown mode {request.mode!r}; choose one of {sorted(MODE_CHOICES)}")
    if request.num_samples < 1 or (request.num_samples > 1 and request.settings.temperature == 0):
        raise ValueError(f"num_samples {request.num_samples}: give 1, or more with a temperature above 0 "
                         "(greedy decoding gives the same answer every time)")
    items = load_benchmark(request.benchmark, request.data)
    if request.limit is not None:
        items = items[:request.limit]
    if not items:
        raise InputError(request.data, "no items to evaluate")
    origin = source_record(request)  # once for all modes: a benchmark file can be large
    shared = {} if shared is None else shared
    results = {mode: evaluate_mode(items, request, mode, backend, show_progress, shared, origin)
               for mode in MODE_CHOICES[request.mode]}
    if request.mode == "both":
        block = stability(results["answer"]["correct_by_id"], results["explain"]["correct_by_id"], BOOTSTRAP)
        for mode, body in results.items():
            body["stability"] = block
            write_json_atomic(request.output / f"{request.results_name}_{mode}" / "results.json", body)
    return results
