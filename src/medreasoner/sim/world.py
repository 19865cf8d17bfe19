"""Build the synthetic clinical world: every dataset the pipeline trains and evaluates on.

``build_world(config, out_dir)`` writes (layout of the pipeline contract)::

    cpt/train.jsonl                     {"text"} textbook paragraphs, English and Japanese
    sft/{train,validation}.jsonl        {"messages"}: eval-template prompt + chain as reasoning_content
    pool/train.jsonl                    question-pool rows (medreasoner.data.pool) of the training items:
                                        the data engine's input; ``reference`` = chain + answer
    pool/rl.jsonl, grpo/rl.jsonl        the same rows for the ``rl`` cases, which nothing else holds:
                                        RL candidates no SFT row covers
    preference/train.jsonl              {"prompt", "chosen", "rejected", "margin"}: right vs wrong conclusion
    grpo/train.jsonl                    {"prompt", "item"}: canonical item JSON for the verifier rewards
    env/{train,validation,test}.jsonl   {"prompt", "case", "reference"}: hidden case JSON for
                                        DiagnosticEnvironment; reference answer for the verifier reward
    env/sft_train.jsonl                 {"tools", "messages"}: expert episodes of the training cases
                                        (the label-blind expert of medreasoner.sim.expert, rendered by
                                        medreasoner.sim.episodes), TRL SFT format with tool calls
    eval/{validation,test}_{diagnosis,mcq,multiselect}.jsonl   canonical items (benchmark "items")
    calc/{train,test}.csv               MedCalc-Bench-format calculator tasks (when num_calculator_tasks > 0)
    manifest.json                       counts, seed, Bayes-optimal, baseline and S4-expert accuracy per split, config

``heldout_files(config, size, skip=...)`` draws more test cases for a built world after all of its splits (the
``heldout`` stage writes them), so a larger held-out set needs no rebuild of anything trained on the world.

Cases are unique by signature across all splits, and each signature's split is fixed by its hash,
so the splits are identically distributed and share no case. Everything derives from
``config.seed`` (per-case generators are seeded by ``(seed, split, index)``), so a rebuild is
byte-identical. Files are written to a temporary directory beside ``out_dir`` and moved in at
the end, ``manifest.json`` last.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from medreasoner.benchmarks import load_benchmark
from medreasoner.benchmarks.item import Item, item_to_dict, item_to_json
from medreasoner.calculators.tasks import generate_tasks, write_csv
from medreasoner.errors import InputError
from medreasoner.eval.prompts import PromptBuilder
from medreasoner.sim import episodes
from medreasoner.sim.chain import ProbabilityModel, posterior, probability_model
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.corpus import case_report, corpus_texts
from medreasoner.sim.expert import expert_diagnosis, expert_exams
from medreasoner.sim.items import (
    Presented,
    chain_preference_pair,
    diagnosis_item,
    exams_multiselect_item,
    key_exams,
    mcq_item,
    plausible_multiselect_item,
    present,
    prompt_messages,
    sft_example,
    synonyms,
)
from medreasoner.sim.japanese import japanese_files
from medreasoner.sim.kb import DEFAULT_KB_PATH, KnowledgeBase, load_knowledge_base
from medreasoner.sim.sampler import Case, exam_module, render_summary, sample_case
from medreasoner.think import join_reasoning

SPLITS = ("train", "validation", "test")
EVAL_TASKS = ("diagnosis", "mcq", "multiselect")
TRAINING_FILES = (
    "pool/train.jsonl", "sft/train.jsonl", "sft/validation.jsonl", "preference/train.jsonl", "grpo/train.jsonl", "env/train.jsonl",
    "env/sft_train.jsonl", "env/validation.jsonl", "env/test.jsonl", "pool/rl.jsonl", "grpo/rl.jsonl",
)
_MEDCALC_PROMPTS = PromptBuilder("medcalc", "answer", "chat", [], None)
# Give up when unique cases run out: a KB/noise setting with few distinct cases cannot fill big splits.
_DRAWS_PER_CASE = 50


def draw_cases(model: ProbabilityModel, config: WorldConfig, rng: random.Random) -> dict[str, list[Case]]:
    """Unique cases per split; a signature's split is chosen by its hash in proportion to the split sizes."""
    sizes = {split: getattr(config.num_cases, split) for split in SPLITS}
    total = sum(sizes.values())
    bounds, edge = [], 0
    for split in SPLITS:
        edge += sizes[split]
        bounds.append((edge / total, split))
    cases: dict[str, list[Case]] = {split: [] for split in SPLITS}
    seen: set[str] = set()
    for _ in range(_DRAWS_PER_CASE * total):
        if all(len(cases[s]) == sizes[s] for s in SPLITS):
            return cases
        case = sample_case(model.kb, model.present, rng, config.setting_weights)
        signature = case.signature()
        if signature in seen:
            continue
        position = int(hashlib.sha256(f"{config.seed}:{signature}".encode()).hexdigest()[:12], 16) / 16**12
        split = next(name for bound, name in bounds if position < bound)
        if len(cases[split]) < sizes[split]:
            seen.add(signature)
            cases[split].append(case)
    counts = {s: len(cases[s]) for s in SPLITS}
    raise InputError(
        config.knowledge_base or DEFAULT_KB_PATH,
        f"only {counts} unique cases after {_DRAWS_PER_CASE * total} draws for {sizes}: lower num_cases or raise noise",
        field="num_cases",
    )


