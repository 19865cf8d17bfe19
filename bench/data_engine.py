"""Speed of the data engine's bulk steps: ``dedup`` and ``decontaminate`` over 100k questions, and
``generate`` against a local server (bench/generate_bench.py).

Prints figures, asserts nothing. Issue 8's targets: dedup and decontamination of 100k synthetic
questions against every shipped benchmark each under 60 s on 2 cores; ``generate`` at >= 0.9 of a
bare client loop's throughput at the same concurrency.

The questions are the synthetic world's (sampled cases rendered as diagnosis questions, the text
the pipeline trains on), plus planted copies: near duplicates of earlier questions (re-cased,
re-punctuated, a word appended) for dedup, and benchmark questions (verbatim, re-cased, options
shuffled) for decontamination, so the figures include the work of finding them.

Run: .venv/bin/python bench/data_engine.py [--rows 100000] [--only dedup,decontaminate,generate]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from medreasoner.stages.context import StageContext

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCHMARKS = REPO.parent / "shared" / "benchmarks"
TARGET_S = 60.0
SECTIONS = ("generate_data", "dedup", "decontaminate", "generate")
# The steps' settings besides input (every one is required), at the values of recipes/wingpt3/pipeline.yaml
# (dedup's seed aside).
DEDUP_SETTINGS = {"text_fields": ["question"], "message_roles": ["user"], "threshold": 0.9, "shingle": 5,
                  "char_shingle": 10, "num_perm": 128, "false_negative_weight": 0.9, "seed": 1, "embedding": None}
DECONTAMINATE_SETTINGS = {"text_fields": ["question"], "message_roles": ["system", "user"], "ngram": 13,
                          "char_ngram": 30, "min_ngram_hits": 1, "min_item_coverage": 0.0, "max_ngram_texts": 2}


def world_questions(count: int, seed: int) -> list[str]:
    """``count`` diagnosis questions rendered from cases drawn from the packaged knowledge base."""
    from medreasoner.sim.chain import probability_model
    from medreasoner.sim.items import diagnosis_item, present
    from medreasoner.sim.kb import load_knowledge_base
    from medreasoner.sim.sampler import sample_case

    model = probability_model(load_knowledge_base(), 0.0)
    rng = random.Random(seed)
    weights = {"primary_care": 0.4, "emergency": 0.4, "inpatient": 0.2}
    questions = []
    for index in range(count):
        case = sample_case(model.kb, model.present, rng, weights)
        shown = present(model, case, rng, 3, False)
        questions.append(diagnosis_item(model.kb, shown, f"q{index}").question)
    return questions


def near_copy(text: str, rng: random.Random) -> str:
    """A copy a dedup step should catch: re-cased, punctuation dropped, doubled spaces, a word appended."""
    words = text.replace(".", " ").split()
    if rng.random() < 0.5:
        words = [word.upper() if rng.random() < 0.3 else word for word in words]
    return "  ".join(words) + rng.choice(["", " please", " now"])


def shipped_benchmarks() -> list[dict]:
    """The ``benchmarks:`` entries for every benchmark file under ../shared/benchmarks that exists."""
    candidates = [
        ("medqa_4", "medqa", SHARED_BENCHMARKS / "medqa" / "US_4_options_phrases_no_exclude_test.jsonl"),
        ("medqa_5", "medqa", SHARED_BENCHMARKS / "medqa" / "US_5_options_test.jsonl"),
        ("medcalc", "medcalc", SHARED_BENCHMARKS / "medcalc_bench" / "test_data_v1.0.csv"),
        ("igakuqa", "igakuqa", SHARED_BENCHMARKS / "igakuqa" / "data"),
    ]
    return [{"name": name, "kind": kind, "path": str(path), "text_fields": None}
            for name, kind, path in candidates if path.exists()]


def write_pool(path: Path, questions: list[str]) -> None:
    """Pool rows (the engine's row format) for ``questions``."""
    with path.open("w", encoding="utf-8") as handle:
        for index, question in enumerate(questions):
            row = {"id": f"b{index}", "domain": "medical", "language": "en", "question": question, "source": "bench"}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def timed_step(step: str, config: dict, out_dir: Path) -> tuple[dict, float]:
    """Run a data step through its Config and run(); return (metrics, wall seconds, reading included)."""
    import importlib

    module = importlib.import_module(f"medreasoner.data.{step}")
    start = time.perf_counter()
    metrics = module.run(module.Config.model_validate(config),
                         StageContext(run_dir=out_dir.parent, out_dir=out_dir, seed=0, log=lambda m, s: None))
    return metrics, time.perf_counter() - start


def report(step: str, rows: int, metrics: dict, seconds: float) -> None:
    """One result line: wall time, rows/s, target verdict, the step's funnel."""
    verdict = "meets" if seconds < TARGET_S else "MISSES"
    print(f"{step:14s} {rows:7d} rows  {seconds:6.1f} s  {rows / seconds:8.0f} rows/s  "
          f"({verdict} the {TARGET_S:.0f} s target)  {json.dumps(metrics)}")


def bench_dedup(work: Path, questions: list[str], rng: random.Random) -> None:
    """Dedup of the questions with 5 % planted near copies of earlier ones."""
    originals = questions[: len(questions) - len(questions) // 20]
    planted = [near_copy(rng.choice(originals), rng) for _ in range(len(questions) - len(originals))]
    write_pool(work / "dedup_in.jsonl", originals + planted)
    metrics, seconds = timed_step("dedup", {"input": str(work / "dedup_in.jsonl"), **DEDUP_SETTINGS},
                                  work / "dedup")
    report("dedup", len(questions), metrics, seconds)
    caught = _dropped_ids(work / "dedup") & {f"b{index}" for index in range(len(originals), len(questions))}
    print(f"{'':14s} planted near copies caught: {len(caught)}/{len(planted)}; the rest of the drops are "
          f"repeats of the sampler itself")


def bench_decontaminate(work: Path, questions: list[str], rng: random.Random) -> None:
    """Decontamination against every shipped benchmark, with 500 planted benchmark questions."""
    from medreasoner.benchmarks import load_benchmark

    benchmarks = shipped_benchmarks()
    if not benchmarks:
        print(f"decontaminate  skipped: no benchmark files under {SHARED_BENCHMARKS}")
        return
    print("benchmarks:", ", ".join(f"{b['name']} ({b['path']})" for b in benchmarks))
    items = load_benchmark("medqa", benchmarks[0]["path"]) if benchmarks[0]["kind"] == "medqa" else []
    planted = []
    for item in rng.sample(items, min(500, len(items))):
        options = list(item.options.values())
        rng.shuffle(options)
        planted.append(rng.choice([item.question, item.question.upper(), item.question + " " + " ".join(options)]))
    rows = questions[: len(questions) - len(planted)] + planted
    write_pool(work / "decon_in.jsonl", rows)
    planted_ids = {f"b{index}" for index in range(len(rows) - len(planted), len(rows))}
    config = {"input": str(work / "decon_in.jsonl"), "benchmarks": benchmarks, **DECONTAMINATE_SETTINGS}
    metrics, seconds = timed_step("decontaminate", config, work / "decontaminate")
    report("decontaminate", len(rows), metrics, seconds)
    funnel = json.loads((work / "decontaminate" / "funnel.json").read_text(encoding="utf-8"))
    dropped = _dropped_ids(work / "decontaminate")
    print(f"{'':14s} planted MedQA copies caught: {len(dropped & planted_ids)}/{len(planted)}; world questions "
          f"caught: {len(dropped - planted_ids)}; hits per benchmark: {funnel['details']['hits']}")


def _dropped_ids(step_dir: Path) -> set[str]:
    lines = (step_dir / "dropped.jsonl").read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["id"] for line in lines}


def bench_generate(num_requests: int, concurrency: int) -> None:
    """bench/generate_bench.py's comparison with a bare client loop (skipped when the file is absent)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from generate_bench import bench_generate as run_generate_bench
    except ImportError as error:
        print(f"generate       skipped: bench/generate_bench.py is not available ({error})")
        return
    figures = run_generate_bench(num_requests, concurrency)
    verdict = "meets" if figures["ratio"] >= 0.9 else "MISSES"
    print(f"generate       {figures['requests']} requests x {figures['concurrency']} concurrent: step "
          f"{figures['step_per_s']:.0f}/s, bare loop {figures['bare_per_s']:.0f}/s, ratio {figures['ratio']:.2f} "
          f"({verdict} the 0.9 target)  {json.dumps(figures)}")


def main() -> None:
    """Parse arguments, build the question set once, run the chosen sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="questions per step (default 100000)")
    parser.add_argument("--only", default="dedup,decontaminate,generate",
                        help="comma-separated sections: dedup, decontaminate, generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--requests", type=int, default=2000,
                        help="generate: requests (default 2000; with a few hundred, fixed start-up cost skews the ratio)")
    parser.add_argument("--concurrency", type=int, default=16, help="generate: concurrent requests (default 16)")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(SECTIONS[1:])
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {list(SECTIONS[1:])}")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench_data_engine_") as tmp:
        work = Path(tmp)
        if only & {"dedup", "decontaminate"}:
            start = time.perf_counter()
            questions = world_questions(args.rows, args.seed)
            print(f"generated {len(questions)} world questions in {time.perf_counter() - start:.1f} s "
                  f"(not part of either step's time)")
            if "dedup" in only:
                bench_dedup(work, questions, rng)
            if "decontaminate" in only:
                bench_decontaminate(work, questions, rng)
        if "generate" in only:
            bench_generate(args.requests, args.concurrency)


if __name__ == "__main__":
    main()
