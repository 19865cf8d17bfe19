"""``preferences``: RPO pairs from the model's own explanations: reference > correct > wrong.

Preferred-MedLLM (arXiv 2504.18080) trains RPO on a preference hierarchy that favours ground-truth
explanations over the model's other reasoning paths, with correctness checked against the answer key
(PAPERS.md 2.3, a reconstruction: the paper body was not recovered). Levels:

    2  reference    the pool row's ``reference`` (its ``<think>`` block becomes ``reasoning_content``)
    1  correct      a sample the verifier grades correct
    0  wrong        a sample the verifier grades wrong (or without an answer)

With ``grounding_world`` (our extension, not the paper's: WiNGPT-3.0's Think-Tracing idea of keeping only
reasoning that checks out against the case, applied to the chosen side) a correct sample whose reasoning
cites a finding its question does not state, or cites no evidence, is level ``ungrounded`` instead of
``correct`` (:mod:`medreasoner.sim.grounding` checks each citation against the world's case). It is never
chosen: the NLL term of RPO would otherwise train right answers reached through evidence the case does not
give. Pairs ``reference>ungrounded`` and ``correct>ungrounded`` rank grounded reasoning above it; the
reference must pass the same check (``reference_ungrounded`` drops the item).

``pairs`` picks which (higher, lower) combinations become rows; ``max_pairs_per_item`` caps each
type per item, the pairs chosen at random with a seed (per item, so adding items never changes the
pairs of the others); ``margins`` weights each type (the recipes: the level difference). Grades come
from :func:`medreasoner.verify.grade`, the rule evaluation uses, so "correct" here is what the
benchmark would count. The chosen side of every pair is graded again just before it is written and
must pass: a reference that fails its own verifier drops the item (``reference_fails_verifier``).

Input: sample rows of ``generate`` (explain-mode sampling), several per ``id``; each sample's answer
is its ``content`` and its reasoning ``reasoning_content``. Output: ``preference``-stage rows::

    {"prompt": [...], "chosen": [assistant msg], "rejected": [assistant msg], "margin": m, "id", "pair_type"}

Samples identical to the chosen side, or to another sample of their level, are not paired twice.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

from medreasoner.benchmarks.item import Item
from medreasoner.data.funnel import write_step
from medreasoner.data.generate import split_reasoning
from medreasoner.data.pool import pool_item
from medreasoner.data.select_rl import ITEM_COLUMNS, group_samples, read_checked_samples
from medreasoner.recipe_inputs import InputPath
from medreasoner.sim.grounding import WorldGrounding
from medreasoner.stages.context import StageContext
from medreasoner.think import join_reasoning
from medreasoner.verify import grade

STEP = "preferences"
PairType = Literal["reference>correct", "reference>wrong", "correct>wrong", "reference>ungrounded",
                   "correct>ungrounded"]


class Config(BaseModel):
    """``kind: preferences`` settings.

    Attributes:
        input: sample rows (JSONL) of ``generate``, N explain-mode samples per item.
        mode: :func:`medreasoner.verify.grade` mode of every grade.
        pairs: the pair types to emit (the hierarchy's edges), in output order.
        max_pairs_per_item: most pairs of each type per item.
        margins: pair type -> preference margin m > 0 (the ``margin`` column); the recipes use the
            level difference (1, 2, 1), so reference > wrong weighs twice an adjacent pair.
        prompt_field: the sample column used as the pair's prompt: ``prompt`` (the explain-mode
            prompt the samples answered) or ``train_prompt`` (the answer-mode question).
        seed: seed of the pair choice; null: the recipe's (or ``--seed``'s) seed.
        grounding_world: the ``kind: world`` stage whose cases the samples' questions show: correct samples
            citing evidence the case does not state become level ``ungrounded`` (the module docstring);
            null: every correct sample is ``correct`` (the paper's hierarchy).
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    mode: Literal["normalized", "official"]
    pairs: list[PairType] = Field(min_length=1)
    max_pairs_per_item: int = Field(ge=1)
    margins: dict[PairType, PositiveFloat]
    prompt_field: Literal["prompt", "train_prompt"]
    seed: int | None
    grounding_world: InputPath | None

    @model_validator(mode="after")
    def _check(self) -> "Config":
        if len(set(self.pairs)) != len(self.pairs):
            raise ValueError(f"pairs lists a type twice: {self.pairs}")
        missing = [pair for pair in self.pairs if pair not in self.margins]
        if missing:
            raise ValueError(f"margins has no value for {missing}")
        if self.grounding_world is None and any(pair.endswith("ungrounded") for pair in self.pairs):
            raise ValueError("pairs with an ungrounded side need grounding_world (the check that finds them)")
        return self


def split_reference(reference: str) -> dict:
    """The reference as an assistant message: a ``<think>`` block becomes ``reasoning_content``.

    >>> split_reference("<think>\\nfever and cough</think>\\n\\n\\\\boxed{pneumonia}")
    {'role': 'assistant', 'content': '\\\\boxed{pneumonia}', 'reasoning_content': 'fever and cough'}
    >>> split_reference("Plain answer.")
    {'role': 'assistant', 'content': 'Plain answer.'}
    """
    reasoning, answer = split_reasoning(reference)  # the split generate applies to its samples
    return assistant_message(answer, reasoning)


def assistant_message(content: str, reasoning: str | None) -> dict:
    """``{"role": "assistant", "content", "reasoning_content"?}`` (reasoning left out when empty)."""
    message = {"role": "assistant", "content": content.strip()}
    if reasoning and reasoning.strip():
        message["reasoning_content"] = reasoning.strip()
    return message


def message_text(message: dict) -> str:
    """The message as one completion text (reasoning inline in ``<think>``), as the verifier reads it."""
    if "reasoning_content" in message:  # only a non-blank string (assistant_message)
        return join_reasoning(message["reasoning_content"], message["content"], newlines=True)
    return message["content"]


def _levels(item: Item, group: list[tuple[int, dict]], mode: str, grounding: WorldGrounding | None,
            counts: Counter) -> dict[str, list[dict]]:
    """Distinct sample messages per level, in sample order."""
    levels: dict[str, list[dict]] = {"correct": [], "ungrounded": [], "wrong": []}
    seen: set[str] = set()
    for _, row in group:
        message = assistant_message(row["content"], row.get("reasoning_content"))
        text = message_text(message)
        if text in seen:
            counts["duplicate_samples"] += 1
            continue
        seen.add(text)
        level = "correct" if grade(text, item, mode).correct else "wrong"
        if level == "correct" and grounding is not None and grounding.ungrounded(text, row) != []:
            level = "ungrounded"  # None (no evidence cited) counts too: nothing of it checks out
        counts[f"samples_{level}"] += 1
        levels[level].append(message)
    return levels


def _candidates(pair_type: str, reference: dict, levels: dict[str, list[dict]]) -> list[tuple[dict, dict]]:
    high, low = pair_type.split(">")
    chosen_side = [reference] if high == "reference" else levels[high]
    return [(chosen, rejected) for chosen in chosen_side for rejected in levels[low]
            if message_text(chosen) != message_text(rejected)]


def item_pairs(config: Config, item: Item, prompt: list[dict], reference: dict, levels: dict[str, list[dict]],
               rng: random.Random, counts: Counter) -> list[dict]:
    """The pairs of one item whose reference already passed the verifier (see the module docstring).

    Args:
        levels: the item's distinct sample messages, ``{"correct": [...], "ungrounded": [...], "wrong": [...]}``.
        rng: this item's random source (which pairs, when there are more than the cap).
        counts: per-type pair counts, updated.
    """
    rows = []
    for pair_type in config.pairs:
        candidates = _candidates(pair_type, reference, levels)
        rng.shuffle(candidates)
        written = 0
        for chosen, rejected in candidates:
            if written == config.max_pairs_per_item:
                break
            # The one rule a preference pair must never break: its chosen side is a correct answer.
            if not grade(message_text(chosen), item, config.mode).correct:
                counts["chosen_regrade_failed"] += 1
                continue
            rows.append({"prompt": prompt, "chosen": [chosen], "rejected": [rejected],
                         "margin": float(config.margins[pair_type]), "id": item.id, "pair_type": pair_type})
            counts[pair_type] += 1
            written += 1
    return rows


def run(config: Config, ctx: StageContext) -> dict:
    """Grade every sample, form the configured pairs per item, write the preference rows.

    Returns:
        Funnel metrics: ``in`` (items), ``out`` (pairs), ``dropped/<reason>`` (items).
    """
    path = Path(config.input)
    samples = read_checked_samples(path, messages=(config.prompt_field,), texts=("content",))
    # One prompt per item: a pair's two answers must answer the same messages.
    groups = group_samples(path, samples, same=(*ITEM_COLUMNS, config.prompt_field))
    seed = ctx.seed if config.seed is None else config.seed
    grounding = None if config.grounding_world is None else WorldGrounding.load(config.grounding_world)
    kept, dropped, counts = [], [], Counter()
    for item_id, group in groups.items():
        first = group[0][1]
        item = pool_item(first)
        if item is None:
            dropped.append({"id": item_id, "reason": "unverifiable", "detail": "no verifier to grade the samples"})
            continue
        if not (first.get("reference") or "").strip():
            dropped.append({"id": item_id, "reason": "no_reference", "detail": None})
            continue
        reference = split_reference(first["reference"])
        verdict = grade(message_text(reference), item, config.mode)
        if not verdict.correct:
            dropped.append({"id": item_id, "reason": "reference_fails_verifier",
                            "detail": f"extracted {verdict.extracted!r}"})
            continue
        unstated = [] if grounding is None else grounding.ungrounded(message_text(reference), first)
        if unstated != []:
            detail = "cites no evidence" if unstated is None else f"cites {unstated}, not in the case"
            dropped.append({"id": item_id, "reason": "reference_ungrounded", "detail": detail})
            continue
        levels = _levels(item, group, config.mode, grounding, counts)
        # Seeded per item: the pairs of one item do not depend on which other items are in the file.
        rows = item_pairs(config, item, first[config.prompt_field], reference, levels,
                          random.Random(f"{seed}:{item_id}"), counts)
        if not rows:
            dropped.append({"id": item_id, "reason": "no_pairs", "detail": f"{len(levels['correct'])} correct, "
                            f"{len(levels['ungrounded'])} ungrounded, {len(levels['wrong'])} wrong distinct samples; "
                            f"pairs {config.pairs}"})
            continue
        kept.extend(rows)
    details = {"pairs": {pair: counts[pair] for pair in config.pairs},
               "samples": {key: counts[key] for key in ("samples_correct", "samples_ungrounded", "samples_wrong",
                                                          "duplicate_samples")},
               "chosen_regrade_failed": counts["chosen_regrade_failed"]}
    return write_step(ctx.out_dir, STEP, rows_in=len(groups), kept=kept, dropped=dropped, input_path=path,
                      details=details)