def draw_extra_cases(
    model: ProbabilityModel, config: WorldConfig, held: dict[str, list[Case]], size: int, split: str
) -> list[Case]:
    """Up to ``size`` unique cases that no list in ``held`` holds, drawn after them with a generator of their own
    (seeded ``"<seed>:<split>"``), so that adding them leaves every other split and file as it was: the
    ``rl`` split, and the extra held-out cases of :func:`heldout_files`. Fewer than ``size`` come back when
    the knowledge base runs out of unique cases; the caller names the setting to lower.

    Skipping the signatures already held shifts the draw a little towards rarer cases: in the reproduce
    world about 11 % of the rl draws repeat a signature already held (docs/sim.md).
    """
    rng = random.Random(f"{config.seed}:{split}")  # str seeds hash with SHA-512: stable across runs
    seen = {case.signature() for cases in held.values() for case in cases}
    drawn: list[Case] = []
    for _ in range(_DRAWS_PER_CASE * size):
        if len(drawn) == size:
            break
        case = sample_case(model.kb, model.present, rng, config.setting_weights)
        if case.signature() not in seen:
            seen.add(case.signature())
            drawn.append(case)
    return drawn


def draw_rl_cases(model: ProbabilityModel, config: WorldConfig, cases: dict[str, list[Case]]) -> list[Case]:
    """The world's ``num_cases.rl`` RL-pool cases (:func:`draw_extra_cases` after the other splits)."""
    drawn = draw_extra_cases(model, config, cases, config.num_cases.rl, "rl")
    if len(drawn) == config.num_cases.rl:
        return drawn
    raise InputError(
        config.knowledge_base or DEFAULT_KB_PATH,
        f"only {len(drawn)} unique rl cases after {_DRAWS_PER_CASE * config.num_cases.rl} draws: "
        "lower num_cases.rl or raise noise",
        field="num_cases.rl",
    )


def env_case(model: ProbabilityModel, case: Case, case_id: str, enable_pertinent_negatives: bool) -> dict:
    """The hidden case an environment episode plays: summary, exam module with costs, label."""
    kb = model.kb
    full = posterior(model, case.setting, case.presentation, case.observed(kb, None))
    module = exam_module(kb, case)
    return {
        "id": case_id,
        "summary": render_summary(kb, case, enable_pertinent_negatives, "en"),
        "menu": {e: {"name": kb.exams[e].en, "cost": kb.exams[e].cost, "result": text} for e, text in module.items()},
        "label": {"name": kb.condition(full.best).en, "synonyms": synonyms(kb, full.best)},
        "truth": kb.condition(case.truth).en,
        "key_exams": key_exams(kb, case.presentation, [full.best]),
    }


def pool_row(item: Item, reply: dict) -> dict:
    """The question-pool row of a training item; its reference is the world's Bayes-optimal chain
    (the stand-in for WiNGPT-3.0's teacher answers) rendered inline as ``<think>chain</think>answer``."""
    reference = join_reasoning(reply["reasoning_content"], reply["content"], newlines=True)
    return {**item_to_dict(item), "domain": "medical", "language": "en", "reference": reference, "source": "world"}


def _multiselect(
    kb: KnowledgeBase, shown: Presented, rng: random.Random, config: WorldConfig, index: int, item_id: str
) -> Item:
    """Alternate the two multi-select flavours by case index; fall back to 'plausible' when no exam bears."""
    if index % 2 == 0:
        item = exams_multiselect_item(kb, shown, rng, config.num_options, item_id)
        if item is not None:
            return item
    return plausible_multiselect_item(kb, shown, rng, config.num_options, config.plausible_threshold, item_id)


_env_reference = episodes.env_reference  # the reference answer of an episode (kept for callers)


