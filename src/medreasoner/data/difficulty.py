"""Data step ``difficulty``: grade every question Basic, Intermediate or Advanced (WiNGPT-3.0 Section 4.1).

WiNGPT-3.0 sorts its pool into three difficulty classes with stated rubric definitions but does not
say how the classes are assigned (PAPERS.md 1.2 item 5; 4 item 13). Two methods are offered:

- ``pass_rate``: the empirical pass rate p = n_correct / n_samples of the N rollouts of each
  question (the ``generate`` step's rows, graded by :func:`medreasoner.verify.grade`); p at or
  above ``basic_min`` is Basic, at or above ``intermediate_min`` Intermediate, else Advanced. The
  thresholds are ASSUMED (e.g. 0.75 / 0.25); the paper gives none. An unverifiable question has no
  pass rate: it is dropped (reason ``unverifiable``) or given ``unverifiable_class``.
- ``judge``: an LLM behind an OpenAI-compatible endpoint reads the question with the paper's three
  rubric definitions (paraphrased in ``prompts/difficulty_judge.txt``) and answers with one label in
  ``\\boxed{}``. An unreadable verdict is dropped as ``judge_unparsed``, a failed request as
  ``judge_error``. Input: pool rows.

Output: one row per question id: the pool columns (the generated-sample columns removed), plus
``difficulty``, ``difficulty_method`` and the evidence (``pass_rate``, ``n_samples``, ``n_correct``;
or ``judge_output``). Example recipe section::

    - name: difficulty
      kind: difficulty
      config:
        input: ${rollouts}/data.jsonl
        method: pass_rate
        pass_rate: {mode: normalized, basic_min: 0.75, intermediate_min: 0.25, unverifiable_class: null}
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medreasoner.data.samples import SAMPLE_FIELDS, read_samples
from medreasoner.data.funnel import drop, write_step
from medreasoner.data.pool import pool_item, read_pool
from medreasoner.errors import InputError
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext
from medreasoner.verify import grade
from medreasoner.verify.text import fold_width, last_boxed, strip_think

Label = Literal["Basic", "Intermediate", "Advanced"]
LABELS: tuple[str, ...] = Label.__args__
PROMPT_FILE = Path(__file__).parent / "prompts" / "difficulty_judge.txt"
# Columns of one question that must agree across its samples (else the pass rate mixes questions).
_QUESTION_FIELDS = ("question", "verifier", "gold", "options", "domain", "language")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")


class PassRateSection(BaseModel):
    """Difficulty from the pass rate of N graded rollouts per question.

    Attributes:
        mode: :func:`medreasoner.verify.grade` mode (``normalized`` or ``official``).
        basic_min: pass rate at or above which a question is Basic (assumed, e.g. 0.75).
        intermediate_min: pass rate at or above which a question is Intermediate (assumed, e.g. 0.25);
            below it, Advanced. At most ``basic_min``.
        unverifiable_class: the class given to questions without a verifier; None drops them
            (reason ``unverifiable``).
    """

    model_config = ConfigDict(extra="forbid")
    mode: Literal["normalized", "official"]
    basic_min: float = Field(gt=0, le=1)
    intermediate_min: float = Field(gt=0, le=1)
    unverifiable_class: Label | None

    @model_validator(mode="after")
    def _ordered(self) -> PassRateSection:
        if self.intermediate_min > self.basic_min:
            raise ValueError(f"intermediate_min ({self.intermediate_min}) exceeds basic_min ({self.basic_min})")
        return self


class JudgeSection(BaseModel):
    """Difficulty from an LLM judge over an OpenAI-compatible ``/chat/completions`` endpoint.

    Attributes:
        endpoint: base URL, e.g. ``http://localhost:8000/v1``.
        model: the ``model`` field of each request.
        api_key_env: environment variable holding the API key; None sends none.
        prompt_file: judge prompt template with ``{question}`` and ``{reference}`` placeholders;
            None = the packaged ``prompts/difficulty_judge.txt``.
        show_reference: put the row's reference answer (when it has one) into ``{reference}``.
        max_tokens: judge output budget (tokens).
        temperature: judge sampling temperature (0 = greedy).
        timeout_s: per-request timeout (seconds).
        max_retries: retries of a failed request before the row is dropped as ``judge_error``.
        max_concurrency: requests in flight at once.
    """

    model_config = ConfigDict(extra="forbid")
    endpoint: str
    model: str
    api_key_env: str | None
    prompt_file: InputPath | None
    show_reference: bool
    max_tokens: int = Field(gt=0)
    temperature: float = Field(ge=0)
    timeout_s: float = Field(gt=0)
    max_retries: int = Field(ge=0)
    max_concurrency: int = Field(gt=0)


class Config(BaseModel):
    """``kind: difficulty`` configuration.

    Attributes:
        input: sample rows (``pass_rate``) or pool rows (``judge``), JSONL.
        method: ``pass_rate`` or ``judge``; its section must be set, the other left out.
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    method: Literal["pass_rate", "judge"]
    pass_rate: PassRateSection | None = None
    judge: JudgeSection | None = None

    @model_validator(mode="after")
    def _one_section(self) -> Config:
        other = "judge" if self.method == "pass_rate" else "pass_rate"
        if getattr(self, self.method) is None:
            raise ValueError(f"method {self.method!r} needs a {self.method!r} section")
        if getattr(self, other) is not None:
            raise ValueError(f"section {other!r} is set but method is {self.method!r}")
        return self


