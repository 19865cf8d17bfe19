"""``generate``: N samples per pool question from a teacher endpoint, a local HF model or vLLM.

One step serves WiNGPT-3.0's distillation (``prompt: answer`` or ``explain`` to a long-CoT teacher),
its Think-Tracing (``prompt: think_trace``: the question plus the reference answer, asking for the
reasoning that leads to it; ``filter`` later keeps only traces whose final answer verifies), RL
rollouts of the SFT model (``num_samples: 8`` at temperature 1, read by ``difficulty``/``select_rl``)
and Preferred-MedLLM's explanation sampling (``prompt: explain``, read by ``preferences``).

Each output row is the pool row plus ``sample`` (0..N-1), ``prompt`` (the messages sent),
``train_prompt`` (the question in answer mode, what SFT and RL train on), ``response`` (reasoning
inline as ``<think>\\n...\\n</think>\\n\\n<answer>``), ``reasoning_content`` (None without reasoning),
``content`` (the answer part), ``finish_reason``, ``prompt_tokens``, ``completion_tokens`` and
``generator`` (backend, model and the decoding settings). Sample ``s`` is drawn with seed
``generation.seed + s`` (per request for an endpoint, per ``generate`` pass for local backends), so N
samples of one prompt differ even on servers that honour the seed.

Resume: finished samples are appended to ``samples.partial.jsonl`` (:mod:`.generate_partial`); a
re-run reads it, checks that its rows came from the same generator and prompts, and generates only
the missing ``(id, sample)`` pairs: samples that failed (``dropped.jsonl``) are retried, nothing is
generated twice. ``data.jsonl`` is then written in pool order and sample index, so an interrupted
and resumed run yields the same rows as an uninterrupted one (the same texts at temperature 0).

Example recipe section::

    - name: distill
      kind: generate
      config:
        input: ${pool}/data.jsonl
        num_samples: 2
        max_questions: null
        prompt: explain
        backend: endpoint
        model: deepseek-reasoner
        dtype: auto
        progress: true
        generation: {max_new_tokens: 4096, temperature: 0.6, top_p: 0.95, seed: 0, batch_size: 64}
        endpoint: {base_url: "https://api.deepseek.com/v1", api_key_env: DEEPSEEK_API_KEY, concurrency: 16,
                   timeout_s: 600, max_retries: 5}
"""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from tqdm import tqdm

from medreasoner import think
from medreasoner.data.funnel import drop, write_step
from medreasoner.data.generate_endpoint import EndpointSection, Failure, Job, Reply, RequestStats, run_jobs
from medreasoner.data.generate_partial import PARTIAL_FILE, PartialWriter, read_partial
from medreasoner.data.pool import question_messages, read_pool
from medreasoner.errors import InputError
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext
from medreasoner.verify.text import strip_think

THINK_TRACE_TEMPLATE = Path(__file__).parent / "prompts" / "think_trace.txt"
VLLM_HINT = "the vllm backend needs vLLM: pip install 'medreasoner[vllm]' (Linux with a CUDA GPU)"


class GenerationSection(BaseModel):
    """Decoding settings.

    Attributes:
        max_new_tokens: generated-token cap per sample (reasoning included).
        temperature: 0 = greedy; > 0 samples.
        top_p: nucleus mass in (0, 1] (1 = the whole distribution).
        seed: base seed; sample ``s`` uses ``seed + s``.
        batch_size: prompts per forward batch (hf) or chunk (vllm); for ``endpoint`` the number of
            appended samples per ``fsync`` of ``samples.partial.jsonl``.
    """

    model_config = ConfigDict(extra="forbid")
    max_new_tokens: int = Field(ge=1)
    temperature: float = Field(ge=0)
    top_p: float = Field(gt=0, le=1)
    seed: int = Field(ge=0)
    batch_size: int = Field(ge=1)


