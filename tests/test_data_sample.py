"""Data step ``sample``. Run: .venv/bin/python -m pytest tests/test_data_sample.py -q"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from medreasoner.cli import main
from medreasoner.data import sample
from medreasoner.data.sample import allocate
from medreasoner.errors import InputError
from medreasoner.stages.datasets import load_conversations
from test_data_filter import answer, make_ctx, pool_row, read_jsonl, sample_row, write_jsonl

PAPER_MIX = {"general": 0.50, "math": 0.18, "code": 0.14, "medical": 0.18}  # WiNGPT-3.0 SFT mix
WEIGHTS = {"Basic": 1.0, "Intermediate": 2.0, "Advanced": 3.0}


def rows_for(domain: str, language: str, count: int, *, difficulty: str | None = None, prefix: str = "") -> list[dict]:
    """``count`` verified sample rows (one per question) of one domain and language."""
    out = []
    for index in range(count):
        pool = {**pool_row(f"{prefix}{domain}-{language}-{index}"), "domain": domain, "language": language}
        if difficulty is not None:
            pool["difficulty"] = difficulty
        out.append(sample_row(pool, 0, answer(rf"\boxed{{pneumonia}} ({domain} {index})")))
    return out


def run_sample(tmp_path, rows: list[dict], name: str = "out", **overrides):
    path = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    settings = {"input": str(path), "difficulty_file": None, "size": 100, "difficulty_weights": WEIGHTS,
                "default_difficulty": "Intermediate", "domain_mix": None, "language_mix": None,
                "max_per_question": 1, "seed": 0}
    settings.update(overrides)
    metrics = sample.run(sample.Config.model_validate(settings), make_ctx(tmp_path / name, []))
    out = tmp_path / name
    return metrics, read_jsonl(out / "data.jsonl"), json.loads((out / "funnel.json").read_text())


def test_domain_and_language_mix_hit_their_targets(tmp_path):
    rows = []
    for domain, count in [("general", 300), ("math", 150), ("code", 150), ("medical", 200)]:
        rows += rows_for(domain, "en", count) + rows_for(domain, "zh", count)
    language_mix = {"en": 0.6, "zh": 0.4}
    metrics, kept, funnel = run_sample(tmp_path, rows, size=300, domain_mix=PAPER_MIX, language_mix=language_mix)
    assert len(kept) == 300 and metrics["shortfall"] == 0
    by_domain, by_language = Counter(r["domain"] for r in kept), Counter(r["language"] for r in kept)
    for domain, fraction in PAPER_MIX.items():
        assert abs(by_domain[domain] - 300 * fraction) <= 1  # exact up to rounding
    for language, fraction in language_mix.items():
        assert abs(by_language[language] - 300 * fraction) <= 1
    # The funnel puts the achieved mix next to the target.
    assert funnel["details"]["domain"]["math"]["target"] == by_domain["math"] == funnel["details"]["domain"]["math"]["actual"]
    assert funnel["details"]["shortfall"] == {}
    # Not chosen = dropped with a reason; nothing lost.
    assert funnel["out"] + sum(funnel["dropped"].values()) == len(rows) and set(funnel["dropped"]) == {"not_sampled"}


def test_harder_rows_are_over_represented(tmp_path):
    rows = []
    for label in WEIGHTS:
        rows += rows_for("medical", "en", 300, difficulty=label, prefix=label)
    _, kept, funnel = run_sample(tmp_path, rows, size=150)
    drawn = Counter(r["difficulty"] for r in kept)
    assert drawn["Basic"] < drawn["Intermediate"] < drawn["Advanced"]
    # Weights 1:2:3 over equal pools: without replacement the expected shares are near 1/6, 2/6, 3/6.
    assert 0.08 < drawn["Basic"] / 150 < 0.25 and 0.38 < drawn["Advanced"] / 150 < 0.62
    assert funnel["details"]["difficulty"] == dict(drawn)


def test_seed_determinism(tmp_path):
    rows = rows_for("general", "en", 200) + rows_for("math", "en", 200)
    _, first, _ = run_sample(tmp_path, rows, "a", seed=7)
    _, again, _ = run_sample(tmp_path, rows, "b", seed=7)
    _, other, _ = run_sample(tmp_path, rows, "c", seed=8)
    assert first == again
    assert {r["id"] for r in first} != {r["id"] for r in other}


def test_shortfall_is_reported_not_reweighted(tmp_path):
    rows = rows_for("general", "en", 200) + rows_for("math", "en", 100) + rows_for("code", "en", 100)
    rows += rows_for("medical", "en", 10) + rows_for("law", "en", 5)  # law: not in the mix
    metrics, kept, funnel = run_sample(tmp_path, rows, size=200, domain_mix=PAPER_MIX)
    by_domain = Counter(r["domain"] for r in kept)
    assert by_domain == {"general": 100, "math": 36, "code": 28, "medical": 10}  # medical: all it had
    assert len(kept) == 174 and metrics["shortfall"] == 26
    assert funnel["details"]["shortfall"] == {"medical/*": 26}
    medical = funnel["details"]["domain"]["medical"]
    assert (medical["target"], medical["actual"], medical["target_fraction"]) == (36, 10, 0.18)
    assert funnel["dropped"]["outside_mix"] == 5


def test_cap_per_question_duplicates_and_sft_format(tmp_path):
    pool = {**pool_row("q1"), "domain": "medical", "language": "en"}
    texts = ["first", "second", "second", "third", "fourth"]  # one duplicate response
    rows = [sample_row(pool, i, answer(rf"\boxed{{pneumonia}} {t}", f"Reasoning {t}.")) for i, t in enumerate(texts)]
    rows += rows_for("medical", "en", 3, prefix="x")
    _, kept, funnel = run_sample(tmp_path, rows, size=8, max_per_question=2)
    per_id = Counter(r["id"] for r in kept)
    assert per_id["q1"] == 2 and len({r["messages"][-1]["content"] for r in kept if r["id"] == "q1"}) == 2
    assert len(kept) == 5 and funnel["details"]["shortfall"] == {"*/*": 3}
    assert funnel["dropped"].get("over_cap", 0) + funnel["dropped"].get("duplicate_response", 0) == 3
    # SFT rows: answer-mode prompt + assistant turn with separate reasoning; loadable by the SFT stage.
    row = next(r for r in kept if r["id"] == "q1")
    source = rows[row["sample"]]
    assert row["messages"][:-1] == source["train_prompt"]
    assert row["messages"][-1] == {"role": "assistant", "content": source["content"],
                                   "reasoning_content": source["reasoning_content"]}
    assert (row["domain"], row["language"], row["difficulty"], row["source"]) == ("medical", "en", "Intermediate", "test")
    assert len(load_conversations(tmp_path / "out" / "data.jsonl")) == 5


def test_difficulty_file_join_and_default(tmp_path):
    rows = rows_for("medical", "en", 3)
    rows[1]["difficulty"] = "Basic"
    graded = [{**pool_row(rows[0]["id"]), "difficulty": "Advanced"}]
    difficulty_file = write_jsonl(tmp_path / "difficulty.jsonl", graded)
    _, kept, funnel = run_sample(tmp_path, rows, size=3, difficulty_file=str(difficulty_file),
                                 default_difficulty="Intermediate")
    assert [r["difficulty"] for r in kept] == ["Advanced", "Basic", "Intermediate"]
    assert funnel["details"]["difficulty_from"] == {"file": 1, "row": 1, "default": 1}


def test_allocate_sums_to_size():
    targets = allocate(7, {(d,): f for d, f in PAPER_MIX.items()})
    assert sum(targets.values()) == 7 and targets[("general",)] in (3, 4)


@pytest.mark.parametrize("override,needle", [
    ("domain_mix={general: 0.5, math: 0.4}", "fractions must sum to 1"),
    ("difficulty_weights={Basic: 1, Intermediate: 2}", "missing ['Advanced']"),
    ("size=0", "greater than 0"),
])
def test_cli_bad_config(tmp_path, capsys, override, needle):
    path = write_jsonl(tmp_path / "s.jsonl", rows_for("medical", "en", 3))
    base = {"difficulty_file": "null", "size": "3", "difficulty_weights": "{Basic: 1, Intermediate: 2, Advanced: 3}",
            "default_difficulty": "Basic", "domain_mix": "null", "language_mix": "null", "max_per_question": "1",
            "seed": "0"}
    key = override.split("=")[0]
    args = [f"{k}={v}" for k, v in base.items() if k != key] + [override]
    status = main(["data", "sample", f"input={path}", *args, "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("error:") and "\n" not in err and needle in err


def test_bad_row_and_cli_success(tmp_path, capsys):
    rows = rows_for("medical", "en", 3)
    good = write_jsonl(tmp_path / "good.jsonl", rows)
    args = ["difficulty_file=null", "size=2", "difficulty_weights={Basic: 1, Intermediate: 2, Advanced: 3}",
            "default_difficulty=Basic", "domain_mix={medical: 1.0}", "language_mix=null", "max_per_question=1", "seed=3"]
    assert main(["data", "sample", f"input={good}", *args, "--output", str(tmp_path / "o")]) == 0
    assert len(read_jsonl(tmp_path / "o" / "data.jsonl")) == 2
    rows[2]["train_prompt"] = "not messages"
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    assert main(["data", "sample", f"input={bad}", *args, "--output", str(tmp_path / "p")]) == 2
    assert f"{bad}:3: field 'train_prompt'" in capsys.readouterr().err
    with pytest.raises(InputError, match="field 'difficulty'"):
        rows[2] = {**rows[1], "sample": 1, "difficulty": "Hard"}
        run_sample(tmp_path, rows, "q")
