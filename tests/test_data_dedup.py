"""The ``dedup`` data step: planted near duplicates go, distinct (even templated) questions stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from stage_testing import override_args

from medreasoner.cli import main
from medreasoner.data import dedup
from medreasoner.data.text_keys import ShingleHasher, normalise
from medreasoner.errors import InputError
from medreasoner.recipe import load_recipe
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.world import build_world
from medreasoner.stages.context import StageContext

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world_questions(tmp_path_factory) -> list[dict]:
    """300 test diagnosis items of a small synthetic world (templated vignettes, distinct cases)."""
    config = yaml.safe_load((REPO / "configs" / "world" / "tiny.yaml").read_text(encoding="utf-8"))
    config.update(num_cases={"train": 20, "validation": 10, "test": 300, "rl": 0}, num_cpt_case_reports=5)
    out = tmp_path_factory.mktemp("world") / "w"
    build_world(WorldConfig.model_validate(config), out)
    return [json.loads(line) for line in (out / "eval" / "test_diagnosis.jsonl").read_text(encoding="utf-8").splitlines()]


def pool_row(row_id: str, question: str) -> dict:
    return {"id": row_id, "domain": "medical", "language": "en", "question": question, "source": "test"}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


# Every setting a dedup config must spell out (the values of the shipped recipes, seed aside).
SETTINGS = {"text_fields": ["question"], "message_roles": ["user"], "threshold": 0.9, "shingle": 5,
            "char_shingle": 10, "num_perm": 128, "false_negative_weight": 0.9, "seed": 1, "embedding": None}
CLI_SETTINGS = override_args(SETTINGS)


def make_config(**settings) -> dedup.Config:
    return dedup.Config(**{**SETTINGS, **settings})


def run_step(tmp_path: Path, rows: list[dict], **settings) -> tuple[dict, list[dict], list[dict]]:
    """Run dedup on ``rows``; return (funnel, kept rows, dropped records)."""
    config = dedup.Config(input=str(write_rows(tmp_path / "in.jsonl", rows)), **{**SETTINGS, **settings})
    out = tmp_path / "out"
    dedup.run(config, StageContext(run_dir=tmp_path, out_dir=out, seed=0, log=lambda metrics, step: None))
    read = lambda name: [json.loads(line) for line in (out / name).read_text(encoding="utf-8").splitlines()]
    return json.loads((out / "funnel.json").read_text(encoding="utf-8")), read("data.jsonl"), read("dropped.jsonl")


def recased_copy(text: str) -> str:
    """Same question: upper case, punctuation dropped, lines joined by double spaces."""
    return "  ".join(text.upper().replace(".", "").replace(";", ",").split("\n"))


def test_planted_near_duplicates_go_and_templated_distinct_cases_stay(tmp_path, world_questions):
    questions = [item["question"] for item in world_questions]
    hasher = ShingleHasher(5, 10)
    shingles = [hasher(normalise(q)) for q in questions]
    closest = max(dedup.jaccard(shingles[i], shingles[j]) for i in range(len(questions)) for j in range(i))
    # The world's distinct cases are near misses: some pair shares most of its shingles.
    assert 0.75 < closest < 0.9
    rows = [pool_row(item["id"], item["question"]) for item in world_questions]
    # One changed finding word inside a vignette is a different case, not a duplicate.
    flipped = questions[0].replace("negative", "positive", 1) if "negative" in questions[0] else questions[0] + " Afebrile."
    rows.append(pool_row("finding-changed", flipped))
    planted = {
        "copy-recased": recased_copy(questions[3]),
        "copy-appended": questions[5] + " Please answer.",
        "copy-prefixed": "Case: " + questions[7],
        "copy-exact": questions[9],
    }
    rows += [pool_row(row_id, text) for row_id, text in planted.items()]
    funnel, kept, dropped = run_step(tmp_path, rows)
    assert {record["id"] for record in dropped} == set(planted)
    details = {record["id"]: record["detail"] for record in dropped}
    assert details == {"copy-recased": world_questions[3]["id"], "copy-appended": world_questions[5]["id"],
                       "copy-prefixed": world_questions[7]["id"], "copy-exact": world_questions[9]["id"]}
    assert {record["reason"] for record in dropped} == {"near_duplicate"}
    assert [row["id"] for row in kept] == [row["id"] for row in rows if row["id"] not in planted]
    assert funnel["in"] == len(rows) and funnel["out"] == len(kept) and funnel["dropped"] == {"near_duplicate": 4}
    assert funnel["details"]["threshold"] == 0.9


def test_only_kept_rows_are_matched_and_the_threshold_is_exact(tmp_path):
    words = [f"w{k}" for k in range(120)]
    # Shifted windows of 100 words: J(A, B) = J(B, C) = 93/99 = 0.94, J(A, C) = 90/102 = 0.88.
    texts = {"A": words[0:100], "B": words[3:103], "C": words[6:106]}
    rows = [pool_row(key, " ".join(text)) for key, text in texts.items()]
    rows.append(pool_row("B-copy", " ".join(texts["B"]).upper()))
    _, kept, dropped = run_step(tmp_path, rows)
    assert [row["id"] for row in kept] == ["A", "C"]  # C is close only to B, which was dropped
    # A copy of a dropped row names the kept row that row repeats.
    assert dropped == [{"id": "B", "reason": "near_duplicate", "detail": "A"},
                       {"id": "B-copy", "reason": "near_duplicate", "detail": "A"}]
    _, kept, dropped = run_step(tmp_path, rows, threshold=0.95)
    assert [row["id"] for row in kept] == ["A", "B", "C"]
    assert dropped == [{"id": "B-copy", "reason": "near_duplicate", "detail": "B"}]


def test_japanese_questions_use_character_shingles(tmp_path):
    base = ("72歳の女性。3日前からの発熱と右季肋部痛とを主訴に来院した。体温38.4℃。右季肋部に圧痛を認める。"
            "血液検査で白血球増多を認める。最も考えられるのはどれか。")
    other = base.replace("右季肋部", "左下腹部")  # another case: two place words changed
    rows = [pool_row("ja-1", base), pool_row("ja-2", other),
            pool_row("ja-1-spaced", base.replace("。", "。 ").replace("、", " ")),
            pool_row("ja-1-fullwidth", base.replace("72", "７２").replace("38.4", "３８．４"))]
    _, kept, dropped = run_step(tmp_path, rows)
    assert [row["id"] for row in kept] == ["ja-1", "ja-2"]
    assert {record["id"]: record["detail"] for record in dropped} == {"ja-1-spaced": "ja-1", "ja-1-fullwidth": "ja-1"}


def test_message_rows_without_ids_compare_user_turns_only(tmp_path):
    system = {"role": "system", "content": "You are a careful physician. " * 20}
    question = "A 30-year-old man has fever, productive cough and crackles over the right lower lobe. Diagnosis?"
    rows = [
        {"messages": [system, {"role": "user", "content": question}, {"role": "assistant", "content": "Pneumonia"}]},
        {"messages": [system, {"role": "user", "content": "An 8-year-old girl has wheeze after exercise. Diagnosis?"},
                      {"role": "assistant", "content": "Asthma"}]},
        {"messages": [system, {"role": "user", "content": question.upper()}, {"role": "assistant", "content": "CAP"}]},
    ]
    _, kept, dropped = run_step(tmp_path, rows, text_fields=["messages"])
    assert len(kept) == 2 and kept[1]["messages"][1]["content"].startswith("An 8-year-old")
    assert dropped == [{"id": "line:3", "reason": "near_duplicate", "detail": "line:1"}]


def test_bad_rows_and_settings_fail_with_file_line_field(tmp_path, capsys):
    path = write_rows(tmp_path / "bad.jsonl", [pool_row("a", "fever and cough"), {"id": "b", "text": "no question"}])
    with pytest.raises(InputError) as error:
        dedup.run(make_config(input=str(path)), StageContext(tmp_path, tmp_path / "o", 0, lambda m, s: None))
    assert str(error.value) == f"{path}:2: field 'question': missing field (see the step's text_fields)"
    path = write_rows(tmp_path / "bad2.jsonl", [{"messages": [{"role": "user", "content": ["not", "text"]}]}])
    with pytest.raises(InputError, match=r"bad2.jsonl:1: field 'messages\[0\].content': expected a string"):
        dedup.run(make_config(input=str(path), text_fields=["messages"]), StageContext(tmp_path, tmp_path / "o", 0, lambda m, s: None))
    with pytest.raises(ValidationError):
        make_config(input="x", threshold=1.5)
    with pytest.raises(ValidationError):
        make_config(input="x", shingles=5)  # unknown key (typo of shingle)
    assert main(["data", "dedup", "--output", str(tmp_path / "cli"), f"input={tmp_path / 'absent.jsonl'}",
                 *CLI_SETTINGS]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {tmp_path / 'absent.jsonl'}: file not found"
    assert main(["data", "dedup", "--output", str(tmp_path / "cli"), f"input={path}", *CLI_SETTINGS, "num_perm=0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "num_perm" in err and "Traceback" not in err


def test_cli_writes_the_funnel(tmp_path, capsys):
    path = write_rows(tmp_path / "pool.jsonl", [pool_row("a", "Fever and cough for three days in a young adult."),
                                                 pool_row("b", "fever, and cough for three days in a young adult")])
    assert main(["data", "dedup", "--output", str(tmp_path / "out"), f"input={path}", *CLI_SETTINGS,
                 "threshold=0.8"]) == 0
    funnel = json.loads((tmp_path / "out" / "funnel.json").read_text(encoding="utf-8"))
    assert (funnel["in"], funnel["out"], funnel["dropped"], funnel["details"]["threshold"]) == (2, 1, {"near_duplicate": 1}, 0.8)
    capsys.readouterr()


def test_the_shipped_settings_file_runs_the_step_alone_with_the_tiny_recipes_values(tmp_path, capsys):
    # the README's and `medreasoner data --help`'s example; its input is overridden to a file of our own
    path = write_rows(tmp_path / "pool.jsonl", [pool_row("a", "Fever and cough for three days in a young adult."),
                                                 pool_row("b", "fever, and cough for three days in a young adult")])
    assert main(["data", "dedup", "--config", str(REPO / "configs/data/dedup.yaml"), "--output", str(tmp_path / "out"),
                 f"input={path}", "threshold=0.8"]) == 0
    assert json.loads((tmp_path / "out" / "funnel.json").read_text(encoding="utf-8"))["out"] == 1
    shipped = {s.name: s.config for s in load_recipe(REPO / "recipes/tiny/pipeline.yaml").stages}["pool"]
    settings = yaml.safe_load((REPO / "configs/data/dedup.yaml").read_text(encoding="utf-8"))
    assert {k: v for k, v in settings.items() if k != "input"} == \
        {k: v for k, v in shipped.model_dump().items() if k != "input"}
    capsys.readouterr()


def test_embedding_pass_drops_rephrased_questions(tmp_path, world_questions):
    from medreasoner.model import build_tiny_model

    questions = [item["question"] for item in world_questions[:40]]
    model = build_tiny_model(tmp_path / "embedder", size="tiny-0.5m", corpus=questions, seed=0,
                             vocab_size=400, max_position_embeddings=512)
    rephrased = questions[0].replace("What is the most likely diagnosis?", "Which diagnosis is most likely here?")
    rows = [pool_row(world_questions[k]["id"], questions[k]) for k in range(40)] + [pool_row("rephrased", rephrased)]
    section = {"model_path": str(model), "threshold": 0.995, "batch_size": 8, "max_length": 256, "device": "cpu"}
    vectors = dedup.embed([questions[0], rephrased, questions[0]], dedup.EmbeddingSection(**section))
    assert abs(float(vectors[0] @ vectors[2]) - 1.0) < 1e-5 and float(vectors[0] @ vectors[1]) >= 0.995
    _, kept, _ = run_step(tmp_path, rows)
    assert "rephrased" in [row["id"] for row in kept]  # MinHash alone: the last sentence changed, J < 0.9
    funnel, kept, dropped = run_step(tmp_path, rows, embedding=section)
    assert dropped == [{"id": "rephrased", "reason": "embedding_duplicate", "detail": world_questions[0]["id"]}]
    assert len(kept) == 40 and funnel["details"]["embedding_threshold"] == 0.995
    with pytest.raises(InputError, match="not a local model directory"):
        run_step(tmp_path, rows, embedding={**section, "model_path": str(tmp_path / "absent")})
