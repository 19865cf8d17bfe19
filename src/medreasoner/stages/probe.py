"""Probe what a checkpoint knows, by option log-likelihood (recipe ``kind: probe``).

Items -> per-option scores -> accuracy, raw and calibrated, over all items and over named subsets
(:mod:`medreasoner.eval.probe`). The tiny reproduce recipe probes the base, CPT and SFT models on the
world's multiple-choice items in the CPT corpus's case-report form, to tell whether CPT taught the
CPT-only conditions (finding 3) and whether that knowledge survives SFT. Writes
``<out_dir>/predictions.jsonl`` (per item: gold letter and name, subsets, lure letters and names, both
scores per option, both choices) and ``<out_dir>/probe.json`` (accuracy with Wilson 95 % intervals per
subset and scoring, and each subset's lure rate and margin, :func:`medreasoner.eval.probe.lure_summary`), which
``medreasoner report`` shows as the "Knowledge probe" table.

Example recipe section::

    - name: probe_cpt
      kind: probe
      config:
        model: {path: "${cpt}", dtype: float32}
        items: "${world}/eval/test_mcq.jsonl"
        subsets: {cpt_only: "${world}/eval/test_diagnosis_cpt_only.jsonl"}
        context: "Case report.\\n{question}\\nFinal diagnosis:"
        continuation: " {option}."
        drop_line_prefixes: ["What is", "Which is"]
        premise_line_prefixes: ["Setting:", "Chief complaint:"]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from tqdm import tqdm

from medreasoner.benchmarks.item import Item, item_from_dict
from medreasoner.errors import InputError
from medreasoner.eval.probe import (SCORINGS, ProbeFormat, accuracy, choice, in_group, lure_letters,
                                    lure_summary, score_item)
from medreasoner.files import check_model_dir, read_jsonl, write_json_atomic, write_text_atomic
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.peft_section import ModelSection

PLACEHOLDERS = {"context": "{question}", "continuation": "{option}"}  # what each template must fill in


class Config(BaseModel):
    """``kind: probe`` stage configuration; every field is required.

    Attributes:
        model: the checkpoint (``path``, ``dtype``).
        items: JSONL of single-answer multiple-choice items (``options``, ``gold.letters`` with one letter).
        subsets: name -> a JSONL file; an item belongs to the subset when its ``meta.case`` is the
            ``meta.case`` of a row there (the world's ``*_diagnosis_cpt_only.jsonl`` lists the cases
            whose label only the CPT corpus names). Each subset is also reported with its complement
            (``not_<name>``).
        context, continuation, drop_line_prefixes, premise_line_prefixes: :class:`ProbeFormat`.
    """

    model_config = ConfigDict(extra="forbid")
    model: ModelSection
    items: InputPath
    subsets: dict[str, InputPath]
    context: str = Field(min_length=1)
    continuation: str = Field(min_length=1)
    drop_line_prefixes: list[str]
    premise_line_prefixes: list[str] = Field(min_length=1)

    @field_validator("context", "continuation")
    @classmethod
    def _has_placeholder(cls, value: str, info: ValidationInfo) -> str:
        placeholder = PLACEHOLDERS[info.field_name]
        if placeholder not in value:
            raise ValueError(f"{info.field_name} must contain {placeholder}")
        return value

    @field_validator("subsets")
    @classmethod
    def _subset_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name == "all" or name.startswith("not_") or not name.replace("_", "").isalnum():
                raise ValueError(f"subset name {name!r}: use letters, digits and _, not 'all' or a 'not_' prefix")
        return value


def _load_items(path: str) -> list[Item]:
    """The canonical items of ``path`` (:func:`medreasoner.benchmarks.item.item_from_dict`), each a
    single-answer multiple-choice item with a ``meta.case``."""
    items = []
    for line, row in read_jsonl(path):
        try:
            item = item_from_dict(row)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise InputError(path, f"not a canonical item ({error!r})", line=line) from None
        if len(item.options) < 2:
            raise InputError(path, "a probe item needs two or more options", line=line, field="options")
        if not isinstance(item.gold, frozenset) or len(item.gold) != 1 or not item.gold <= set(item.options):
            raise InputError(path, "a probe item needs exactly one gold letter among its options", line=line,
                             field="gold.letters")
        if not isinstance(item.meta.get("case"), str):
            raise InputError(path, "a probe item names its case (a string)", line=line, field="meta.case")
        items.append(item)
    return items


def _cases(path: str) -> set[str]:
    cases = set()
    for line, row in read_jsonl(path):
        case = (row.get("meta") or {}).get("case")
        if not isinstance(case, str):
            raise InputError(path, "meta.case: missing (a subset file names its items' cases)", line=line)
        cases.add(case)
    return cases


def run(config: Config, ctx) -> dict:
    """Score every item's options with ``config.model``; write predictions.jsonl and probe.json.

    Returns:
        ``{"<subset>/<scoring>_accuracy": fraction}`` for ``all`` and every subset and complement.
    """
    # Inputs are checked before the model loads: a bad file costs no model time.
    items = _load_items(config.items)
    subsets = {name: _cases(path) for name, path in config.subsets.items()}
    check_model_dir(config.model.path, "model.path")
    from medreasoner.model import load_model, load_tokenizer  # torch-heavy; after the checks

    fmt = ProbeFormat(config.context, config.continuation, tuple(config.drop_line_prefixes),
                      tuple(config.premise_line_prefixes))
    # Each subset's gold option texts: offered as a wrong option outside the subset, one is a lure.
    gold_names = {name: {item.options[gold] for item in items if item.meta["case"] in cases for gold in item.gold}
                  for name, cases in subsets.items()}
    tokenizer = load_tokenizer(config.model.path, padding_side="right")
    model = load_model(config.model.path, dtype=config.model.dtype).eval()
    started = time.monotonic()
    rows = []
    for item in tqdm(items, desc="probe", unit="item"):
        scores = score_item(model, tokenizer, fmt, item.question, item.options)
        (gold,) = item.gold
        choices = {s: choice(scores[s]) for s in SCORINGS}
        member_of = [name for name, cases in subsets.items() if item.meta["case"] in cases]
        lures = {name: lure_letters(item.options, gold, gold_names[name]) for name in subsets if name not in member_of}
        rows.append({"id": item.id, "gold": gold, "gold_name": item.options[gold], "num_options": len(item.options),
                     "subsets": member_of,
                     "lures": {name: letters for name, letters in lures.items() if letters},
                     **{f"{s}_choice": choices[s] for s in SCORINGS},
                     **{f"{s}_correct": choices[s] == gold for s in SCORINGS},
                     "scores": scores})
    names = ["all"] + [group for name in subsets for group in (name, f"not_{name}")]
    groups = {group: [r for r in rows if in_group(r["subsets"], group)] for group in names}
    summary = {}
    for group, members in groups.items():
        chance = sum(1 / r["num_options"] for r in members) / len(members) if members else float("nan")
        summary[group] = {s: accuracy([r[f"{s}_correct"] for r in members], chance) for s in SCORINGS}
    out = Path(ctx.out_dir)
    write_text_atomic(out / "predictions.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write_json_atomic(out / "probe.json", {
        "schema": "medreasoner.probe/1", "model": config.model.path, "items": config.items,
        "format": config.model_dump(include={"context", "continuation", "drop_line_prefixes", "premise_line_prefixes"}),
        "subsets": summary,
        "lures": {name: {s: lure_summary(rows, name, s) for s in SCORINGS} for name in subsets},
        "seconds": round(time.monotonic() - started, 3)})
    return {f"{group}/{s}_accuracy": summary[group][s]["accuracy"] for group in summary for s in SCORINGS}
