"""Data step ``sample``: draw the SFT mix from verified responses (WiNGPT-3.0 Section 4.1, "Ratio Sampling").

WiNGPT-3.0 samples its ~1.4M SFT rows "with higher ratios for harder samples", balanced across
languages and task categories, to a domain mix of general 50% / math 18% / code 14% / medical 18%
(PAPERS.md 1.2 items 6-7; 4 item 14). Here:

1. Every row gets a difficulty: from ``difficulty_file`` (the ``difficulty`` step's output, joined
   by id), else from its own ``difficulty`` column, else ``default_difficulty``.
2. The target count of every (domain, language) cell is ``size * domain_mix[d] * language_mix[l]``
   (the two mixes are taken as independent, an assumption), rounded by largest remainder so the
   targets sum to ``size``. A null mix puts all domains (languages) in one cell.
3. Within a cell rows are drawn without replacement with probability proportional to
   ``difficulty_weights[difficulty]`` (Efraimidis & Spirakis 2006, "Weighted random sampling with a
   reservoir", Inf. Process. Lett. 97(5): key = log(u) / w, the largest keys win), at most
   ``max_per_question`` distinct responses per question id.
4. A cell with fewer rows than its target gives all it has: the shortfall is reported in the funnel
   next to the target and actual mix, never made up from other cells.

Dropped rows: ``outside_mix`` (domain or language not in a mix), ``duplicate_response`` (same id and
response text as a kept one), ``over_cap`` (would be drawn, but its question has its quota),
``not_sampled``. Output: SFT rows ``{"messages": train_prompt + [assistant], "id", "sample",
"domain", "language", "difficulty", "source"}``. Example recipe section (weights assumed)::

    - name: sft_mix
      kind: sample
      config:
        input: ${filter}/data.jsonl
        difficulty_file: ${difficulty}/data.jsonl
        size: 1400000
        difficulty_weights: {Basic: 1.0, Intermediate: 2.0, Advanced: 3.0}
        default_difficulty: Intermediate
        domain_mix: {general: 0.50, math: 0.18, code: 0.14, medical: 0.18}   # paper-stated
        language_mix: null
        max_per_question: 1
        seed: 0
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medreasoner.data.difficulty import LABELS, Label
from medreasoner.data.samples import read_samples, require_field, require_messages
from medreasoner.data.funnel import drop, write_step
from medreasoner.data.pool import check_row
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext

ALL = "*"  # the one cell key of a dimension without a target mix
_MIX_TOLERANCE = 1e-6


class Config(BaseModel):
    """``kind: sample`` configuration.

    Attributes:
        input: sample rows that passed ``filter`` (JSONL; several responses per id allowed).
        difficulty_file: the ``difficulty`` step's ``data.jsonl`` (joined by id; it wins over a
            row's own ``difficulty`` column); None = use the rows' column.
        size: target number of output rows.
        difficulty_weights: relative sampling weight of a row per difficulty class (> 0; all three classes).
        default_difficulty: the class of a row with no difficulty from the file or its column.
        domain_mix: target fraction per domain (summing to 1); None = no domain target.
        language_mix: target fraction per language (summing to 1); None = no language target.
        max_per_question: most distinct responses kept per question id.
        seed: seed of the draw (same seed and input, same output).
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    difficulty_file: InputPath | None
    size: int = Field(gt=0)
    difficulty_weights: dict[Label, float]
    default_difficulty: Label
    domain_mix: dict[str, float] | None
    language_mix: dict[str, float] | None
    max_per_question: int = Field(gt=0)
    seed: int

    @field_validator("difficulty_weights")
    @classmethod
    def _all_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        missing = [label for label in LABELS if label not in weights]
        if missing:
            raise ValueError(f"needs a weight for every class; missing {missing}")
        if any(not math.isfinite(w) or w <= 0 for w in weights.values()):
            raise ValueError(f"weights must be finite and > 0, got {weights}")
        return weights

    @field_validator("domain_mix", "language_mix")
    @classmethod
    def _fractions(cls, mix: dict[str, float] | None) -> dict[str, float] | None:
        if mix is None:
            return None
        if not mix or any(not math.isfinite(f) or f < 0 for f in mix.values()):
            raise ValueError(f"expected a non-empty mapping of fractions >= 0, got {mix}")
        if abs(sum(mix.values()) - 1.0) > _MIX_TOLERANCE:
            raise ValueError(f"fractions must sum to 1, got {sum(mix.values()):.6g}")
        return mix


