"""``vrm_data``: training conversations for the verifier reward model (WiNGPT-3.0's "WiNGPT-as-Judge").

WiNGPT-3.0 (arXiv 2505.17387) sec. 4.4 and Appendix B: reference answers are a teacher's answers with
all CoT removed; the answers to grade are sampled from the SFT and reasoning-RL models, CoT removed;
a teacher judge scores each (reference, answer) pair 0/1 with the Appendix B prompt, and its output,
CoT removed, is the training target.

Per sample row of ``generate``:

- reference: the pool row's ``reference`` with the ``<think>`` block removed (none: ``no_reference``);
- candidate: the sample's ``response`` with its ``<think>`` block removed;
- user turn: :func:`medreasoner.rewards.verifier_model.build_judge_prompt` of (the sample's
  ``prompt_field`` messages, candidate, reference): the very function the VRM reward calls, so a
  trained VRM sees at training time the input it gets in GRPO. Its history is the messages before
  the last user turn, system turns left out;
- label: :func:`medreasoner.verify.grade` where the item has a verifier and ``label_source`` allows
  it, else the judge endpoint's last ``\\boxed{0|1}`` (its own ``<think>`` removed), read by the
  reward's :func:`~medreasoner.rewards.verifier_model.read_verdict`; a candidate that is empty after
  stripping is labelled 0 without judging, as the reward scores it;
- assistant turn: ``\\boxed{label}``, preceded with ``keep_analysis`` by the judge's analysis (its
  text before the last box, CoT removed); verifier labels have no analysis.

Output rows: ``{"messages": [user, assistant], "id", "sample", "label", "label_source"}`` (SFT format).
Identical judge prompts are sent once. Assumed (not in the paper): labels from the verifier for
verifiable items (the paper judges every pair), the positive-fraction cap, ``prompt_field``.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medreasoner.data.funnel import drop, write_step
from medreasoner.data.pool import pool_item
from medreasoner.data.select_rl import read_checked_samples
from medreasoner.errors import InputError
from medreasoner.recipe_inputs import InputPath
from medreasoner.rewards.judges import api_key, endpoint_generate
from medreasoner.rewards.verifier_model import build_judge_prompt, read_verdict
from medreasoner.stages.context import StageContext
from medreasoner.verify import grade
from medreasoner.verify.text import strip_think

STEP = "vrm_data"


class JudgeEndpoint(BaseModel):
    """The labelling judge (WiNGPT-3.0: DeepSeek-R1) behind an OpenAI-compatible endpoint.

    Attributes:
        endpoint: base URL, e.g. ``http://localhost:8000/v1``.
        model: the ``model`` field of each request.
        api_key_env: environment variable holding the API key; null sends none.
        max_tokens: judge output budget (tokens); a verdict cut off before its box is ``judge_unparsed``.
        temperature: sampling temperature (0 = greedy).
        timeout_s: per-request timeout (seconds).
        max_retries: retries of a failed request (exponential backoff from 0.5 s) before ``judge_error``.
        max_concurrency: requests in flight at once.
    """

    model_config = ConfigDict(extra="forbid")
    endpoint: str
    model: str
    api_key_env: str | None
    max_tokens: int = Field(gt=0)
    temperature: float = Field(ge=0)
    timeout_s: float = Field(gt=0)
    max_retries: int = Field(ge=0)
    max_concurrency: int = Field(gt=0)


class Config(BaseModel):
    """``kind: vrm_data`` settings.

    Attributes:
        input: sample rows (JSONL) of ``generate``: the candidate answers to label.
        mode: :func:`medreasoner.verify.grade` mode of verifier labels.
        label_source: ``verifier`` (verifiable items only; others dropped ``unverifiable``),
            ``judge`` (every sample), ``verifier_then_judge`` (verifier where the item has one).
        judge: the judge endpoint; may be null only when ``label_source`` is ``verifier``.
        prompt_field: the sample column holding the dialogue: ``train_prompt`` (the question as the
            GRPO rows of ``select_rl`` ask it, which is what the VRM reward will see) or ``prompt``
            (the messages the generator answered).
        keep_analysis: put the judge's analysis (CoT removed) before the box, as WiNGPT-3.0's
            targets are the judge's outputs; false: the box alone.
        max_positive_fraction: largest share of label-1 rows; surplus positives, picked at random,
            are dropped (``class_balance``); null keeps all.
        seed: seed of that pick; null: the recipe's (or ``--seed``'s) seed.
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    mode: Literal["normalized", "official"]
    label_source: Literal["verifier", "judge", "verifier_then_judge"]
    judge: JudgeEndpoint | None
    prompt_field: Literal["train_prompt", "prompt"]
    keep_analysis: bool
    max_positive_fraction: float | None = Field(gt=0, le=1)
    seed: int | None

    @model_validator(mode="after")
    def _check(self) -> "Config":
        if self.label_source != "verifier" and self.judge is None:
            raise ValueError(f"label_source {self.label_source!r} needs a judge: endpoint")
        return self


