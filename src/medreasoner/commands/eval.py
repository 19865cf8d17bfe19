"""`medreasoner eval`: generate answers with a local model or an OpenAI-compatible endpoint, then score.

    medreasoner eval --model runs/tiny/sft --benchmark medqa --data US_4_options_test.jsonl --mode both
    medreasoner eval --endpoint http://127.0.0.1:8000/v1 --model-name tiny --benchmark igakuqa \\
        --data IgakuQA/ --mode answer --batch-size 16

Writes ``OUTPUT/<benchmark>_<mode>/{predictions.jsonl,settings.json,results.json}``; running the same
command again resumes an interrupted run. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from medreasoner.benchmarks import BENCHMARKS, load_benchmark
from medreasoner.errors import InputError
from medreasoner.eval.backends import load_backend
from medreasoner.eval.backends.openai_api import EndpointError
from medreasoner.eval.generation import GenerationSettings
from medreasoner.eval.runner import MODE_CHOICES, EvalRequest, run_eval
from medreasoner.files import check_model_dir, check_output_path
from medreasoner.stages.evaluate import headline_metrics
from medreasoner.tracking import TRACKER_PACKAGES, check_trackers, command_settings, log_once


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``eval`` arguments."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="local Hugging Face model directory (hf or vllm backend)")
    source.add_argument("--endpoint", help="OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model-name", help="model name sent to the endpoint (required with --endpoint)")
    parser.add_argument("--backend", choices=["hf", "vllm"], default="hf", help="engine for --model (default: hf)")
    parser.add_argument("--benchmark", required=True, choices=sorted(BENCHMARKS), help="format of --data")
    parser.add_argument("--data", required=True, type=Path, help="benchmark file or directory")
    parser.add_argument("--mode", choices=sorted(MODE_CHOICES), default="answer",
                        help="prompt: answer only (default), explanation before the answer, or both with a "
                             "paired comparison (a recipe's mode:)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N items")
    parser.add_argument("--output", type=Path, default=Path("runs/eval"), help="output directory (default: runs/eval)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="prompts per batch (hf, vllm) or concurrent requests (endpoint); default 8")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="generated-token cap per item (default 512)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default); > 0 samples")
    parser.add_argument("--top-p", type=float, default=1.0,
                        help="nucleus mass in (0, 1] when sampling (default 1: the whole distribution)")
    parser.add_argument("--num-samples", type=int, default=1,
                        help="answers per item (default 1); above 1, with --temperature > 0, accuracy is pass@1 "
                             "(the mean share of right samples) and results.json adds pass@k")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0; sample s uses seed + s)")
    parser.add_argument("--thinking-budget", type=int,
                        help="max tokens inside <think> before it is force-closed (hf, vllm)")
    parser.add_argument("--prompt-style", choices=["chat", "completion"], default="chat",
                        help="chat template / chat endpoint (default) or one plain completion prompt")
    parser.add_argument("--igakuqa-prompts", type=Path,
                        help="IgakuQA few-shot prompt.jsonl or its dir "
                        "(default: <data root>/prompts; 'none' = zero-shot)")
    parser.add_argument("--grading", choices=["normalized", "official"], default="normalized",
                        help="answer extraction: tolerant (normalized, default) or the benchmark's official rule "
                             "(official), as score --grading")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="weights dtype of --model: auto (default; bfloat16 on a GPU, float32 on CPU), float32, "
                             "bfloat16 or float16")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY",
                        help="environment variable holding the endpoint's API key (default OPENAI_API_KEY)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="endpoint request timeout in seconds (default 120)")
    parser.add_argument("--max-retries", type=int, default=5,
                        help="endpoint retries on connection errors, timeouts, 408/409/429/5xx (default 5)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--report-to", action="append", default=[], choices=sorted(TRACKER_PACKAGES),
                        help="also log the headline metrics to tensorboard (OUTPUT/tb), wandb or mlflow "
                             "(project medreasoner-eval); repeatable")


def make_backend(args: argparse.Namespace):
    """The backend the arguments name (loading the model for hf/vllm)."""
    if args.endpoint:
        return load_backend("endpoint", base_url=args.endpoint, model_name=args.model_name,
                            api_key_env=args.api_key_env, timeout_s=args.timeout, max_retries=args.max_retries)
    return load_backend(args.backend, model_path=args.model, dtype=args.dtype)


def check_arguments(args: argparse.Namespace) -> None:
    """Every check that needs no model: options, the data file, the output directory. Runs before
    any model is loaded, so a typo costs no load time and writes nothing."""
    bounds = [("--limit", args.limit, 1, "evaluate at least one item; omit --limit for all"),
              ("--batch-size", args.batch_size, 1, None), ("--max-new-tokens", args.max_new_tokens, 1, None),
              ("--max-retries", args.max_retries, 0, "0 = no retries"),
              ("--thinking-budget", args.thinking_budget, 1, None), ("--num-samples", args.num_samples, 1, None)]
    for option, value, low, hint in bounds:
        if value is not None and value < low:
            raise InputError(option, f"must be >= {low}, got {value}" + (f" ({hint})" if hint else ""))
    for option, value, positive in (("--temperature", args.temperature, False), ("--timeout", args.timeout, True)):
        if not (value > 0 if positive else value >= 0):  # also false for NaN
            raise InputError(option, f"must be {'> 0' if positive else '>= 0'}, got {value}")
    if not 0 < args.top_p <= 1:
        raise InputError("--top-p", f"must be in (0, 1], got {args.top_p}")
    if args.num_samples > 1 and args.temperature == 0:
        raise InputError("--num-samples", "above 1 needs --temperature > 0 (greedy decoding gives the same answer "
                         "every time)")
    if args.endpoint:
        if not args.model_name:
            raise InputError("--model-name", "required with --endpoint (the model name the endpoint serves)")
        if args.thinking_budget is not None:
            raise InputError("--thinking-budget", "needs a local model (hf or vllm backend); the OpenAI API has "
                             "no such control")
    else:
        check_model_dir(args.model)
    check_output_path(args.output, kind="dir")
    check_trackers("--report-to", args.report_to, field=None)
    load_benchmark(args.benchmark, args.data)  # a malformed item fails here, not after the model loads


def run(args: argparse.Namespace) -> int:
    """Evaluate, print a summary table; returns the exit status."""
    check_arguments(args)
    try:
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                      top_p=args.top_p, seed=args.seed, thinking_budget=args.thinking_budget,
                                      batch_size=args.batch_size)
    except ValueError as error:
        raise InputError("--max-new-tokens/--temperature/--batch-size/--thinking-budget", str(error)) from None
    request = EvalRequest(benchmark=args.benchmark, data=args.data, mode=args.mode, limit=args.limit,
                          output=args.output, prompt_style=args.prompt_style, igakuqa_prompts=args.igakuqa_prompts,
                          grading=args.grading, settings=settings, num_samples=args.num_samples)
    try:
        backend = make_backend(args)
    except ImportError as error:
        raise InputError(f"--backend {args.backend}", str(error)) from None
    try:
        results = run_eval(request, backend, show_progress=not args.no_progress)
    except EndpointError as error:
        raise InputError("--endpoint", str(error)) from None
    print_summary(results, args.output)
    if args.report_to:
        log_once(args.output, headline_metrics(args.benchmark, results), report_to=args.report_to,
                 project="medreasoner-eval", run_name=f"{args.output.name}/{args.benchmark}",
                 config=command_settings(args))
    return 0


def print_summary(results: dict[str, dict], output: Path) -> None:
    """One row per mode: accuracy (pass@1 when sampled, then pass@k) with its 95 % interval, no-answer rate;
    then the stability line."""
    console = Console(highlight=False)
    table = Table(title=f"results in {output}")
    for column in ("benchmark", "mode", "n", "accuracy [95% CI]", "no answer"):
        table.add_column(column)
    for mode, body in results.items():
        m = body["metrics"]
        sampled = f" pass@1; pass@{m['num_samples']} {m['pass_at_k']:.3f}" if "pass_at_k" in m else ""
        table.add_row(body["benchmark"], mode, str(m["n"]),
                      f"{m['accuracy']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]{sampled}",
                      f"{m['no_answer_rate']:.3f}")
    console.print(table)
    for mode, body in results.items():
        if body["context"]["n_over_context"]:
            console.print(f"warning: {mode}: {body['context']['n_over_context']} items ran past the model's "
                          f"{body['context']['context_length']}-token context")
    stability = next(iter(results.values())).get("stability")
    if stability:
        mcnemar = ("" if stability["mcnemar_p"] is None else  # sampled: shares, not flips
                   f", McNemar p = {stability['mcnemar_p']:.3g}, flips to wrong {stability['flips_to_wrong']}, "
                   f"to right {stability['flips_to_right']}")
        console.print(f"explain - answer = {stability['delta']:+.3f} [{stability['ci_low']:+.3f}, "
                      f"{stability['ci_high']:+.3f}]{mcnemar}")
