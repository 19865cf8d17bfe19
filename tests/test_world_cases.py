"""A built world's cases redrawn from its manifest (``medreasoner.sim.world_cases``): the Bayes decision
from the exams an episode ordered, which the episodes stage reports as ``exam_choice_accuracy``.

Run: .venv/bin/python -m pytest tests/test_world_cases.py -q
"""

from __future__ import annotations

import json

import pytest

from sim_testing import small_world

from medreasoner.errors import InputError
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.expert import expert_exams
from medreasoner.sim.world import build_world
from medreasoner.sim.world_cases import load_world_cases

WORLD = small_world(seed=4, train=30, validation=40, test=20)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world_cases") / "world"
    build_world(WorldConfig(**WORLD), out)
    return out


def _hidden(world, split):
    return [json.loads(json.loads(line)["case"]) for line in (world / f"env/{split}.jsonl").read_text().splitlines()]


def test_redrawn_cases_reproduce_the_worlds_own_figures(world):
    """Every episode's label is the Bayes decision with every exam, and the expert's exams read by the Bayes
    decision give the manifest's expert accuracy; with no exam, the summary-only figure."""
    cases = load_world_cases(world)
    manifest = json.loads((world / "manifest.json").read_text())
    kb = cases.model.kb
    for split in ("validation", "test"):
        hidden = _hidden(world, split)
        expert = summary = 0
        for h in hidden:
            label = h["label"]["name"]
            assert cases.bayes_answer(h["id"], list(h["menu"]), label) == label
            expert += cases.bayes_answer(h["id"], expert_exams(cases.model, cases.cases[h["id"]]), label) == label
            summary += cases.bayes_answer(h["id"], [], label) == label
        assert expert / len(hidden) == manifest["accuracy"][split]["expert_episode_accuracy"]
        assert summary / len(hidden) == manifest["accuracy"][split]["summary_only_episode_accuracy"]
        # the answer depends on which exams were read: somewhere one exam changes the decision
        label = {h["id"]: h["label"]["name"] for h in hidden}
        assert any(cases.bayes_answer(i, [exam], label[i]) != cases.bayes_answer(i, [], label[i])
                   for h in hidden for i in [h["id"]] for exam in h["menu"])
    assert {h["id"] for h in _hidden(world, "train")} <= set(cases.cases)
    assert all(kb.exams[e].en == h["menu"][e]["name"] for h in _hidden(world, "test") for e in h["menu"])


def test_a_world_that_does_not_match_its_manifest_is_refused(world, tmp_path):
    cases = load_world_cases(world)
    h = _hidden(world, "validation")[0]
    wrong = next(name for name in ("Acute bronchitis", "Influenza") if name != h["label"]["name"])
    with pytest.raises(InputError, match=r"manifest.json: field 'config': case validation-000000: the redrawn"):
        cases.bayes_answer(h["id"], [], wrong)
    with pytest.raises(InputError, match="no case 'validation-999999'"):
        cases.bayes_answer("validation-999999", [], h["label"]["name"])
    edited = tmp_path / "world"
    edited.mkdir()
    manifest = json.loads((world / "manifest.json").read_text())
    manifest["knowledge_base"]["sha256"] = "0" * 64
    (edited / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="field 'knowledge_base.sha256': the knowledge base .* changed"):
        load_world_cases(edited)
    with pytest.raises(InputError, match="not a world directory"):
        load_world_cases(tmp_path)