class Config(BaseModel):
    """``kind: generate`` configuration; every key is required (``endpoint: null`` for local backends).

    Attributes:
        input: the question-pool JSONL (:mod:`medreasoner.data.pool`).
        num_samples: samples per question (N).
        max_questions: ask only the first this many questions of the pool, in file order (null: all);
            the rest are not asked, so they are neither kept nor dropped.
        prompt: ``answer``/``explain`` (the evaluation's templates, :func:`question_messages`),
            ``question`` (the question verbatim as one user turn) or ``think_trace`` (question and
            reference answer, asking for the reasoning; rows without a reference are dropped).
        backend: ``hf`` (in-process, batched), ``vllm`` (offline engine) or ``endpoint``.
        model: model directory (hf, vllm) or the served model name (endpoint).
        dtype: weights dtype for hf/vllm (``auto``: bf16 on GPU, fp32 on CPU); the endpoint's server decides its own.
        progress: show a progress bar on stderr.
        generation: decoding settings.
        endpoint: server, concurrency and retry settings; required iff ``backend: endpoint``.
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath = Field(min_length=1)
    num_samples: int = Field(ge=1)
    max_questions: int | None = Field(ge=1)
    prompt: Literal["answer", "explain", "think_trace", "question"]
    backend: Literal["hf", "vllm", "endpoint"]
    model: str = Field(min_length=1)
    dtype: Literal["auto", "float32", "bfloat16", "float16"]
    progress: bool
    generation: GenerationSection
    endpoint: EndpointSection | None

    @field_validator("endpoint")
    @classmethod
    def _endpoint_iff_backend(cls, value: EndpointSection | None, info: ValidationInfo) -> EndpointSection | None:
        backend = info.data.get("backend")
        if backend == "endpoint" and value is None:
            raise ValueError("backend 'endpoint' needs an endpoint section (base_url, api_key_env, concurrency, ...)")
        if backend in ("hf", "vllm") and value is not None:
            raise ValueError(f"backend {backend!r} runs in-process; set endpoint: null")
        return value


def run(config: Config, ctx: StageContext) -> dict:
    """Generate the missing samples, then write ``data.jsonl``/``dropped.jsonl``/``funnel.json``.

    Returns:
        the funnel metrics plus ``generated`` (samples made by this run), ``completion_tokens``
        (total over the kept rows) and ``samples_per_s`` (this run's samples per wall second).
    """
    if config.backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise InputError(config.model, VLLM_HINT)
    if config.backend != "endpoint" and config.model.startswith(("/", ".", "~")) and not Path(config.model).is_dir():
        raise InputError(config.model, "not a model directory")
    began = time.perf_counter()
    pool = read_pool(config.input)[: config.max_questions]
    n = config.num_samples
    prompts = {row["id"]: build_prompt(row, config.prompt) for row in pool}
    generator = {"backend": config.backend, "model": config.model,
                 **config.generation.model_dump(include={"max_new_tokens", "temperature", "top_p", "seed"})}
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    partial = ctx.out_dir / PARTIAL_FILE
    done, unused = resume_rows(partial, prompts, n, generator)
    reused = len(done)
    jobs = [Job((row["id"], s), prompts[row["id"]], config.generation.seed + s)
            for row in pool if prompts[row["id"]] is not None for s in range(n) if (row["id"], s) not in done]
    by_id = {row["id"]: row for row in pool}
    failures: dict[tuple, Failure] = {}
    owed = sum(n for prompt in prompts.values() if prompt is not None)
    local = load_local_backend(config) if jobs and config.backend != "endpoint" else None  # before the bar starts
    with PartialWriter(partial, config.generation.batch_size) as writer, \
            tqdm(total=owed, initial=reused, desc="generate", unit="sample", disable=not config.progress) as bar:
        def on_reply(job: Job, reply: Reply) -> None:
            row = sample_row(by_id[job.key[0]], job.key[1], job.messages, reply, generator)
            writer.append(row)
            done[job.key] = row
            bar.update()

        def on_failure(job: Job, failure: Failure) -> None:
            failures[job.key] = failure
            bar.update()

        if not jobs:
            stats = RequestStats()
        elif config.backend == "endpoint":
            settings = config.generation
            request = {"model": config.model, "max_tokens": settings.max_new_tokens,
                       "temperature": settings.temperature, "top_p": settings.top_p}
            stats = run_jobs(jobs, config.endpoint, request, on_reply, on_failure)
        else:
            stats = generate_local(local, config.generation, jobs, on_reply, writer)
    wall_s = time.perf_counter() - began
    kept, dropped = collect(pool, prompts, n, done, failures)
    generated = len(done) - reused
    details = {"backend": config.backend, "model": config.model, "prompt": config.prompt, "num_samples": n,
               "questions": len(pool), "resumed": reused, "generated": generated, "failed": len(failures),
               "partial_rows_unused": unused, "attempts": stats.attempts, "retries": stats.retries,
               "prompt_tokens": sum(r["prompt_tokens"] for r in kept),
               "completion_tokens": sum(r["completion_tokens"] for r in kept),
               "finish_length": sum(r["finish_reason"] == "length" for r in kept),
               "wall_s": round(wall_s, 3), "samples_per_s": round(generated / wall_s, 3) if wall_s > 0 else None}
    metrics = write_step(ctx.out_dir, "generate", rows_in=len(pool) * n, kept=kept, dropped=dropped,
                         input_path=config.input, details=details)
    metrics.update(generated=generated, completion_tokens=details["completion_tokens"],
                   samples_per_s=details["samples_per_s"] or 0.0)
    ctx.log(metrics, 0)
    return metrics


def collect(pool: list[dict], prompts: dict, num_samples: int, done: dict[tuple, dict],
            failures: dict[tuple, Failure]) -> tuple[list[dict], list[dict]]:
    """Kept rows and drop records in pool order, then sample index: every owed sample lands in one of them."""
    kept, dropped = [], []
    for row in pool:
        for sample in range(num_samples):
            key = (row["id"], sample)
            if prompts[row["id"]] is None:
                dropped.append(drop({"id": row["id"], "sample": sample}, "no_reference",
                                    "the row has no reference answer outside <think> (think_trace needs one)"))
            elif key in done:
                kept.append(done[key])
            else:
                dropped.append(drop({"id": row["id"], "sample": sample}, failures[key].reason, failures[key].detail))
    return kept, dropped


def build_prompt(row: dict, kind: str) -> list[dict] | None:
    """The chat messages sent for ``row`` under prompt ``kind``; None for think_trace without a reference."""
    if kind == "question":
        return [{"role": "user", "content": row["question"]}]
    if kind in ("answer", "explain"):
        return question_messages(row, kind)
    answer = strip_think(row.get("reference") or "").strip()
    if not answer:
        return None
    asked = question_messages(row, "answer")[-1]["content"]  # options and answer format included
    values = {"question": asked, "answer": answer}
    # One pass, so a question that itself contains "{answer}" is not substituted twice.
    text = re.sub(r"\{(question|answer)\}", lambda m: values[m.group(1)], think_trace_template())
    return [{"role": "user", "content": text.strip()}]


def think_trace_template() -> str:
    """The project's Think-Tracing template, ``data/prompts/think_trace.txt`` (``{question}``, ``{answer}``)."""
    return THINK_TRACE_TEMPLATE.read_text(encoding="utf-8")


def split_reasoning(text: str) -> tuple[str | None, str]:
    """``(reasoning, answer)`` of a text whose reasoning is inline in ``<think>...</think>``, both stripped.

    The data engine's split (samples here, references in :mod:`.preferences`): whether the teacher's
    template opened the block is unknown, so the text is read as the graders read it
    (:func:`medreasoner.think.split_reasoning` with ``opened=None``). A text whose chat template
    pre-opened the block (no ``<think>``, only ``</think>``) counts as all reasoning up to
    ``</think>``; an unclosed block (cut by ``max_new_tokens``) has no answer.

    >>> split_reasoning("<think>\\nfever, cough\\n</think>\\n\\nPneumonia")
    ('fever, cough', 'Pneumonia')
    >>> split_reasoning("Pneumonia")
    (None, 'Pneumonia')
    """
    return think.split_reasoning(text, opened=None, strip=True)


def sample_row(row: dict, sample: int, prompt: list[dict], reply: Reply, generator: dict) -> dict:
    """The output row of one sample: the pool row plus the sample fields (module docstring)."""
    if reply.reasoning is not None:  # the server sent the thought apart: put it inline for SFT
        reasoning, content = reply.reasoning.strip(), reply.text.strip()
        # closed even when cut off while thinking (no finish_reason), as the chat template renders it
        response = think.join_reasoning(reasoning, content, newlines=True)
    else:
        reasoning, content = split_reasoning(reply.text)
        response = reply.text
    return {**row, "sample": sample, "prompt": prompt, "train_prompt": question_messages(row, "answer"),
            "response": response, "reasoning_content": reasoning, "content": content,
            "finish_reason": reply.finish_reason, "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens, "generator": generator}


def resume_rows(path: Path, prompts: dict[str, list[dict] | None], num_samples: int,
                generator: dict) -> tuple[dict[tuple, dict], int]:
    """Rows of ``samples.partial.jsonl`` this run can keep, by ``(id, sample)``, and the count of others.

    Rows of ids no longer in the pool, of samples >= ``num_samples`` or of think_trace rows without
    a reference are left unused (counted); rows from another generator or prompt are an error, since
    mixing them would silently change the data.
    """
    done, unused = {}, 0
    for line, row in read_partial(path):
        key = (row["id"], row["sample"])
        prompt = prompts.get(row["id"])
        if prompt is None or row["sample"] >= num_samples:
            unused += 1
            continue
        if row.get("generator") != generator:
            raise InputError(path, f"written by generator {row.get('generator')} but this config uses {generator}; "
                                   "use another --output (or delete the file)", line=line, field="generator")
        if row.get("prompt") != prompt:
            raise InputError(path, "its prompt differs from the one this config builds (the pool or the prompt "
                                   "setting changed); use another --output (or delete the file)", line=line,
                             field="prompt")
        done[key] = row
    return done, unused


def load_local_backend(config: Config):
    """The hf or vllm backend of ``config`` (``eval.backends``); a model that will not load is an InputError."""
    from medreasoner.eval.backends import load_backend

    try:
        return load_backend(config.backend, model_path=config.model, dtype=config.dtype)
    except (OSError, ValueError) as error:
        raise InputError(config.model, f"cannot load the model: {error}") from None


def generate_local(backend, settings: GenerationSection, jobs: list[Job], on_reply,
                   writer: PartialWriter) -> RequestStats:
    """Run ``jobs`` on a local backend, one ``generate`` pass per sample index; fsync after each batch.

    Each pass uses seed ``settings.seed + sample``: vLLM seeds every request of a call alike, so N
    copies of a prompt in one call would come back identical.
    """
    from medreasoner.eval.generation import GenerationSettings, Prompt

    for sample in sorted({job.key[1] for job in jobs}):
        batch_jobs = [job for job in jobs if job.key[1] == sample]
        pass_settings = GenerationSettings(max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
                                           top_p=settings.top_p, seed=settings.seed + sample, thinking_budget=None,
                                           batch_size=settings.batch_size)

        def on_batch(indices, completions, batch_jobs=batch_jobs) -> None:
            for index, completion in zip(indices, completions):
                on_reply(batch_jobs[index], Reply(completion.text, None, completion.prompt_tokens,
                                                  completion.completion_tokens, completion.finish_reason))
            writer.sync()

        backend.generate([Prompt(style="chat", messages=tuple(job.messages)) for job in batch_jobs], pass_settings,
                         on_batch)
    return RequestStats(attempts=len(jobs), retries=0)
