"""``select_rl``: RL candidates whose rollouts are neither all right nor all wrong, hardest first.

WiNGPT-3.0 (arXiv 2505.17387) sec. 4.1 and Fig. 1: the SFT model answers each candidate question N
times; a question every rollout solves teaches nothing, one no rollout solves gives no reward signal
(GRPO's group-normalised advantage is zero either way), so both are dropped; the rest are taken
"from lowest to highest number of correct answers" and capped per RL dataset (8.3K verifiable,
7K unverifiable/instruct, 1.5K clinical).

Input: sample rows of ``generate`` (pool rows plus ``sample``, ``train_prompt``, ``response``, ...),
several per ``id``. Each rollout is graded with :func:`medreasoner.verify.grade`, the rule the GRPO
reward and the evaluation use. One output row per kept item, in GRPO format with the same keys on
every row::

    {"prompt": train_prompt, "item": item_to_json(item), "id", "n_correct", "n_samples", "reference"}

``reference`` is the pool row's reference with its chain of thought removed (``""`` when none): the
VRM reward reads it, and the VRM is trained on references without CoT (``vrm_data``; WiNGPT-3.0
removes all CoT from VRM inputs).

Order: ascending ``n_correct``; ties in a seeded random order, drawn per item from (seed, id) so it
does not depend on the file order (not sorted by id: ids often encode the source, and a cap would
then cut one source first). Caps are applied in that order, per class.

Unverifiable items (``verifier`` null) have no rollout grade. ``unverifiable: drop`` drops them;
``unverifiable: score`` follows Fig. 1's instruct branch, where prompts the SFT model already scores
high on are dropped (the figure shows "Score 3.49 -> Drop", "Score 0.23 -> Save"; the threshold is
not stated): the mean of a per-rollout score column (e.g. a reward model's, added by ``filter``)
ranks them, lowest first, and ``max_score`` drops the rest. Their ``item`` is ``""`` and their
``n_correct`` null: only rewards that read ``reference`` (the VRM) can score them.

Assumed (not in the paper): N, the tie order, the class of a row without a class column, and
the unverifiable score rule above.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from medreasoner.benchmarks.item import item_to_json
from medreasoner.data.samples import read_samples, require_field, require_messages
from medreasoner.data.funnel import write_step
from medreasoner.data.pool import pool_item
from medreasoner.errors import InputError
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext
from medreasoner.verify import grade
from medreasoner.verify.text import strip_think

STEP = "select_rl"
# Columns every sample of one id must agree on: they describe the item, not the rollout.
ITEM_COLUMNS = ("question", "verifier", "gold", "options", "reference")


class Config(BaseModel):
    """``kind: select_rl`` settings.

    Attributes:
        input: sample rows (JSONL) of ``generate``: N rollouts per item.
        mode: :func:`medreasoner.verify.grade` mode of the rollout grades.
        min_samples: items with fewer rollouts are dropped (``too_few_samples``); with fewer than 2
            an item is always all-correct or none-correct.
        unverifiable: ``drop`` (reason ``unverifiable``) or ``score`` (see the module docstring).
        score_field: per-rollout numeric column read by ``unverifiable: score``.
        max_score: with ``unverifiable: score``, items whose mean score is above it are dropped
            (``high_score``); null keeps all of them.
        class_field: column naming the item's RL class (e.g. verifiable / unverifiable / clinical).
        default_class: class of a row without ``class_field``; null: ``verifiable`` when the row has
            a verifier, else ``unverifiable``.
        caps: class -> most items kept (WiNGPT-3.0: verifiable 8300, unverifiable 7000, clinical
            1500); null: no cap. When set, every class met must be listed.
        difficulty_field: column holding the item's difficulty (``difficulty`` step).
        difficulty_filter: keep only items whose difficulty is listed (WiNGPT-3.0: ``[Advanced]``);
            null keeps all.
        seed: seed of the tie order; null: the recipe's (or ``--seed``'s) seed.
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    mode: Literal["normalized", "official"]
    min_samples: int = Field(ge=1)
    unverifiable: Literal["drop", "score"]
    score_field: str
    max_score: float | None
    class_field: str
    default_class: str | None
    caps: dict[str, Annotated[int, Field(ge=0)]] | None
    difficulty_field: str
    difficulty_filter: list[str] | None
    seed: int | None


def read_checked_samples(path: str | Path, *, messages: tuple[str, ...],
                         texts: tuple[str, ...]) -> list[tuple[int, dict]]:
    """:func:`medreasoner.data.filter.read_samples` plus the columns a step reads; ``(line, row)`` in file order.

    Args:
        path: the JSONL file of ``generate`` sample rows.
        messages: columns that must hold chat messages (``prompt``, ``train_prompt``).
        texts: columns that must hold strings (``response``, ``content``).

    Raises:
        InputError: naming file, line and field of the first bad row (``reasoning_content``, when
            present, must be a string or null).
    """
    path = Path(path)
    samples = read_samples(path)
    for line, row in samples:
        for field in messages:
            require_messages(path, line, row, field)
        for field in texts:
            require_field(path, line, row, field, (str,), "a string")
        if row.get("reasoning_content") is not None:
            require_field(path, line, row, "reasoning_content", (str,), "a string or null")
    return samples


