"""Data step ``filter``: keep only the sampled responses worth training on (WiNGPT-3.0 Section 4.1).

WiNGPT-3.0 filters its distilled long-CoT candidates by n-gram repetitiveness and ``<think>`` format
errors, keeps verifiable answers only when correct, and selects unverifiable ones by the score of
its reward model (PAPERS.md 1.2 item 4; 4 items 8, 10, 11, 12). Here each of those is a check; the
recipe lists the checks to run, in order, and configures each in its own section. A row is dropped
by the FIRST check it fails, whose reason (``think_format:<what>``, ``repetition``, ``truncated``,
``too_short``, ``too_long``, ``wrong_answer``, ``low_reward``) and measured value go to
``dropped.jsonl``. Kept rows are written unchanged (all columns).

Example recipe section (the thresholds are assumed: the paper states none)::

    - name: filter
      kind: filter
      config:
        input: ${generate}/data.jsonl
        checks: [think_format, repetition, length, verified, reward_model]
        think_format: {require_think: true}
        repetition: {n: 4, threshold: 0.3}
        length: {unit: chars, min_length: 1, max_length: null, drop_truncated: true}
        verified: {mode: normalized}
        reward_model: {model_path: ${rm}, threshold: 0.0, batch_size: 8, device: cpu, dtype: float32,
                       max_length: 2048, strip_reasoning: false, prompt_column: train_prompt}

Checks are applied one after another to the rows still alive, so the expensive reward model only
scores rows that passed every cheaper check listed before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medreasoner.data.funnel import drop, write_step
from medreasoner.data.pool import pool_item
from medreasoner.data.samples import read_samples, require_field, require_messages
from medreasoner.recipe_inputs import InputPath
from medreasoner.rewards.reward_model import Device, DType
from medreasoner.stages.context import StageContext
from medreasoner.verify import grade
from medreasoner.verify.text import THINK_CLOSE, THINK_OPEN

CheckName = Literal["think_format", "repetition", "length", "verified", "reward_model"]

class ThinkFormatCheck(BaseModel):
    """``<think>`` format (PAPERS.md 4 item 10).

    Attributes:
        require_think: True drops a response with no ``<think>`` block at all; False lets such a
            response through (its answer must still be non-empty). A malformed block is dropped either way.
    """

    model_config = ConfigDict(extra="forbid")
    require_think: bool


class RepetitionCheck(BaseModel):
    """N-gram repetitiveness (PAPERS.md 4 item 8).

    Attributes:
        n: n-gram length in tokens (words; single characters in Chinese/Japanese text).
        threshold: drop when the fraction of repeated n-grams is ABOVE this, in [0, 1].
    """

    model_config = ConfigDict(extra="forbid")
    n: int = Field(gt=0)
    threshold: float = Field(ge=0, le=1)


class LengthCheck(BaseModel):
    """Length bounds of the whole response.

    Attributes:
        unit: ``chars`` (characters of ``response``) or ``tokens`` (the row's ``completion_tokens``).
        min_length: drop below this many units (``too_short``).
        max_length: drop above this many units (``too_long``); None = no upper bound.
        drop_truncated: drop rows whose generation hit the token cap (``finish_reason == "length"``).
    """

    model_config = ConfigDict(extra="forbid")
    unit: Literal["chars", "tokens"]
    min_length: int = Field(ge=0)
    max_length: int | None = Field(gt=0)
    drop_truncated: bool

    @model_validator(mode="after")
    def _ordered(self) -> LengthCheck:
        if self.max_length is not None and self.max_length < self.min_length:
            raise ValueError(f"max_length ({self.max_length}) is below min_length ({self.min_length})")
        return self


class VerifiedCheck(BaseModel):
    """Verified answers for verifiable rows (PAPERS.md 4 item 11); unverifiable rows pass.

    Attributes:
        mode: :func:`medreasoner.verify.grade` mode, ``normalized`` (free-form) or ``official``.
    """

    model_config = ConfigDict(extra="forbid")
    mode: Literal["normalized", "official"]


class RewardModelCheck(BaseModel):
    """Reward-model score threshold for unverifiable rows (PAPERS.md 4 item 12); verifiable rows pass.

    Attributes:
        model_path: local directory of the ``reward_model`` stage's checkpoint.
        threshold: keep rows whose raw RM logit is >= this.
        batch_size: texts per forward pass.
        device: ``cpu`` or ``cuda``.
        dtype: weights dtype.
        max_length: tokens per scored text (longer texts lose their start).
        strip_reasoning: score the answer without its ``<think>`` block (True) or the whole response.
        prompt_column: the conversation the RM sees before the response: ``train_prompt`` (the
            question as training will ask it) or ``prompt`` (what the generator was sent).
    """

    model_config = ConfigDict(extra="forbid")
    model_path: InputPath
    threshold: float
    batch_size: int = Field(gt=0)
    device: Device
    dtype: DType
    max_length: int = Field(gt=0)
    strip_reasoning: bool
    prompt_column: Literal["train_prompt", "prompt"]


class Config(BaseModel):
    """``kind: filter`` configuration.

    Attributes:
        input: sample rows (JSONL, the ``generate`` step's ``data.jsonl``).
        checks: the checks to run, in order; each one named here needs its section below, and a
            section not named here must be left out (or null).
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    checks: list[CheckName] = Field(min_length=1)
    think_format: ThinkFormatCheck | None = None
    repetition: RepetitionCheck | None = None
    length: LengthCheck | None = None
    verified: VerifiedCheck | None = None
    reward_model: RewardModelCheck | None = None

    @model_validator(mode="after")
    def _sections_match_checks(self) -> Config:
        if len(set(self.checks)) != len(self.checks):
            raise ValueError(f"checks lists a check twice: {self.checks}")
        for name in CheckName.__args__:
            if name in self.checks and getattr(self, name) is None:
                raise ValueError(f"check {name!r} is listed in checks but has no {name!r} section")
            if name not in self.checks and getattr(self, name) is not None:
                raise ValueError(f"section {name!r} is set but {name!r} is not listed in checks")
        return self


# ---- reading sample rows (shared with the difficulty and sample steps) ----


def _check_columns(path: Path, samples: list[tuple[int, dict]], config: Config) -> None:
    # Every column an enabled check reads is checked before any work, so a bad row fails fast.
    for line, row in samples:
        if config.length is not None and config.length.drop_truncated:
            require_field(path, line, row, "finish_reason", (str,), 'the finish reason ("stop" or "length")')
        if config.length is not None and config.length.unit == "tokens":
            require_field(path, line, row, "completion_tokens", (int,), "the completion's token count (an integer)")
        if config.reward_model is not None and pool_item(row) is None:
            require_messages(path, line, row, config.reward_model.prompt_column)


# ---- the checks: each maps one row to None (pass) or (reason, detail) ----


def think_problem(response: str, require_think: bool) -> str | None:
    """What is wrong with a response's ``<think>`` block, or None when it is well-formed.

    Well-formed: the text starts (after whitespace) with one ``<think>``, has exactly one
    ``</think>`` after it and no other think tag, non-empty reasoning inside and a non-empty answer
    after. Without any tag the response passes when ``require_think`` is False and its text is non-empty.

    >>> think_problem("<think>\\nr\\n</think>\\n\\nB", True) is None
    True
    >>> think_problem("<think>a<think>b</think>c</think>B", True)
    'extra_tags'
    """
    opens, closes = response.count(THINK_OPEN), response.count(THINK_CLOSE)
    if opens == 0 and closes == 0:
        if require_think:
            return "missing"
        return None if response.strip() else "empty_answer"
    if opens > 1 or closes > 1:
        return "extra_tags"
    if closes == 0:
        return "unclosed"
    if opens == 0:
        return "no_open_tag"
    if not response.lstrip().startswith(THINK_OPEN):
        return "not_at_start"
    # One tag of each and the open one first, so the close tag comes after it.
    start, end = response.index(THINK_OPEN) + len(THINK_OPEN), response.index(THINK_CLOSE)
    if not response[start:end].strip():
        return "empty_reasoning"
    if not response[end + len(THINK_CLOSE):].strip():
        return "empty_answer"
    return None


# Han ideographs (CJK Unified + Extension A + Compatibility), hiragana, katakana, half-width katakana:
# scripts written without spaces, where each character is one token.
_NO_SPACE_SCRIPT = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_TOKEN = re.compile(rf"[{_NO_SPACE_SCRIPT}]|[^\W{_NO_SPACE_SCRIPT}]+")


def text_tokens(text: str) -> list[str]:
    """Case-folded tokens: words, plus single characters of Chinese/Japanese (no spaces to split on).

    >>> text_tokens("Fever 3 days, 発熱あり")
    ['fever', '3', 'days', '発', '熱', 'あ', 'り']
    """
    return _TOKEN.findall(text.casefold())


def repetition_fraction(text: str, n: int) -> float:
    """Fraction of a text's token n-grams that repeat an earlier n-gram: ``1 - distinct / total``.

    0.0 for text without repetition (or shorter than ``n`` tokens); it approaches 1.0 for a
    response looping on one phrase. A duplicate-n-gram statistic in the spirit of the repetition
    filters of Rae et al. 2021 (Gopher, "MassiveText" quality filters), counted over n-gram
    occurrences instead of characters.

    >>> repetition_fraction("a b c a b c", 3)
    0.25
    """
    tokens = text_tokens(text)
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


Verdict = tuple[str, str] | None


def _think_format(section: ThinkFormatCheck) -> Callable[[dict], Verdict]:
    def check(row: dict) -> Verdict:
        problem = think_problem(row["response"], section.require_think)
        return None if problem is None else (f"think_format:{problem}", None)
    return check


def _repetition(section: RepetitionCheck) -> Callable[[dict], Verdict]:
    def check(row: dict) -> Verdict:
        # Reasoning and answer together: the tags themselves are not text.
        text = row["response"].replace(THINK_OPEN, " ").replace(THINK_CLOSE, " ")
        fraction = repetition_fraction(text, section.n)
        if fraction > section.threshold:
            return "repetition", f"{fraction:.4f} of {section.n}-grams repeated (threshold {section.threshold})"
        return None
    return check


def _length(section: LengthCheck) -> Callable[[dict], Verdict]:
    def check(row: dict) -> Verdict:
        if section.drop_truncated and row["finish_reason"] == "length":
            return "truncated", "finish_reason is 'length' (generation hit its token cap)"
        size = len(row["response"]) if section.unit == "chars" else row["completion_tokens"]
        if size < section.min_length:
            return "too_short", f"{size} {section.unit} < {section.min_length}"
        if section.max_length is not None and size > section.max_length:
            return "too_long", f"{size} {section.unit} > {section.max_length}"
        return None
    return check


def _verified(section: VerifiedCheck) -> Callable[[dict], Verdict]:
    def check(row: dict) -> Verdict:
        item = pool_item(row)
        if item is None:
            return None
        result = grade(row["response"], item, section.mode)
        if result.correct:
            return None
        found = "no answer found" if result.extracted is None else f"answer {result.extracted!r}"
        return "wrong_answer", f"{found}; gold {item.gold!r}"
    return check


def _apply(rows: list[dict], check: Callable[[dict], Verdict]) -> tuple[list[dict], list[dict]]:
    kept, dropped = [], []
    for row in rows:
        verdict = check(row)
        if verdict is None:
            kept.append(row)
        else:
            dropped.append(drop(row, *verdict))
    return kept, dropped


def _reward_model(rows: list[dict], section: RewardModelCheck) -> tuple[list[dict], list[dict], dict]:
    """Score the unverifiable rows with the RM in batches; verifiable rows pass unscored."""
    from medreasoner.rewards.reward_model import reward_model_reward

    scored = [row for row in rows if pool_item(row) is None]
    scores = reward_model_reward(
        [row["response"] for row in scored], model_path=section.model_path, device=section.device,
        dtype=section.dtype, batch_size=section.batch_size, max_length=section.max_length,
        strip_reasoning=section.strip_reasoning, offset=0.0, scale=1.0,
        prompts=[row[section.prompt_column] for row in scored],
    ) if scored else []
    score_of = {id(row): score for row, score in zip(scored, scores)}  # rows are distinct objects
    kept, dropped = [], []
    for row in rows:
        score = score_of.get(id(row))
        if score is not None and score < section.threshold:
            dropped.append(drop(row, "low_reward", f"score {score:.4f} < {section.threshold}"))
        else:
            kept.append(row)
    figures = {"scored": len(scored), "not_scored_verifiable": len(rows) - len(scored),
               "threshold": section.threshold,
               "mean_score": sum(scores) / len(scores) if scores else None}
    return kept, dropped, figures


_ROW_CHECKS = {"think_format": _think_format, "repetition": _repetition, "length": _length, "verified": _verified}


def run(config: Config, ctx: StageContext) -> dict:
    """Apply the configured checks in order; write kept rows, dropped rows with reasons, and the funnel.

    Returns:
        ``{"in", "out", "dropped/<reason>": n}``; the funnel's ``details`` hold, per check, the rows
        it saw and dropped (and the RM's scored count and mean score).
    """
    path = Path(config.input)
    if config.reward_model is not None:
        from medreasoner.rewards.reward_model import check_local_dir

        check_local_dir(config.reward_model.model_path, "reward_model.model_path")
    samples = read_samples(path)
    _check_columns(path, samples, config)
    alive = [row for _, row in samples]
    dropped: list[dict] = []
    details: dict[str, dict] = {}
    for name in config.checks:
        section = getattr(config, name)
        seen = len(alive)
        if name == "reward_model":
            alive, rejected, figures = _reward_model(alive, section)
        else:
            alive, rejected = _apply(alive, _ROW_CHECKS[name](section))
            figures = {}
        if name == "verified":
            figures["passed_unverifiable"] = sum(pool_item(row) is None for row in alive)
        details[name] = {"checked": seen, "dropped": len(rejected), **figures}
        dropped.extend(rejected)
    metrics = write_step(ctx.out_dir, "filter", rows_in=len(samples), kept=alive, dropped=dropped,
                         input_path=path, details=details)
    ctx.log(metrics, 0)
    return metrics
