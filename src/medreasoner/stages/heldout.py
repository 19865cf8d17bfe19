"""Stage ``heldout``: more test cases for a built world, without rebuilding anything trained on it.

The world's test split is small on purpose (the tiny pipeline evaluates every model on it in seconds), so a
paired contrast between two models has a confidence interval of several points. Enlarging the split would
move every case's split (cases are split by hash in proportion to the split sizes) and so every trained
model. This stage instead redraws the world from its manifest and draws ``num_cases`` more cases after all
of its splits, sharing no signature with any of them (:func:`medreasoner.sim.world.heldout_files`).
It writes ``eval/heldout_{diagnosis,mcq,multiselect}.jsonl``, ``eval/heldout_diagnosis_cpt_only.jsonl`` (when
the world has CPT-only conditions), ``env/heldout.jsonl`` and a ``manifest.json`` with the cases' chance,
prior-only and Bayes-optimal accuracy (``medreasoner report`` shows them beside the world's splits). With
``japanese: true`` it also writes ``eval/heldout_ja_diagnosis{,_cpt_only}.jsonl``: the same diagnosis items, ids and
labels, with the case written in Japanese (:mod:`medreasoner.sim.japanese`).

Before writing anything, it checks that the redrawn cases are the world's own (each episode of
``env/{train,validation,test}.jsonl`` names its redrawn case's label), and that no held-out case (by
signature, ``meta.case``) or question (word for word) is one of the world's training pool
(``pool/{train,rl}.jsonl``) or its validation and test diagnosis items: a world whose files its manifest
does not describe would otherwise let training cases into the held-out set silently. Two cases can differ
only in findings a question does not show (docs/sim.md, "The RL pool"), so a repeated question is possible
in a legitimate world too; the stage refuses it rather than thin the set unasked.

    - name: heldout
      kind: heldout
      config: {world: runs/reproduce_s0/world, num_cases: 2000, skip: 0, japanese: false}

``skip`` cuts the one draw into blocks: ``skip: 2000`` gives the next cases after a first set of 2,000, none
of them in it, so a set already read (for a choice or a report) stays apart from a fresh one.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from medreasoner.errors import InputError
from medreasoner.files import read_jsonl
from medreasoner.recipe_inputs import InputPath
from medreasoner.sim.world import heldout_files, write_files
from medreasoner.sim.world_cases import load_world_cases, world_config
from medreasoner.stages.context import StageContext

# The world's items whose case or question a held-out item must not repeat (training pool first).
_WORLD_ITEM_FILES = ("pool/train.jsonl", "pool/rl.jsonl", "eval/validation_diagnosis.jsonl", "eval/test_diagnosis.jsonl")


class Config(BaseModel):
    """``kind: heldout`` stage configuration; every field is required.

    Attributes:
        world: a ``kind: world`` stage's output directory (its ``manifest.json`` gives the config to redraw).
        num_cases: how many new cases to draw.
        skip: how many cases of the draw to pass over first (earlier blocks of it; 0 for the first block).
        japanese: also write the diagnosis items asked in Japanese (``eval/heldout_ja_diagnosis*.jsonl``).
    """

    model_config = ConfigDict(extra="forbid")
    world: InputPath
    num_cases: int = Field(ge=1)
    skip: int = Field(ge=0)
    japanese: bool


def run(config: Config, ctx: StageContext) -> dict:
    """Write the held-out cases' files into ``ctx.out_dir``; returns counts and accuracy references."""
    world = Path(config.world)
    cases = load_world_cases(world)
    for split in ("train", "validation", "test"):
        for _, row in read_jsonl(world / f"env/{split}.jsonl"):
            hidden = json.loads(row["case"])
            cases.case(hidden["id"], hidden["label"]["name"])  # raises on a case the manifest does not draw
    rows, manifest = heldout_files(world_config(world), config.num_cases, skip=config.skip,
                                   japanese=config.japanese)
    items = rows["eval/heldout_diagnosis.jsonl"]
    if len(items) < config.num_cases:
        raise InputError(ctx.recipe or world, f"only {len(items)} unique cases are left after the first {config.skip} "
                         f"that the world does not hold: lower num_cases ({config.num_cases}); a smaller skip "
                         "would overlap an earlier block",
                         field=f"{ctx.out_dir.name}.config.num_cases")
    world_items = _world_items(world)
    held_cases, held_questions = {r["meta"]["case"] for r in world_items}, {r["question"] for r in world_items}
    repeated = [item["id"] for item in items if item["meta"]["case"] in held_cases or item["question"] in held_questions]
    if repeated:
        raise InputError(world / "manifest.json", f"{len(repeated)} held-out items (first {repeated[0]}) repeat a case "
                         "or question of the world's files: the files are not the world this manifest describes, or two "
                         "cases read alike (fewer num_cases draws a prefix of the same cases)", field="config")
    write_files(ctx.out_dir, rows, manifest)
    metrics = {f"count/{name}": count for name, count in manifest["counts"].items()}
    metrics.update({f"heldout/{name}": value for name, value in manifest["accuracy"]["heldout"].items()})
    ctx.log(metrics, 0)
    return metrics


def _world_items(world: Path) -> list[dict]:
    """The records of the world's :data:`_WORLD_ITEM_FILES`; an empty file (``pool/rl.jsonl`` in a world without
    rl cases) holds none, and :func:`read_jsonl` refuses empty files, so those are skipped."""
    return [record for name in _WORLD_ITEM_FILES if (world / name).is_file() and (world / name).stat().st_size
            for _, record in read_jsonl(world / name)]