def _target(label: int, judge_output: str | None, keep_analysis: bool) -> str:
    """The assistant turn: the box, after the judge's analysis when kept."""
    box = f"\\boxed{{{label}}}"
    if not keep_analysis or judge_output is None:
        return box
    answer = strip_think(judge_output)
    analysis = answer[: answer.rfind("\\boxed")].strip()
    return f"{analysis}\n{box}" if analysis else box


def _ask_judge(config: Config, prompts: list[str]) -> tuple[dict[str, str | None], str | None]:
    """Judge output per distinct prompt (None: the request kept failing), and the batch's error if all failed."""
    judge = config.judge
    unique = list(dict.fromkeys(prompts))
    try:
        outputs = endpoint_generate(
            unique, endpoint=judge.endpoint, model=judge.model, api_key_env=judge.api_key_env,
            max_tokens=judge.max_tokens, temperature=judge.temperature, timeout_s=judge.timeout_s,
            max_retries=judge.max_retries, max_concurrency=judge.max_concurrency,
        )
    except RuntimeError as error:  # every request failed: each row records it as judge_error
        return dict.fromkeys(unique), str(error)
    return dict(zip(unique, outputs)), None


def _balance(config: Config, rows: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Drop random surplus positives so that they are at most ``max_positive_fraction`` of the rows."""
    fraction = config.max_positive_fraction
    positives = [i for i, row in enumerate(rows) if row["label"] == 1]
    if fraction is None or fraction == 1:
        return rows, []
    negatives = len(rows) - len(positives)
    allowed = int(fraction * negatives / (1 - fraction) + 1e-9)  # p / (p + n) <= f  <=>  p <= f n / (1 - f)
    surplus = set(random.Random(seed).sample(positives, max(0, len(positives) - allowed)))
    dropped = [drop(rows[i], "class_balance", f"positives capped at {allowed} ({fraction:g} of the rows)")
               for i in sorted(surplus)]
    return [row for i, row in enumerate(rows) if i not in surplus], dropped


def run(config: Config, ctx: StageContext) -> dict:
    """Label every sample and write the VRM conversations (see the module docstring).

    Returns:
        Funnel metrics: ``in`` (samples), ``out`` (conversations), ``dropped/<reason>``.
    """
    path = Path(config.input)
    samples = read_checked_samples(path, messages=(config.prompt_field,), texts=("response",))
    if config.judge is not None and config.judge.api_key_env is not None:
        try:
            api_key(config.judge.api_key_env)
        except ValueError as error:
            raise InputError(f"<{STEP} config>", str(error), field="judge.api_key_env") from None
    pending, dropped = [], []  # pending: (row, judge prompt, label or None, label source)
    for _, row in samples:
        reference = strip_think(row.get("reference") or "").strip()
        if not reference:
            dropped.append(drop(row, "no_reference"))
            continue
        candidate = strip_think(row["response"]).strip()
        prompt = build_judge_prompt(row[config.prompt_field], candidate, reference)
        item = pool_item(row)
        if not candidate:
            pending.append((row, prompt, 0, "empty_answer"))
        elif item is not None and config.label_source != "judge":
            pending.append((row, prompt, int(grade(row["response"], item, config.mode).correct), "verifier"))
        elif config.label_source == "verifier":
            dropped.append(drop(row, "unverifiable", "label_source is verifier"))
        else:
            pending.append((row, prompt, None, "judge"))
    to_judge = [prompt for _, prompt, label, _ in pending if label is None]
    outputs, batch_error = _ask_judge(config, to_judge) if to_judge else ({}, None)
    labelled = []
    for row, prompt, label, source in pending:
        output = outputs.get(prompt) if label is None else None
        if label is None:
            verdict = None if output is None else read_verdict(output)
            if output is None:
                dropped.append(drop(row, "judge_error", batch_error or "the request kept failing"))
                continue
            if verdict is None:
                dropped.append(drop(row, "judge_unparsed", output[-200:]))
                continue
            label = int(verdict)
        assistant = _target(label, output, config.keep_analysis)
        labelled.append({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": assistant}],
                         "id": row["id"], "sample": row["sample"], "label": label, "label_source": source})
    kept, balanced_out = _balance(config, labelled, ctx.seed if config.seed is None else config.seed)
    sources = Counter(row["label_source"] for row in kept)
    details = {"labels": dict(Counter(str(row["label"]) for row in kept)), "label_sources": dict(sources),
               "judge_requests": len(set(to_judge))}
    return write_step(ctx.out_dir, STEP, rows_in=len(samples), kept=kept, dropped=dropped + balanced_out,
                      input_path=path, details=details)
