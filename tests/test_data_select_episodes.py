"""`select_episodes`: S4 RL candidates from a sampled episodes stage: mixed outcomes kept fewest right first,
the rest dropped with their reason, the env rows passed through verbatim for GRPO; refusals name file and field.

Run: .venv/bin/python -m pytest tests/test_data_select_episodes.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreasoner.cli import main
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.world import build_world
from medreasoner.stages.datasets import load_prompts
from sim_testing import small_world

K = 4
# case index -> episodes right of K; the last training case is not played (as beyond an episodes stage's limit)
OUTCOMES = {0: 4, 1: 0, 2: 1, 3: 3, 4: 2, 5: 1}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("select_episodes")
    build_world(WorldConfig(**small_world(seed=0, train=len(OUTCOMES) + 1, validation=2, test=2)), root / "world")
    return root / "world"


def case_ids(cases: Path) -> list[str]:
    return [json.loads(json.loads(line)["case"])["id"] for line in cases.read_text().splitlines()]


def write_episodes(stage: Path, cases: Path, outcomes: dict[str, int], sampling: dict | None) -> Path:
    """A finished episodes stage's two files, as kind: episodes writes them (the fields this step reads)."""
    stage.mkdir(parents=True)
    k = sampling["num_samples"] if sampling else 1
    records = [{"id": case, "correct": i < right, "sample": i} for case, right in outcomes.items() for i in range(k)]
    (stage / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (stage / "results.json").write_text(json.dumps({"cases": str(cases), "sampling": sampling, "metrics": {}}))
    return stage


def select(tmp_path: Path, episodes: Path, cases: Path, max_cases: str = "null") -> int:
    return main(["data", "select_episodes", "--output", str(tmp_path / "out"), f"episodes={episodes}",
                 f"cases={cases}", f"max_cases={max_cases}", "seed=0"])


def test_mixed_cases_are_kept_fewest_right_first_and_the_rest_dropped_with_reasons(world, tmp_path):
    cases = world / "env" / "train.jsonl"
    ids = case_ids(cases)
    played = {ids[i]: right for i, right in OUTCOMES.items()}
    episodes = write_episodes(tmp_path / "rollouts", cases, played, {"num_samples": K, "temperature": 1.0})
    assert select(tmp_path, episodes, cases, "3") == 0

    out = tmp_path / "out"
    kept = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    # 1/4 twice (cases 2 and 5, in the seeded tie order), then 2/4; 3/4 is over the cap
    assert [row["n_correct"] for row in kept] == [1, 1, 2] and {row["n_samples"] for row in kept} == {K}
    assert {case_ids_of(kept)[0], case_ids_of(kept)[1]} == {ids[2], ids[5]} and case_ids_of(kept)[2] == ids[4]
    rows = {json.loads(line)["case"]: json.loads(line) for line in cases.read_text().splitlines()}
    for row in kept:  # the env row verbatim, plus the two counts
        assert {k: v for k, v in row.items() if k not in ("n_correct", "n_samples")} == rows[row["case"]]
    reasons = {json.loads(line)["id"]: json.loads(line)["reason"] for line in (out / "dropped.jsonl").read_text().splitlines()}
    assert reasons == {ids[0]: "all_correct", ids[1]: "none_correct", ids[3]: "over_cap", ids[6]: "not_played"}
    funnel = json.loads((out / "funnel.json").read_text())
    assert (funnel["in"], funnel["out"]) == (len(ids), 3)
    assert funnel["details"]["n_correct/n_samples"] == {"0/4": 1, "1/4": 2, "2/4": 1, "3/4": 1, "4/4": 1}
    # GRPO reads the output as it reads env/train.jsonl
    assert len(load_prompts(out / "data.jsonl", required_columns=("prompt",), cache_dir=tmp_path / "cache")) == 3

    # The tie order is drawn from (seed, case id): the same seed gives the same rows again.
    assert select(tmp_path / "again", episodes, cases, "3") == 0
    again = [json.loads(line) for line in (tmp_path / "again" / "out" / "data.jsonl").read_text().splitlines()]
    assert again == kept


def case_ids_of(rows: list[dict]) -> list[str]:
    return [json.loads(row["case"])["id"] for row in rows]


def test_a_greedy_stage_another_case_file_or_a_short_case_is_refused_naming_the_file(world, tmp_path, capsys):
    cases = world / "env" / "train.jsonl"
    ids = case_ids(cases)
    greedy = write_episodes(tmp_path / "greedy", cases, {ids[0]: 1}, None)
    assert select(tmp_path, greedy, cases) == 2
    assert f"{greedy / 'results.json'}: field 'sampling': select_episodes needs a sampled" in capsys.readouterr().err

    validation = world / "env" / "validation.jsonl"
    other = write_episodes(tmp_path / "other", validation, {case_ids(validation)[0]: 2},
                           {"num_samples": K, "temperature": 1.0})
    assert select(tmp_path, other, cases) == 2
    assert "field 'cases': this stage played" in capsys.readouterr().err
    assert select(tmp_path, other, validation) == 2  # held-out cases never become training rows
    assert f"{validation}:1: field 'case': case {case_ids(validation)[0]} is a held-out case" in capsys.readouterr().err

    short = write_episodes(tmp_path / "short", cases, {ids[0]: 2}, {"num_samples": K, "temperature": 1.0})
    lines = (short / "predictions.jsonl").read_text().splitlines()
    (short / "predictions.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    assert select(tmp_path, short, cases) == 2
    assert f"case {ids[0]!r} has 3 episodes, sampling says 4" in capsys.readouterr().err
    assert not (tmp_path / "out" / "data.jsonl").exists()  # nothing written by a refused step
