"""Evaluate a checkpoint on benchmarks at the end of a pipeline (recipe ``kind: eval``).

Benchmarks -> backend -> generate -> grade -> results: the same runner as ``medreasoner eval``
(docs/evaluation.md), writing ``<out_dir>/<benchmark>_<mode>/{predictions.jsonl,results.json}``, so
``medreasoner report runs/<recipe>`` picks them up. An interrupted stage resumes from its
predictions. With ``mode: both`` every benchmark is run answer-only and with explanations and the
paired stability (explain - answer accuracy, McNemar) is reported: the measurement behind
Preferred-MedLLM's claim (arXiv 2504.18080) that RPO keeps accuracy when explanations are requested.

Example recipe section::

    - name: eval
      kind: eval
      config:
        model: ${sft}
        backend: hf
        dtype: auto
        mode: both
        prompt_style: chat
        grading: normalized
        generation: {max_new_tokens: 256, temperature: 0.0, top_p: 1.0, num_samples: 1, batch_size: 16,
                     thinking_budget: null}
        benchmarks:
          - {name: items, data: "${world}/eval/test_mcq.jsonl", limit: null, igakuqa_prompts: null}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from medreasoner.benchmarks import BENCHMARKS
from medreasoner.eval.backends import load_backend
from medreasoner.eval.generation import Completion, GenerationSettings
from medreasoner.eval.runner import EvalRequest, run_eval
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext


BENCHMARK_KINDS = tuple(BENCHMARKS)  # the loader registry; the Literal below must list the same names


class BenchmarkSection(BaseModel):
    """One benchmark to evaluate.

    Attributes:
        kind: the benchmark loader (a name in :data:`BENCHMARK_KINDS`, the loader registry) when
            ``name`` is not one; optional.
        name: what the results are called: ``<out_dir>/<name>_<mode>/`` and the report's column.
            Without ``kind`` it is also the benchmark (one of the kinds above). Names must be
            distinct within a stage (two files of one benchmark need ``kind`` and two names).
        data: the benchmark file or directory.
        limit: only the first N items (None = all).
        igakuqa_prompts: IgakuQA few-shot file/dir (None = ``prompts/`` beside the data, ``"none"``
            = zero-shot); must be None for other benchmarks.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["medqa", "medcalc", "igakuqa", "mcq", "items", "rl_rows"] | None = None
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: InputPath
    limit: int | None = Field(ge=1)  # null = every item; 0 or -1 would silently drop items
    igakuqa_prompts: InputPath | None

    @field_validator("name")
    @classmethod
    def _name_is_a_benchmark_without_kind(cls, name: str, info: ValidationInfo) -> str:
        if "kind" in info.data and info.data["kind"] is None and name not in BENCHMARK_KINDS:
            raise PydanticCustomError("unknown_benchmark", "name '{name}' is not a benchmark ({kinds}); set kind: to "
                                      "the benchmark to give its results another name",
                                      {"name": name, "kinds": ", ".join(BENCHMARK_KINDS)})
        return name

    @property
    def benchmark(self) -> str:
        """The benchmark loader this section evaluates."""
        return self.kind or self.name


class GenerationSection(BaseModel):
    """Decoding settings (the seed is the recipe's).

    Attributes:
        max_new_tokens: generated-token cap per item.
        temperature: 0 = greedy.
        top_p: nucleus mass in (0, 1] when sampling (1 = the whole distribution).
        num_samples: answers per item; above 1 (with a temperature above 0) accuracy is pass@1, the mean
            share of right samples, and results.json adds pass@k (docs/evaluation.md).
        batch_size: prompts per generation batch.
        thinking_budget: tokens allowed inside ``<think>`` before a forced close (None = no limit).
    """

    model_config = ConfigDict(extra="forbid")
    # The same ranges GenerationSettings enforces when the stage runs, so `validate` rejects them too.
    max_new_tokens: int = Field(ge=1)
    temperature: float = Field(ge=0)
    top_p: float = Field(gt=0, le=1)
    num_samples: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    thinking_budget: int | None = Field(ge=1)

    @field_validator("num_samples")
    @classmethod
    def _samples_need_sampling(cls, num_samples: int, info: ValidationInfo) -> int:
        if num_samples > 1 and info.data.get("temperature") == 0:
            raise ValueError("num_samples above 1 needs a temperature above 0 (greedy decoding gives the same "
                             "answer every time)")
        return num_samples

    @field_validator("thinking_budget")
    @classmethod
    def _budget_below_cap(cls, budget: int | None, info: ValidationInfo) -> int | None:
        cap = info.data.get("max_new_tokens")
        if budget is not None and cap is not None and budget >= cap:
            raise ValueError(f"thinking_budget must be below max_new_tokens ({cap})")
        return budget


