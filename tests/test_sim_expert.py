"""The label-blind S4 expert (``medreasoner.sim.expert``): it decides from what it has seen, and its
episodes are what ``env/sft_train.jsonl`` demonstrates.

Run: .venv/bin/python -m pytest tests/test_sim_expert.py -q
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from sim_testing import small_world

from medreasoner.sim.chain import posterior, probability_model
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.expert import (
    MAX_EXAMS,
    MIN_GAIN,
    expected_accuracy,
    expert_continuation,
    expert_diagnosis,
    expert_exams,
)
from medreasoner.sim.kb import load_knowledge_base
from medreasoner.sim.world import build_world, draw_cases

WORLD = small_world(seed=3, train=60, validation=40, test=40)


@pytest.fixture(scope="module")
def setting():
    config = WorldConfig(**WORLD)
    model = probability_model(load_knowledge_base(), config.noise)
    return model, draw_cases(model, config, random.Random(config.seed))["validation"]


def test_exams_depend_only_on_what_was_seen(setting):
    """Flipping every finding of an exam the expert did not order changes neither its exams nor its
    answer, while those findings can change the label (Bayes-optimal with every exam)."""
    model, cases = setting
    kb = model.kb
    label_changed = 0
    for case in cases:
        exams = expert_exams(model, case)
        unseen = {f for f, _ in case.findings if kb.findings[f].exam is not None and kb.findings[f].exam not in exams}
        flipped = dataclasses.replace(case, findings=tuple((f, not v) if f in unseen else (f, v) for f, v in case.findings))
        assert expert_exams(model, flipped) == exams
        assert expert_diagnosis(model, flipped, exams) == expert_diagnosis(model, case, exams)
        label = lambda c: posterior(model, c.setting, c.presentation, c.observed(kb, None)).best  # noqa: E731
        label_changed += label(flipped) != label(case)
    assert label_changed > 0  # the check above is not vacuous: the hidden results do decide some labels


def test_orders_within_the_menu_and_stops(setting):
    model, cases = setting
    kb = model.kb
    counts = []
    for case in cases:
        exams = expert_exams(model, case)
        assert len(exams) == len(set(exams)) <= MAX_EXAMS
        assert set(exams) <= set(kb.presentation_exams(case.presentation))
        counts.append(len(exams))
        if len(exams) < MAX_EXAMS:  # it stopped: no exam left is worth MIN_GAIN
            observed = case.observed(kb, exams)
            now = max(posterior(model, case.setting, case.presentation, observed).posterior)
            gains = [expected_accuracy(model, case, observed, e) - now
                     for e in kb.presentation_exams(case.presentation) if e not in exams]
            assert all(g < MIN_GAIN for g in gains)
    assert 0 in counts and max(counts) >= 2  # some summaries suffice, some need several exams


def test_information_never_lowers_expected_accuracy(setting):
    """E[max_c P(c | o)] >= max_c P(c): the value of information is never negative (Howard 1966)."""
    model, cases = setting
    kb = model.kb
    for case in cases[:10]:
        observed = case.observed(kb, [])
        now = max(posterior(model, case.setting, case.presentation, observed).posterior)
        for exam in kb.presentation_exams(case.presentation):
            assert expected_accuracy(model, case, observed, exam) >= now - 1e-12


def test_world_demonstrates_the_expert_and_reports_its_accuracy(tmp_path, setting):
    model, _ = setting
    manifest = build_world(WorldConfig(**WORLD), tmp_path / "w")
    train = [json.loads(line) for line in (tmp_path / "w/env/train.jsonl").read_text().splitlines()]
    demos = [json.loads(line) for line in (tmp_path / "w/env/sft_train.jsonl").read_text().splitlines()]
    cases = draw_cases(model, WorldConfig(**WORLD), random.Random(WORLD["seed"]))["train"]
    assert len(demos) == len(train) == len(cases)
    for row, demo, case in zip(train, demos, cases):
        hidden = json.loads(row["case"])
        exams = expert_exams(model, case)
        calls = [m["tool_calls"][0]["function"]["arguments"]["name"] for m in demo["messages"] if m.get("tool_calls")]
        assert calls == [hidden["menu"][e]["name"] for e in exams]
        stated = model.kb.condition(expert_diagnosis(model, case, exams)).en
        assert demo["messages"][-1]["content"].endswith(f"\\boxed{{{stated}}}")
    for split in ("validation", "test"):
        figures = manifest["accuracy"][split]
        # reading results pays: the expert beats deciding from the summary alone, and orders exams
        assert figures["summary_only_episode_accuracy"] < figures["expert_episode_accuracy"] <= 1.0
        assert 0 < figures["expert_episode_exams"] <= MAX_EXAMS


def test_continuation_takes_over_from_any_exams_ordered(setting):
    """After its own first k exams the expert orders the rest of its path; after another exam it never
    repeats one, and :data:`MAX_EXAMS` counts the exams already ordered."""
    model, cases = setting
    kb = model.kb
    detoured = 0
    for case in cases:
        path = expert_exams(model, case)
        for k in range(len(path) + 1):
            assert expert_continuation(model, case, path[:k]) == path[k:]
        menu = kb.presentation_exams(case.presentation)
        for other in (e for e in menu if e not in path[:1]):
            rest = expert_continuation(model, case, [other])
            assert other not in rest and len(rest) == len(set(rest)) and 1 + len(rest) <= MAX_EXAMS
            detoured += rest != path
        assert expert_continuation(model, case, list(menu)[:MAX_EXAMS]) == []
    assert detoured  # a detour changes what the expert does next