def _case_rows(
    model: ProbabilityModel, config: WorldConfig, split: str, index: int, case: Case, rows: dict
) -> tuple[Presented, list[str]]:
    """Append every row this case contributes to ``rows`` (file -> list of records); return the presented
    case and the S4 expert's exams for it (the manifest's expert accuracy reuses them)."""
    kb = model.kb
    exams = expert_exams(model, case)
    rng = random.Random(f"{config.seed}:{split}:{index}")  # str seeds hash with SHA-512: stable across runs
    shown = present(model, case, rng, config.num_exams_revealed, config.enable_pertinent_negatives)
    prefix = f"{split}-{index:06d}"
    items = {
        "diagnosis": diagnosis_item(kb, shown, f"{prefix}-diagnosis"),
        "mcq": mcq_item(kb, shown, rng, config.num_options, f"{prefix}-mcq"),
    }
    if split in ("train", "rl"):
        if shown.label in config.cpt_only_conditions:
            return shown, exams  # no SFT or RL answer names it; a training case becomes a CPT case report (build_world)
        for task in config.train_tasks:
            example = sft_example(kb, shown, items[task], config.chain_verbosity)
            if split == "train":
                rows["sft/train.jsonl"].append(example)
            rows[f"pool/{split}.jsonl"].append(pool_row(items[task], example["messages"][-1]))
            rows[f"grpo/{split}.jsonl"].append(
                {"prompt": prompt_messages(items[task]), "item": item_to_json(items[task])})
    if split == "rl":
        return shown, exams  # the RL pool's cases give no SFT, preference or environment row
    if split == "train":
        pair = chain_preference_pair(kb, shown, items["diagnosis"], config.chain_verbosity)
        if pair is not None:
            rows["preference/train.jsonl"].append(pair)
        hidden = env_case(model, case, prefix, config.enable_pertinent_negatives)
        if hidden["label"]["name"] in {kb.condition(c).en for c in config.cpt_only_conditions}:
            return shown, exams  # with every exam result the episode's answer is a CPT-only condition
        env_row = episodes.env_row(hidden)
        rows["env/train.jsonl"].append(env_row)
        rows["env/sft_train.jsonl"].append(
            episodes.demonstration(env_row, exams, kb.condition(expert_diagnosis(model, case, exams)).en))
        return shown, exams
    if split == "validation":
        for task in config.train_tasks:
            rows["sft/validation.jsonl"].append(sft_example(kb, shown, items[task], config.chain_verbosity))
    items["multiselect"] = _multiselect(kb, shown, rng, config, index, f"{prefix}-multiselect")
    for task in EVAL_TASKS:
        rows[f"eval/{split}_{task}.jsonl"].append(item_to_dict(items[task]))
    rows[f"env/{split}.jsonl"].append(episodes.env_row(env_case(model, case, prefix, config.enable_pertinent_negatives)))
    if shown.label in config.cpt_only_conditions:
        rows[f"eval/{split}_diagnosis_cpt_only.jsonl"].append(item_to_dict(items["diagnosis"]))
    return shown, exams


def _accuracy(model: ProbabilityModel, cases: list[Case], shown: list[Presented], expert: list[list[str]]) -> dict:
    """Bayes-optimal accuracy (label == true condition) of the items, with full information, and baselines;
    ``expert`` holds the S4 expert's exams per case."""
    if not cases:
        return {}
    kb, n = model.kb, len(cases)
    full = [posterior(model, c.setting, c.presentation, c.observed(kb, None)).best for c in cases]
    prior_only = [posterior(model, c.setting, c.presentation, {}).best for c in cases]
    return {
        "num_cases": n,
        "bayes_optimal_accuracy": sum(s.label == c.truth for s, c in zip(shown, cases)) / n,
        "bayes_optimal_accuracy_all_exams": sum(b == c.truth for b, c in zip(full, cases)) / n,
        "prior_only_accuracy": sum(b == c.truth for b, c in zip(prior_only, cases)) / n,
        # the same baseline scored against the items' gold (the Bayes-optimal label), as models are
        "prior_only_accuracy_vs_label": sum(b == s.label for b, s in zip(prior_only, shown)) / n,
        "chance_accuracy": sum(1 / len(kb.differential(c.presentation)) for c in cases) / n,
        # S4 episodes: the summary alone, and the expert of env/sft_train.jsonl, against the episode's gold
        "summary_only_episode_accuracy": sum(
            posterior(model, c.setting, c.presentation, c.observed(kb, [])).best == b for c, b in zip(cases, full)) / n,
        "expert_episode_accuracy": sum(expert_diagnosis(model, c, e) == b for c, e, b in zip(cases, expert, full)) / n,
        "expert_episode_exams": sum(len(e) for e in expert) / n,
    }