def allocate(size: int, fractions: dict[tuple, float]) -> dict[tuple, int]:
    """Integer targets summing to ``size``, proportional to ``fractions`` (largest-remainder method;
    ties go to the earlier key).

    >>> allocate(10, {("a",): 0.55, ("b",): 0.45})
    {('a',): 6, ('b',): 4}
    """
    exact = {key: size * fraction for key, fraction in fractions.items()}
    counts = {key: math.floor(value) for key, value in exact.items()}
    order = sorted(exact, key=lambda key: -(exact[key] - counts[key]))  # stable: earlier key first on ties
    for key in order[: size - sum(counts.values())]:
        counts[key] += 1
    return counts


def _cell_fractions(config: Config) -> dict[tuple, float]:
    domains = config.domain_mix or {ALL: 1.0}
    languages = config.language_mix or {ALL: 1.0}
    return {(d, l): fd * fl for d, fd in domains.items() for l, fl in languages.items()}


def _read_difficulties(path: Path) -> dict[str, str]:
    """id -> class from the ``difficulty`` step's output (pool rows, one per id, with ``difficulty``)."""
    out: dict[str, str] = {}
    for line, row in read_jsonl(path):
        check_row(path, line, row)
        if row.get("difficulty") not in LABELS:
            raise InputError(path, f"expected one of {list(LABELS)}", line=line, field="difficulty")
        if row["id"] in out:
            raise InputError(path, f"id {row['id']!r} is graded twice", line=line, field="id")
        out[row["id"]] = row["difficulty"]
    return out


def _read_rows(path: Path) -> list[dict]:
    samples = read_samples(path)
    for line, row in samples:
        require_messages(path, line, row, "train_prompt")
        require_field(path, line, row, "content", (str,), "the answer text (a string)")
        if row.get("reasoning_content") is not None:
            require_field(path, line, row, "reasoning_content", (str,), "the reasoning text (a string or null)")
        if row.get("difficulty") is not None and row["difficulty"] not in LABELS:
            raise InputError(path, f"expected one of {list(LABELS)} or null", line=line, field="difficulty")
    return [row for _, row in samples]


def sft_row(row: dict, difficulty: str) -> dict:
    """The SFT training row of one sample row: its answer-mode prompt and the response as the
    assistant turn (reasoning in ``reasoning_content`` when there is any)."""
    assistant = {"role": "assistant", "content": row["content"]}
    if row.get("reasoning_content"):
        assistant["reasoning_content"] = row["reasoning_content"]
    return {"messages": [dict(m) for m in row["train_prompt"]] + [assistant], "id": row["id"],
            "sample": row["sample"], "domain": row["domain"], "language": row["language"],
            "difficulty": difficulty, "source": row["source"]}


def _mix_report(counts: Counter, target: dict[str, int], total: int) -> dict:
    return {key: {"target": target[key], "actual": counts[key],
                  "target_fraction": target[key] / total if total else 0.0,
                  "actual_fraction": counts[key] / max(1, sum(counts.values()))} for key in target}