class Config(BaseModel):
    """``kind: eval`` stage configuration; every field is required in the recipe."""

    model_config = ConfigDict(extra="forbid")
    model: InputPath
    backend: Literal["hf", "vllm"]
    dtype: Literal["auto", "float32", "bfloat16", "float16"]
    mode: Literal["answer", "explain", "both"]
    prompt_style: Literal["chat", "completion"]
    grading: Literal["normalized", "official"]
    generation: GenerationSection
    benchmarks: list[BenchmarkSection]

    @field_validator("benchmarks")
    @classmethod
    def _distinct_names(cls, benchmarks: list[BenchmarkSection]) -> list[BenchmarkSection]:
        # Each name is an output directory (<name>_<mode>/): a repeated one would overwrite the
        # earlier benchmark's results. Reported at the repeated entry's name (file:line:field).
        first: dict[str, int] = {}
        for index, section in enumerate(benchmarks):
            if section.name in first:
                raise ValidationError.from_exception_data("Config", [InitErrorDetails(
                    type=PydanticCustomError(
                        "duplicate_name", "benchmark name '{name}' is used twice (also benchmarks[{other}]); "
                        "names are output directories, so the second would overwrite the first's results. "
                        "Give each a distinct name and set kind: {kind}",
                        {"name": section.name, "other": first[section.name], "kind": section.benchmark}),
                    loc=(index, "name"), input=section.name)])
            first[section.name] = index
        return benchmarks


def run(config: Config, ctx: StageContext) -> dict:
    """Evaluate ``config.model`` on every benchmark; returns ``{"<benchmark>/<mode>/accuracy": ...}``
    plus ``"<benchmark>/delta"`` (explain - answer) with ``mode: both``."""
    settings = GenerationSettings(max_new_tokens=config.generation.max_new_tokens,
                                  temperature=config.generation.temperature, top_p=config.generation.top_p,
                                  seed=ctx.seed,
                                  thinking_budget=config.generation.thinking_budget,
                                  batch_size=config.generation.batch_size)
    backend = load_backend(config.backend, model_path=config.model, dtype=config.dtype)
    metrics: dict[str, float] = {}
    # One backend and one set of settings for every benchmark of the stage, so a prompt that two
    # benchmarks share (a subset file such as cpt_only) is generated once.
    shared: dict[tuple[str, int], Completion] = {}
    for section in config.benchmarks:
        if section.igakuqa_prompts is not None and section.benchmark != "igakuqa":
            raise ValueError(f"benchmark {section.name}: igakuqa_prompts applies to igakuqa only")
        request = EvalRequest(
            benchmark=section.benchmark, name=section.name, data=Path(section.data), mode=config.mode, limit=section.limit,
            output=ctx.out_dir, prompt_style=config.prompt_style,
            igakuqa_prompts=Path(section.igakuqa_prompts) if section.igakuqa_prompts else None,
            grading=config.grading, settings=settings, num_samples=config.generation.num_samples,
        )
        metrics.update(headline_metrics(section.name, run_eval(request, backend, show_progress=True, shared=shared)))
    ctx.log(metrics, 0)  # metrics.jsonl and the recipe's trackers (logging.report_to)
    return metrics


def headline_metrics(name: str, results: dict[str, dict]) -> dict[str, float]:
    """The numbers an evaluation logs to the trackers (the eval stage, ``medreasoner eval --report-to``):
    ``<name>/<mode>/accuracy`` (pass@1 when sampled) and ``/no_answer_rate`` (fractions) per mode, ``/pass_at_k``
    and ``/maj_at_k`` when each item was sampled k times, and ``<name>/delta`` (explain - answer accuracy) when both modes ran.

    Args:
        name: the benchmark's results name.
        results: :func:`medreasoner.eval.runner.run_eval`'s ``{mode: results}``.
    """
    metrics = {}
    for mode, body in results.items():
        metrics[f"{name}/{mode}/accuracy"] = body["metrics"]["accuracy"]
        metrics[f"{name}/{mode}/no_answer_rate"] = body["metrics"]["no_answer_rate"]
        for key in ("pass_at_k", "maj_at_k"):
            if key in body["metrics"]:
                metrics[f"{name}/{mode}/{key}"] = body["metrics"][key]
    if "stability" in results.get("explain", {}):
        metrics[f"{name}/delta"] = results["explain"]["stability"]["delta"]
    return metrics