def _add_calculator_tasks(config: WorldConfig, tmp: Path, rows: dict[str, list[dict]]) -> dict[str, int]:
    """Write MedCalc-Bench-format CSVs (train, and a tenth as many for test) and add GRPO rows.

    The GRPO rows use the MedCalc-Bench evaluation prompt and the ``medcalc`` verifier, so a GRPO
    run on ``grpo/train.jsonl`` mixes diagnosis and calculation tasks, each routed to its own check.
    """
    num = config.num_calculator_tasks
    tables = {
        "calc/train.csv": generate_tasks(num, seed=config.seed, language="en"),
        "calc/test.csv": generate_tasks(max(1, num // 10), seed=config.seed + 1, language="en"),
    }
    for name, records in tables.items():
        write_csv(records, tmp / name)
    for item in load_benchmark("medcalc", tmp / "calc/train.csv"):
        prompt = [dict(message) for message in _MEDCALC_PROMPTS.render(item).messages]
        rows["grpo/train.jsonl"].append({"prompt": prompt, "item": item_to_json(item)})
    return {name: len(records) for name, records in tables.items()}


def _reported_cases(config: WorldConfig, cases: list[Case], shown: list[Presented]) -> list[Case]:
    """Training cases written as CPT case reports: the first ``num_cpt_case_reports``, plus every case
    labelled with a CPT-only condition (the corpus is the only place a model meets those cases)."""
    first = cases[: config.num_cpt_case_reports]
    held_out = [
        case for index, (case, view) in enumerate(zip(cases, shown))
        if view.label in config.cpt_only_conditions and index >= config.num_cpt_case_reports
    ]
    return first + held_out


def _draw_world(kb: KnowledgeBase, config: WorldConfig) -> tuple[ProbabilityModel, dict[str, list[Case]]]:
    """The probability model and every split's cases (rl included) of the world ``config`` builds on ``kb``."""
    model = probability_model(kb, config.noise)
    cases = draw_cases(model, config, random.Random(config.seed))
    cases["rl"] = draw_rl_cases(model, config, cases)
    return model, cases


def _eval_files(config: WorldConfig, split: str) -> dict[str, list[dict]]:
    """The empty evaluation files of a held-out split, for :func:`_case_rows` to fill (in this order)."""
    files: dict[str, list[dict]] = {f"eval/{split}_{task}.jsonl": [] for task in EVAL_TASKS}
    if config.cpt_only_conditions:
        files[f"eval/{split}_diagnosis_cpt_only.jsonl"] = []
    return files


def _write_jsonl(path: Path, records: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _temp_beside(out_dir: Path) -> Path:
    """A new temporary directory next to ``out_dir`` (same filesystem, so the final moves are renames)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))


def _commit(tmp: Path, out_dir: Path, rows: dict[str, list[dict]], manifest: dict) -> None:
    """Write ``rows`` (file -> records) and ``manifest.json`` into ``tmp``, then move each top-level entry of
    ``tmp`` into ``out_dir`` (replacing old ones), manifest last."""
    for name, records in rows.items():
        _write_jsonl(tmp / name, records)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in tmp.iterdir() if p.name != "manifest.json") + ["manifest.json"]
    for name in names:
        target = out_dir / name
        if target.is_dir():
            stale = tmp / f".stale-{name}"
            os.replace(target, stale)  # a directory cannot be replaced in one step; park it first
        os.replace(tmp / name, target)
    shutil.rmtree(tmp)


def build_world(config: WorldConfig, out_dir: str | Path) -> dict:
    """Generate the world into ``out_dir``; returns the manifest (also written as ``manifest.json``)."""
    kb = load_knowledge_base(config.knowledge_base)
    if set(config.setting_weights) - set(kb.settings):
        unknown = sorted(set(config.setting_weights) - set(kb.settings))
        raise InputError(
            config.knowledge_base or DEFAULT_KB_PATH,
            f"unknown settings {unknown}; the knowledge base has {sorted(kb.settings)}",
            field="setting_weights",
        )
    unknown = sorted(set(config.cpt_only_conditions) - {c.id for c in kb.conditions})
    if unknown:
        raise InputError(
            config.knowledge_base or DEFAULT_KB_PATH, f"unknown conditions {unknown}", field="cpt_only_conditions"
        )
    model, cases = _draw_world(kb, config)
    rows: dict[str, list[dict]] = {"cpt/train.jsonl": [{"text": t} for t in corpus_texts(kb, config.cpt_languages)]}
    for name in TRAINING_FILES:
        rows[name] = []
    for split in ("validation", "test"):
        rows.update(_eval_files(config, split))
    accuracy = {}
    for split in (*SPLITS, "rl"):
        built = [
            _case_rows(model, config, split, index, case, rows)
            for index, case in enumerate(tqdm(cases[split], desc=f"world {split}", unit="case", leave=False))
        ]
        shown = [presented for presented, _ in built]
        accuracy[split] = _accuracy(model, cases[split], shown, [exams for _, exams in built])
        if split == "train":
            train_shown = shown
    reported = _reported_cases(config, cases["train"], train_shown)
    rows["cpt/train.jsonl"].extend({"text": case_report(model, case)} for case in reported)
    tmp = _temp_beside(Path(out_dir))
    try:
        calc = _add_calculator_tasks(config, tmp, rows) if config.num_calculator_tasks > 0 else {}
        kb_path = Path(config.knowledge_base) if config.knowledge_base else DEFAULT_KB_PATH
        manifest = {
            "generator": "medreasoner.sim.world.build_world",
            "seed": config.seed,
            "knowledge_base": {
                "path": config.knowledge_base or "packaged: medreasoner/sim/knowledge/conditions.yaml",
                "sha256": hashlib.sha256(kb_path.read_bytes()).hexdigest(),
                "num_conditions": len(kb.conditions),
                "num_findings": len(kb.findings),
                "num_exams": len(kb.exams),
            },
            "counts": {**{name: len(records) for name, records in rows.items()}, **calc},
            "accuracy": accuracy,
            "config": config.model_dump(mode="json"),
        }
        _commit(tmp, Path(out_dir), rows, manifest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def heldout_files(config: WorldConfig, size: int, *, skip: int, japanese: bool) -> tuple[dict[str, list[dict]], dict]:
    """Up to ``size`` more test cases for the world that ``config`` builds (fewer when the knowledge base runs
    out of unique cases), after the first ``skip`` cases of the same draw, as files to write with
    :func:`write_files`: ``(rows, manifest)``, where ``rows`` maps each file to its records::

        eval/heldout_{diagnosis,mcq,multiselect}.jsonl   canonical items
        eval/heldout_diagnosis_cpt_only.jsonl            those labelled with a CPT-only condition (if the world has any)
        env/heldout.jsonl                                S4 episodes of the same cases
        eval/heldout_ja_diagnosis{,_cpt_only}.jsonl      with ``japanese``: the diagnosis items asked in Japanese

    and ``manifest`` holds the counts, the cases' chance, prior-only and Bayes-optimal accuracy, and the config.
    The cases share no signature with any split of the world, rl included (:func:`draw_extra_cases`, seeded
    ``"<seed>:heldout"``), and their items are rendered by the code that renders the test items. The world's
    own files are not touched, so every model trained on it stays valid: a larger held-out set for contrasts
    whose confidence interval the world's test split leaves wide.

    The draw is one sequence, so ``skip`` and ``size`` cut it into blocks that share no case: a set already read
    (the cases before ``skip``) stays apart from a fresh one. Item ids count from ``skip`` (``heldout-002000-...``),
    so no two blocks share an id either.
    """
    model, cases = _draw_world(load_knowledge_base(config.knowledge_base), config)
    extra = draw_extra_cases(model, config, cases, skip + size, "heldout")[skip:]
    rows = {**_eval_files(config, "heldout"), "env/heldout.jsonl": []}
    built = [_case_rows(model, config, "heldout", skip + index, case, rows)
             for index, case in enumerate(tqdm(extra, desc="world heldout", unit="case", leave=False))]
    if japanese:
        # one diagnosis item per case, in the order of the cases: the English ids name the same cases
        rows.update(japanese_files(model.kb, [shown for shown, _ in built],
                                   [item["id"] for item in rows["eval/heldout_diagnosis.jsonl"]],
                                   config.cpt_only_conditions, config.enable_pertinent_negatives, "heldout"))
    manifest = {
        "generator": "medreasoner.sim.world.heldout_files",
        "seed": config.seed,
        "skip": skip,
        "counts": {name: len(records) for name, records in rows.items()},
        "accuracy": {"heldout": _accuracy(model, extra, [shown for shown, _ in built], [exams for _, exams in built])},
        "config": config.model_dump(mode="json"),
    }
    return rows, manifest


def write_files(out_dir: str | Path, rows: dict[str, list[dict]], manifest: dict) -> None:
    """Write ``rows`` (file -> records) and ``manifest.json`` into ``out_dir`` through a temporary directory
    beside it, manifest last, so that an interrupted write leaves the earlier files whole."""
    tmp = _temp_beside(Path(out_dir))
    try:
        _commit(tmp, Path(out_dir), rows, manifest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