def classify(pass_rate: float, section: PassRateSection) -> str:
    """The class of a question from its pass rate in [0, 1] (higher pass rate = easier)."""
    if pass_rate >= section.basic_min:
        return "Basic"
    if pass_rate >= section.intermediate_min:
        return "Intermediate"
    return "Advanced"


def _by_pass_rate(path: Path, section: PassRateSection) -> tuple[int, list[dict], list[dict]]:
    samples = read_samples(path)
    groups: dict[str, list[tuple[int, dict]]] = {}
    for line, row in samples:
        first = groups.setdefault(row["id"], [(line, row)])[0]
        if first[1] is not row:
            groups[row["id"]].append((line, row))
            for field in _QUESTION_FIELDS:
                if row.get(field) != first[1].get(field):
                    raise InputError(path, f"differs from the first sample of id {row['id']!r} (line {first[0]})",
                                     line=line, field=field)
    kept, dropped = [], []
    for group in groups.values():
        first = group[0][1]
        question = {key: value for key, value in first.items() if key not in SAMPLE_FIELDS}
        item = pool_item(first)
        if item is None:
            if section.unverifiable_class is None:
                dropped.append(drop(question, "unverifiable", "no verifier: the pass rate is undefined"))
            else:
                kept.append({**question, "difficulty": section.unverifiable_class, "difficulty_method": "default",
                             "pass_rate": None, "n_samples": len(group), "n_correct": None})
            continue
        n_correct = sum(grade(row["response"], item, section.mode).correct for _, row in group)
        rate = n_correct / len(group)
        kept.append({**question, "difficulty": classify(rate, section), "difficulty_method": "pass_rate",
                     "pass_rate": rate, "n_samples": len(group), "n_correct": n_correct})
    return len(groups), kept, dropped


def parse_label(output: str) -> str | None:
    """The class a judge output names in its last ``\\boxed{}`` (after any ``<think>`` block), or None.

    >>> parse_label(r"Several steps and a formula. \\boxed{\\text{intermediate}}")
    'Intermediate'
    >>> parse_label("Hard to say.") is None
    True
    """
    boxed = last_boxed(fold_width(strip_think(output)))
    if boxed is None:
        return None
    word = _LATEX_COMMAND.sub("", boxed).strip(" {}*.\t\n").casefold()  # \text{Basic} -> basic
    return next((label for label in LABELS if label.casefold() == word), None)


def judge_prompt(template: str, row: dict, show_reference: bool) -> str:
    """The judge's user message for one pool row (placeholders replaced literally, so braces in the
    question are safe)."""
    reference = row.get("reference") if show_reference else None
    block = f"\nReference answer:\n{reference}\n" if reference else ""
    return template.replace("{question}", row["question"]).replace("{reference}", block)


def _load_template(section: JudgeSection) -> str:
    path = Path(section.prompt_file) if section.prompt_file is not None else PROMPT_FILE
    try:
        template = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, f"cannot read the judge prompt: {error}", field="judge.prompt_file") from None
    if "{question}" not in template:
        raise InputError(path, "the judge prompt has no {question} placeholder", field="judge.prompt_file")
    return template


def _by_judge(path: Path, section: JudgeSection) -> tuple[int, list[dict], list[dict]]:
    from medreasoner.rewards.judges import endpoint_generate

    template = _load_template(section)
    if section.api_key_env is not None and not os.environ.get(section.api_key_env):
        raise InputError("<difficulty config>", f"environment variable {section.api_key_env!r} is not set",
                         field="judge.api_key_env")
    rows = read_pool(path)
    prompts = [judge_prompt(template, row, section.show_reference) for row in rows]
    try:
        outputs = endpoint_generate(
            prompts, endpoint=section.endpoint, model=section.model, api_key_env=section.api_key_env,
            max_tokens=section.max_tokens, temperature=section.temperature, timeout_s=section.timeout_s,
            max_retries=section.max_retries, max_concurrency=section.max_concurrency,
        )
        failure = "the request failed after all retries"
    except RuntimeError as error:  # every request failed: record each row, the step then reports the total
        outputs, failure = [None] * len(rows), str(error)
    kept, dropped = [], []
    for row, output in zip(rows, outputs):
        if output is None:
            dropped.append(drop(row, "judge_error", failure))
            continue
        label = parse_label(output)
        if label is None:
            dropped.append(drop(row, "judge_unparsed", output[-300:]))
            continue
        kept.append({**row, "difficulty": label, "difficulty_method": "judge", "judge_output": output})
    return len(rows), kept, dropped


def run(config: Config, ctx: StageContext) -> dict:
    """Grade every question; write one row per kept question, the dropped ones, and the funnel.

    Returns:
        ``{"in", "out", "dropped/<reason>": n, "class/<label>": n}``; ``in`` counts questions.
    """
    path = Path(config.input)
    if config.method == "pass_rate":
        rows_in, kept, dropped = _by_pass_rate(path, config.pass_rate)
        settings = config.pass_rate.model_dump()
    else:
        rows_in, kept, dropped = _by_judge(path, config.judge)
        settings = {"endpoint": config.judge.endpoint, "model": config.judge.model}
    classes = Counter(row["difficulty"] for row in kept)
    details = {"method": config.method, "settings": settings, "classes": {label: classes[label] for label in LABELS}}
    metrics = write_step(ctx.out_dir, "difficulty", rows_in=rows_in, kept=kept, dropped=dropped,
                         input_path=path, details=details)
    metrics.update({f"class/{label}": classes[label] for label in LABELS})
    ctx.log(metrics, 0)
    return metrics