def group_samples(path: str | Path, samples: list[tuple[int, dict]],
                  same: tuple[str, ...] = ITEM_COLUMNS) -> dict[str, list[tuple[int, dict]]]:
    """Samples grouped by ``id`` (groups in order of first appearance, samples by ``sample`` index).

    Args:
        same: columns every sample of one id must agree on.

    Raises:
        InputError: a sample differs from the first sample of its id in a column of ``same``.
    """
    groups: dict[str, list[tuple[int, dict]]] = {}
    for line, row in samples:
        group = groups.setdefault(row["id"], [])
        if group:
            first_line, first = group[0]
            for field in same:
                if row.get(field) != first.get(field):
                    raise InputError(path, f"differs from the first sample of id {row['id']!r} (line {first_line})",
                                     line=line, field=field)
        group.append((line, row))
    for group in groups.values():
        group.sort(key=lambda pair: pair[1]["sample"])
    return groups


def _item_class(path: Path, line: int, row: dict, config: Config) -> str:
    value = row.get(config.class_field)
    if value is None:
        value = config.default_class or ("verifiable" if row.get("verifier") is not None else "unverifiable")
    if not isinstance(value, str):
        raise InputError(path, f"expected a class name, got {value!r}", line=line, field=config.class_field)
    if config.caps is not None and value not in config.caps:
        raise InputError(path, f"class {value!r} has no cap; caps are given for {sorted(config.caps)}",
                         line=line, field=config.class_field)
    return value


def _mean_score(path: Path, group: list[tuple[int, dict]], field: str) -> float:
    scores = []
    for line, row in group:
        value = row.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(path, f"unverifiable: score needs a number per rollout, got {value!r}",
                             line=line, field=field)
        scores.append(float(value))
    return sum(scores) / len(scores)


def _output_row(row: dict, n_correct: int | None, n_samples: int) -> dict:
    item = pool_item(row)
    reference = strip_think(row.get("reference") or "").strip()
    return {"prompt": row["train_prompt"], "item": "" if item is None else item_to_json(item), "id": row["id"],
            "n_correct": n_correct, "n_samples": n_samples, "reference": reference}


def _assess(path: Path, config: Config, group: list[tuple[int, dict]], seed: int,
            histogram: Counter) -> tuple[tuple, str, dict] | tuple[str, str | None]:
    """One item: ``(sort key, class, output row)`` when it is a candidate, else ``(reason, detail)``."""
    line, first = group[0]
    difficulty = first.get(config.difficulty_field)
    if config.difficulty_filter is not None and difficulty not in config.difficulty_filter:
        return "not_in_difficulty", f"{config.difficulty_field}={difficulty!r}"
    if len(group) < config.min_samples:
        return "too_few_samples", f"{len(group)} < {config.min_samples}"
    item_class = _item_class(path, line, first, config)
    # Ties are broken by a per-item seeded draw: the order of two items does not depend on the file order.
    tie = random.Random(f"{seed}:{first['id']}").random()
    item = pool_item(first)
    if item is None:
        if config.unverifiable == "drop":
            return "unverifiable", None
        score = _mean_score(path, group, config.score_field)
        if config.max_score is not None and score > config.max_score:
            return "high_score", f"mean {config.score_field} {score:.4g}"
        # Unverifiable items rank after every graded one (n_correct has no meaning for them).
        return (1, score, tie), item_class, _output_row(first, None, len(group))
    n_correct = sum(grade(row["response"], item, config.mode).correct for _, row in group)
    histogram[f"{n_correct}/{len(group)}"] += 1
    if n_correct == len(group):
        return "all_correct", f"{n_correct}/{len(group)}"
    if n_correct == 0:
        return "none_correct", f"0/{len(group)}"
    return (0, n_correct, tie), item_class, _output_row(first, n_correct, len(group))


def run(config: Config, ctx: StageContext) -> dict:
    """Grade, drop, order and cap; write the GRPO rows (see the module docstring).

    Returns:
        Funnel metrics: ``in`` (items), ``out`` (items kept), ``dropped/<reason>``.
    """
    path = Path(config.input)
    groups = group_samples(path, read_checked_samples(path, messages=("train_prompt",), texts=("response",)))
    seed = ctx.seed if config.seed is None else config.seed
    candidates, dropped, histogram = [], [], Counter()
    for item_id, group in groups.items():
        outcome = _assess(path, config, group, seed, histogram)
        if len(outcome) == 2:
            dropped.append({"id": item_id, "reason": outcome[0], "detail": outcome[1]})
        else:
            candidates.append(outcome)
    candidates.sort(key=lambda candidate: candidate[0])
    kept, per_class = [], Counter()
    for _, item_class, row in candidates:
        if config.caps is not None and per_class[item_class] >= config.caps[item_class]:
            dropped.append({"id": row["id"], "reason": "over_cap",
                            "detail": f"class {item_class!r} cap {config.caps[item_class]}"})
            continue
        per_class[item_class] += 1
        kept.append(row)
    details = {"samples": sum(len(group) for group in groups.values()),
               "n_correct/n_samples": dict(sorted(histogram.items())), "kept_per_class": dict(per_class),
               "caps": config.caps}
    return write_step(ctx.out_dir, STEP, rows_in=len(groups), kept=kept, dropped=dropped, input_path=path,
                      details=details)
