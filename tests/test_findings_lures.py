"""Net-of-lures probe findings: margins (subset accuracy - lure rate) compared across models."""

from __future__ import annotations

import json

import pytest

from report_testing import seed_runs

from medreasoner.cli import main
from medreasoner.files import write_json_atomic

CONTRAST = ("findings:\n  - name: net\n    benchmark: rare\n    control: {stage: probe_base, scoring: calibrated}\n"
            "    treatment: {stage: probe_cpt, scoring: calibrated}\n    target: t\n    net_of_lures: true\n")


def _member(i: int, gold: str, right: bool) -> dict:
    """Subset item ``s<i>`` whose gold (A) is the name ``gold``."""
    return {"id": f"s{i}", "gold": "A", "gold_name": gold, "subsets": ["rare"], "lures": {},
            "calibrated_choice": "A" if right else "C", "calibrated_correct": right}


def _lure(i: int, name: str, picked: bool) -> dict:
    """Item ``l<i>`` outside the subset that offers ``name`` as lure B."""
    return {"id": f"l{i}", "gold": "A", "gold_name": "asthma", "subsets": [], "lures": {"rare": {"B": name}},
            "calibrated_choice": "B" if picked else "A", "calibrated_correct": not picked}


def _write_stage(run, name: str, rows: list[dict]) -> None:
    (run / name).mkdir(parents=True)
    (run / name / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_json_atomic(run / name / "probe.json", {"subsets": {"all": {}, "rare": {}, "not_rare": {}}})


def _probe_stage(run, name: str, subset_right: list[bool], lure_picked: list[bool], lures: bool = True) -> None:
    """A finished probe stage: items s0.. in subset ``rare`` (gold A, "migraine"), then items offering
    "migraine" as lure B, then one item offering none."""
    rows = [_member(i, "migraine", right) for i, right in enumerate(subset_right)]
    rows += [_lure(i, "migraine", picked) for i, picked in enumerate(lure_picked)]
    rows.append({"id": "x", "gold": "A", "gold_name": "gout", "subsets": [], "lures": {}, "calibrated_choice": "C",
                 "calibrated_correct": False})
    if not lures:
        rows = [{k: v for k, v in row.items() if k != "lures"} for row in rows]
    _write_stage(run, name, rows)


def _report(tmp_path, runs, text: str) -> int:
    findings = tmp_path / "findings.yaml"
    findings.write_text(text)
    return main(["report", *map(str, runs), "--output", str(tmp_path / "report"), "--findings", str(findings)])


def test_a_model_that_only_learned_the_names_gains_nothing_net_of_lures(tmp_path):
    runs = seed_runs(tmp_path, 2)
    for run in runs:
        _probe_stage(run, "probe_base", [False, False], [False, False, False, False])
        _probe_stage(run, "probe_cpt", [True, True], [True, True, True, True])  # picks the names everywhere
    assert _report(tmp_path, runs, CONTRAST + CONTRAST.replace("findings:\n", "").replace("name: net", "name: plain")
                   .replace("    net_of_lures: true\n", "")) == 0
    net, plain = json.loads((tmp_path / "report" / "findings.json").read_text())
    assert plain["pooled"]["effect"] == 1.0 and net["pooled"]["effect"] == 0.0
    assert net["pooled"]["ci_low"] < 0 < net["pooled"]["ci_high"]  # constant differences: no zero-width interval
    assert [(s["n"], s["n_lures"], s["control"], s["treatment"]) for s in net["per_seed"]] == [(2, 4, 0.0, 0.0)] * 2


def test_net_of_lures_subtracts_the_change_in_lure_picks(tmp_path):
    runs = seed_runs(tmp_path, 2)
    for run, picked in zip(runs, ([True, True, False, False], [True, False, False, False])):
        _probe_stage(run, "probe_base", [False, True], [False, False, False, True])
        _probe_stage(run, "probe_cpt", [True, True], picked)
    assert _report(tmp_path, runs, CONTRAST) == 0
    (net,) = json.loads((tmp_path / "report" / "findings.json").read_text())
    # seed 0: subset +0.5, lures 0.5 - 0.25 = +0.25 -> +0.25; seed 1: +0.5 - 0.0 -> +0.5
    assert [s["effect"] for s in net["per_seed"]] == [0.25, 0.5]
    assert [(s["control"], s["treatment"]) for s in net["per_seed"]] == [(0.25, 0.5), (0.25, 0.75)]
    assert net["pooled"]["effect"] == 0.375 and net["pooled"]["ci_low"] <= 0.375 <= net["pooled"]["ci_high"]
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| net | run | 2 + 4 | 25.0 | 50.0 | +25.0 |" in report and "A net-of-lures row" in report


def test_net_of_lures_needs_probe_cells_on_a_subset_and_probes_with_lure_letters(tmp_path, capsys):
    runs = seed_runs(tmp_path, 1)
    _probe_stage(runs[0], "probe_base", [False], [False], lures=False)
    _probe_stage(runs[0], "probe_cpt", [True], [False], lures=False)
    assert _report(tmp_path, runs, CONTRAST.replace("benchmark: rare", "benchmark: not_rare")) == 2
    assert "net_of_lures needs probe cells and a subset" in capsys.readouterr().err
    assert _report(tmp_path, runs, CONTRAST) == 2
    assert "predates them (rebuild it with --rerun)" in capsys.readouterr().err


def test_net_of_lures_weighs_each_name_by_its_share_of_the_subset(tmp_path):
    runs = seed_runs(tmp_path, 1)
    # migraine: 3 subset items, gout: 1; the treatment gains on both names' items and picks gout as a lure
    # on 2 of its 2 lure items, migraine on none of its 2.
    def stage(name, right, picked):
        rows = [_member(i, gold, ok) for i, (gold, ok) in enumerate(zip(["migraine"] * 3 + ["gout"], right))]
        lures = ["migraine", "migraine", "gout", "gout"]
        rows += [_lure(i, lure, hit) for i, (lure, hit) in enumerate(zip(lures, picked))]
        _write_stage(runs[0], name, rows)

    stage("probe_base", [False] * 4, [False] * 4)
    stage("probe_cpt", [True, True, False, True], [False, False, True, True])
    assert _report(tmp_path, runs, CONTRAST) == 0
    (net,) = json.loads((tmp_path / "report" / "findings.json").read_text())
    # migraine: 0.75 x (2/3 - 0); gout: 0.25 x (1 - 1) -> 0.5
    assert net["per_seed"][0]["effect"] == pytest.approx(0.5) and net["per_seed"][0]["treatment"] == pytest.approx(0.5)


def test_net_of_lures_pairs_the_names_and_items_both_probes_hold(tmp_path):
    runs = seed_runs(tmp_path, 1)
    # The treatment lacks item s1 and never saw gout's lure item: gout drops out (no paired lure item), and
    # migraine is paired on s0 and l0 only.
    _write_stage(runs[0], "probe_base", [_member(0, "migraine", False), _member(1, "migraine", True),
                                         _member(2, "gout", False), _lure(0, "migraine", False),
                                         _lure(1, "gout", True)])
    _write_stage(runs[0], "probe_cpt", [_member(0, "migraine", True), _member(2, "gout", True),
                                        _lure(0, "migraine", False)])
    assert _report(tmp_path, runs, CONTRAST) == 0
    (net,) = json.loads((tmp_path / "report" / "findings.json").read_text())
    seed = net["per_seed"][0]
    assert (seed["n"], seed["n_lures"], seed["control"], seed["treatment"], seed["effect"]) == (1, 1, 0.0, 1.0, 1.0)


def test_the_pooled_row_counts_only_the_seeds_it_pools(tmp_path):
    runs = seed_runs(tmp_path, 2)
    _probe_stage(runs[0], "probe_base", [False, True], [False, False])
    _probe_stage(runs[0], "probe_cpt", [True, True], [False, False])
    # seed 1's probes share no subset item: it has a row of its own but nothing to pool
    _write_stage(runs[1], "probe_base", [_member(0, "migraine", False), _lure(0, "migraine", False)])
    _write_stage(runs[1], "probe_cpt", [_member(1, "migraine", True), _lure(0, "migraine", False)])
    assert _report(tmp_path, runs, CONTRAST) == 0
    (net,) = json.loads((tmp_path / "report" / "findings.json").read_text())
    assert [s["n"] for s in net["per_seed"]] == [2, 0]
    assert net["pooled"]["seeds"] == 1 and net["pooled"]["effect"] == net["per_seed"][0]["effect"] == 0.5
    assert "| net | pooled (1 seed) |" in (tmp_path / "report" / "report.md").read_text()
    # the plain contrast of the same cells (items paired one by one) pools the same single seed
    plain = CONTRAST.replace("name: net", "name: plain").replace("    net_of_lures: true\n", "")
    assert _report(tmp_path, runs, plain) == 0
    (row,) = json.loads((tmp_path / "report" / "findings.json").read_text())
    assert [s["n"] for s in row["per_seed"]] == [2, 0] and row["pooled"]["seeds"] == 1
    assert row["pooled"]["effect"] == row["per_seed"][0]["effect"] == 0.5


def test_the_interval_resamples_items_within_each_name(tmp_path):
    """Name by name: a name whose items all gain alike adds no width; pooling its items with another
    name's would (an unstratified bootstrap over the 80 items is about 1.2 times as wide)."""
    def widths(names: list[str]) -> float:
        root = tmp_path / "_".join(names)
        root.mkdir()
        runs = seed_runs(root, 1)
        for stage, right in (("probe_base", lambda i, name: False),
                             ("probe_cpt", lambda i, name: name == "migraine" or i % 2 == 0)):
            rows = [_member(len(names) * i + k, name, right(i, name)) for i in range(40) for k, name in enumerate(names)]
            rows += [_lure(k, name, False) for k, name in enumerate(names)]
            _write_stage(runs[0], stage, rows)
        assert _report(root, runs, CONTRAST) == 0
        (net,) = json.loads((root / "report" / "findings.json").read_text())
        return net["pooled"]["ci_high"] - net["pooled"]["ci_low"]

    both, gout = widths(["migraine", "gout"]), widths(["gout"])
    assert both == pytest.approx(gout / 2, rel=0.1)
