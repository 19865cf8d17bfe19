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
SAMPLING = {"num_samples": K, "temperature": 1.0, "top_p": 1.0}  # as GRPO's rollouts sample, K per case
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


def select(tmp_path: Path, episodes: Path, cases: Path, max_cases: str = "null", seed: int | None = 0) -> int:
    return main(["data", "select_episodes", "--output", str(tmp_path / "out"), f"episodes={episodes}",
                 f"cases={cases}", f"max_cases={max_cases}", f"seed={'null' if seed is None else seed}"])


def test_mixed_cases_are_kept_fewest_right_first_and_the_rest_dropped_with_reasons(world, tmp_path):
    cases = world / "env" / "train.jsonl"
    ids = case_ids(cases)
    played = {ids[i]: right for i, right in OUTCOMES.items()}
    episodes = write_episodes(tmp_path / "rollouts", cases, played, SAMPLING)
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

    # The tie order is drawn from (seed, case id), not from the file: the same cases in reverse order give the
    # same rows, and some other seed swaps the two 1/4 cases.
    reverse = tmp_path / "reversed.jsonl"
    reverse.write_text("".join(reversed(cases.read_text().splitlines(keepends=True))))
    reversed_episodes = write_episodes(tmp_path / "reversed_rollouts", reverse, played,
                                       SAMPLING)
    assert select(tmp_path / "again", reversed_episodes, reverse, "3") == 0
    assert read_rows(tmp_path / "again" / "out") == kept
    swapped = []
    for seed in range(1, 20):
        assert select(tmp_path / f"seed{seed}", episodes, cases, "3", seed=seed) == 0
        order = case_ids_of(read_rows(tmp_path / f"seed{seed}" / "out"))
        assert set(order[:2]) == {ids[2], ids[5]} and order[2] == ids[4]
        swapped.append(order[:2] != case_ids_of(kept)[:2])
    assert any(swapped) and not all(swapped)


def read_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]


def test_a_relative_case_path_names_the_same_file_and_null_cap_keeps_every_candidate(world, tmp_path, monkeypatch):
    monkeypatch.chdir(world.parent)  # results.json names the cases as the recipe did, relative to the run's cwd
    cases = world / "env" / "train.jsonl"
    ids = case_ids(cases)
    episodes = write_episodes(tmp_path / "rollouts", Path("world/env/train.jsonl"), {ids[0]: 2, ids[1]: 3},
                              SAMPLING)
    assert select(tmp_path, episodes, cases) == 0
    assert [row["n_correct"] for row in read_rows(tmp_path / "out")] == [2, 3]


def test_a_run_with_no_candidate_stops_after_writing_the_reasons(world, tmp_path, capsys):
    cases = world / "env" / "train.jsonl"
    ids = case_ids(cases)
    episodes = write_episodes(tmp_path / "rollouts", cases, {ids[0]: 0, ids[1]: K}, SAMPLING)
    assert select(tmp_path, episodes, cases) == 2
    assert str(cases) in capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "funnel.json").read_text())["dropped"] == \
        {"all_correct": 1, "none_correct": 1, "not_played": len(ids) - 2}
    assert not (tmp_path / "out" / "data.jsonl").exists()


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
                           SAMPLING)
    assert select(tmp_path, other, cases) == 2
    assert "field 'cases': this stage played" in capsys.readouterr().err
    assert select(tmp_path, other, validation) == 2  # held-out cases never become training rows
    assert f"{validation}:1: field 'case': case {case_ids(validation)[0]} is a held-out case" in capsys.readouterr().err

    short = write_episodes(tmp_path / "short", cases, {ids[0]: 2}, SAMPLING)
    lines = (short / "predictions.jsonl").read_text().splitlines()
    (short / "predictions.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    assert select(tmp_path, short, cases) == 2
    assert f"case {ids[0]!r} has 3 episodes, sampling says 4" in capsys.readouterr().err

    unknown = write_episodes(tmp_path / "unknown", cases, {ids[0]: 2, "train-999999": 1},
                             SAMPLING)
    assert select(tmp_path, unknown, cases) == 2
    assert "field 'id': case 'train-999999' (and 0 more) is not a row of" in capsys.readouterr().err

    damaged = write_episodes(tmp_path / "damaged", cases, {ids[0]: 2}, SAMPLING)
    for text, problem in (('{"cases": ', "results.json:1: not valid JSON"),
                          ('{"cases": null, "sampling": {"num_samples": 4}}', "field 'cases'"),
                          (json.dumps({"cases": str(cases), "sampling": {"temperature": 1.0}}),
                           "field 'sampling': sampling.num_samples must be an integer >= 2, got None")):
        (damaged / "results.json").write_text(text)
        assert select(tmp_path, damaged, cases) == 2
        assert problem in capsys.readouterr().err

    twice = tmp_path / "twice.jsonl"
    twice.write_text(cases.read_text() + cases.read_text().splitlines(keepends=True)[0])
    doubled = write_episodes(tmp_path / "doubled", twice, {ids[0]: 2}, SAMPLING)
    assert select(tmp_path, doubled, twice) == 2
    assert f"{twice}:{len(ids) + 1}: field 'case': case {ids[0]} is also on line 1" in capsys.readouterr().err
    assert not (tmp_path / "out" / "data.jsonl").exists()  # nothing written by a refused step