def run(config: Config, ctx: StageContext) -> dict:
    """Draw the mix; write the SFT rows, the rows not chosen (with reasons) and the funnel.

    Returns:
        ``{"in", "out", "dropped/<reason>": n, "target": size, "shortfall": n}``.
    """
    path = Path(config.input)
    file_classes = _read_difficulties(Path(config.difficulty_file)) if config.difficulty_file else {}
    rows = _read_rows(path)
    rng = random.Random(config.seed)
    keys = [math.log(1.0 - rng.random()) for _ in rows]  # one uniform per row in input order; log(u), u in (0, 1]
    difficulty, source_counts = [], Counter()
    for row in rows:
        where = "file" if row["id"] in file_classes else "row" if row.get("difficulty") in LABELS else "default"
        source_counts[where] += 1
        difficulty.append(file_classes.get(row["id"]) or row.get("difficulty") or config.default_difficulty)

    targets = allocate(config.size, _cell_fractions(config))
    cells: dict[tuple, list[int]] = defaultdict(list)
    dropped: list[dict] = []
    for index, row in enumerate(rows):
        cell = (row["domain"] if config.domain_mix else ALL, row["language"] if config.language_mix else ALL)
        if cell in targets:
            cells[cell].append(index)
        else:
            dropped.append(drop(row, "outside_mix", f"domain {row['domain']!r}, language {row['language']!r} have no target"))

    chosen: set[int] = set()
    taken_per_id: Counter = Counter()
    seen_responses: set[tuple[str, str]] = set()
    for cell, target in targets.items():
        order = sorted(cells[cell], key=lambda i: -keys[i] / config.difficulty_weights[difficulty[i]])
        taken = 0
        for index in order:
            row = rows[index]
            if (row["id"], row["response"]) in seen_responses:
                dropped.append(drop(row, "duplicate_response", "same id and response as a row drawn before"))
            elif taken >= target:
                dropped.append(drop(row, "not_sampled", f"cell {cell} reached its target of {target}"))
            elif taken_per_id[row["id"]] >= config.max_per_question:
                dropped.append(drop(row, "over_cap", f"id already has {config.max_per_question} response(s)"))
            else:
                chosen.add(index)
                taken += 1
                taken_per_id[row["id"]] += 1
                seen_responses.add((row["id"], row["response"]))

    kept = [sft_row(rows[i], difficulty[i]) for i in sorted(chosen)]  # input order: readable and stable
    details = _details(config, targets, kept, source_counts)
    metrics = write_step(ctx.out_dir, "sample", rows_in=len(rows), kept=kept, dropped=dropped,
                         input_path=path, details=details)
    metrics.update({"target": config.size, "shortfall": details["shortfall_total"]})
    ctx.log(metrics, 0)
    return metrics


def _details(config: Config, targets: dict[tuple, int], kept: list[dict], source_counts: Counter) -> dict:
    """Target next to actual per domain, language and cell; shortfalls; the drawn difficulty mix."""
    by_domain, by_language = Counter(), Counter()
    cell_counts = Counter()
    for row in kept:
        cell = (row["domain"] if config.domain_mix else ALL, row["language"] if config.language_mix else ALL)
        cell_counts[cell] += 1
        by_domain[row["domain"]] += 1
        by_language[row["language"]] += 1
    domain_target, language_target = Counter(), Counter()
    for (domain, language), target in targets.items():
        domain_target[domain] += target
        language_target[language] += target
    shortfall = {f"{d}/{l}": targets[(d, l)] - cell_counts[(d, l)] for d, l in targets
                 if cell_counts[(d, l)] < targets[(d, l)]}
    return {
        "size": config.size,
        "seed": config.seed,
        "domain": _mix_report(by_domain, dict(domain_target), config.size) if config.domain_mix else dict(by_domain),
        "language": (_mix_report(by_language, dict(language_target), config.size) if config.language_mix
                     else dict(by_language)),
        "shortfall": shortfall,
        "shortfall_total": sum(shortfall.values()),
        "difficulty": {label: sum(row["difficulty"] == label for row in kept) for label in LABELS},
        "difficulty_weights": config.difficulty_weights,
        "difficulty_from": dict(source_counts),
    }
