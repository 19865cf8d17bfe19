"""Data step ``filter``. Run: .venv/bin/python -m pytest tests/test_data_filter.py -q"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreasoner.cli import main
from medreasoner.data import filter as filter_step
from medreasoner.data.filter import repetition_fraction, text_tokens, think_problem
from medreasoner.data.pool import question_messages
from medreasoner.errors import InputError
from medreasoner.stages.context import StageContext

GOOD_REASONING = "Fever with a productive cough and focal crackles points to a lower respiratory infection."


def pool_row(qid: str, *, verifiable: bool = True, gold: str = "pneumonia", question: str | None = None) -> dict:
    row = {"id": qid, "domain": "medical", "language": "en", "source": "test",
           "question": question or f"Case {qid}: fever, cough, crackles. Diagnosis?", "verifier": None}
    if verifiable:
        row.update(verifier="diagnosis", gold={"text": gold}, options={}, meta={})
    return row


def sample_row(pool: dict, sample: int, response: str, *, finish_reason: str = "stop", tokens: int = 50) -> dict:
    reasoning, _, content = response.partition("</think>")
    return {**pool, "sample": sample, "prompt": question_messages(pool, "explain"),
            "train_prompt": question_messages(pool, "answer"), "response": response,
            "reasoning_content": reasoning.replace("<think>", "").strip() or None, "content": content.strip(),
            "finish_reason": finish_reason, "prompt_tokens": 20, "completion_tokens": tokens,
            "generator": {"model": "test"}}


def answer(text: str, reasoning: str = GOOD_REASONING) -> str:
    return f"<think>\n{reasoning}\n</think>\n\n{text}"


def make_ctx(out_dir: Path, logged: list) -> StageContext:
    """A StageContext writing to ``out_dir`` whose logger appends ``(step, metrics)`` to ``logged``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return StageContext(run_dir=out_dir.parent, out_dir=out_dir, seed=0, log=lambda m, step: logged.append((step, m)))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("response,require,expected", [
    ("<think>\nr\n</think>\n\nB", True, None),
    ("  \n<think>r</think>B", True, None),                       # leading whitespace is allowed
    ("B, no reasoning", True, "missing"),
    ("B, no reasoning", False, None),
    ("   ", False, "empty_answer"),
    ("<think>a<think>b</think>c</think>B", True, "extra_tags"),  # nested block
    ("<think>a</think>B<think>c</think>D", True, "extra_tags"),  # two blocks
    ("<think>a</think></think>B", True, "extra_tags"),
    ("<think>still thinking when cut off", True, "unclosed"),
    ("prefilled</think>B", True, "no_open_tag"),
    ("Answer first <think>r</think>B", False, "not_at_start"),
    ("<think> \n </think>B", True, "empty_reasoning"),
    ("<think>r</think>\n\n  ", True, "empty_answer"),
])
def test_think_format_cases(response, require, expected):
    assert think_problem(response, require) == expected


def test_repetition_fraction_words_and_japanese():
    looping = "I think it is pneumonia. " * 20
    varied = "Fever, cough and crackles over the right base suggest a bacterial pneumonia in this patient."
    assert repetition_fraction(looping, 4) > 0.9
    assert repetition_fraction(varied, 4) == 0.0
    assert repetition_fraction("too short", 4) == 0.0
    # Japanese has no spaces: each character is a token, so character n-grams are counted.
    assert text_tokens("肺炎です") == ["肺", "炎", "で", "す"]
    assert repetition_fraction("診断は肺炎です。" * 15, 4) > 0.8
    assert repetition_fraction("発熱と咳嗽があり、右下肺野で水泡音を聴取したため細菌性肺炎を疑う。", 4) < 0.1


def build_sample_file(tmp_path: Path) -> tuple[Path, dict[tuple[str, int], str | None]]:
    """Sample rows with one planted fault each; returns the file and the expected reason per (id, sample)."""
    verifiable, open_row = pool_row("v1"), pool_row("u1", verifiable=False, question="Explain asthma to a parent.")
    loop = "pneumonia " * 200
    cases = [
        (sample_row(verifiable, 0, answer(r"\boxed{pneumonia}")), None),
        (sample_row(verifiable, 1, answer(r"\boxed{asthma}")), "wrong_answer"),
        (sample_row(verifiable, 2, "\\boxed{pneumonia}"), "think_format:missing"),
        (sample_row(verifiable, 3, answer(r"\boxed{pneumonia}", loop)), "repetition"),
        (sample_row(verifiable, 4, answer("x", "short")), "too_short"),
        (sample_row(verifiable, 5, answer(r"\boxed{pneumonia}"), finish_reason="length"), "truncated"),
        # fails both repetition and verified: the earlier check (repetition) names the reason
        (sample_row(verifiable, 6, answer(r"\boxed{gout}", loop)), "repetition"),
        (sample_row(open_row, 0, answer("Asthma narrows the airways; an inhaler opens them.")), None),
        (sample_row(open_row, 1, "<think>a<think>b</think></think>Asthma narrows the airways."), "think_format:extra_tags"),
    ]
    path = write_jsonl(tmp_path / "samples.jsonl", [row for row, _ in cases])
    return path, {(row["id"], row["sample"]): reason for row, reason in cases}


def config(path: Path, checks: list[str], **sections) -> filter_step.Config:
    defaults = {"think_format": {"require_think": True}, "repetition": {"n": 4, "threshold": 0.3},
                "length": {"unit": "chars", "min_length": 40, "max_length": 5000, "drop_truncated": True},
                "verified": {"mode": "normalized"}}
    defaults.update(sections)
    return filter_step.Config.model_validate({"input": str(path), "checks": checks,
                                              **{name: defaults[name] for name in checks}})


def test_filter_drops_each_planted_fault_with_first_failing_reason(tmp_path):
    path, expected = build_sample_file(tmp_path)
    out = tmp_path / "out"
    metrics = filter_step.run(config(path, ["think_format", "repetition", "length", "verified"]), make_ctx(out, []))

    kept = read_jsonl(out / "data.jsonl")
    dropped = {(d["id"], d["sample"]): d for d in read_jsonl(out / "dropped.jsonl")}
    assert {(r["id"], r["sample"]) for r in kept} == {key for key, reason in expected.items() if reason is None}
    assert {key: d["reason"] for key, d in dropped.items()} == {k: r for k, r in expected.items() if r is not None}
    assert "asthma" in dropped[("v1", 1)]["detail"]              # the wrong answer is named
    assert float(dropped[("v1", 3)]["detail"].split()[0]) > 0.3  # measured repetition fraction
    # Kept rows are the input rows, every column intact.
    originals = {(r["id"], r["sample"]): r for r in read_jsonl(path)}
    assert all(row == originals[(row["id"], row["sample"])] for row in kept)
    # The unverifiable row passed `verified` untouched; the funnel adds up per check.
    funnel = json.loads((out / "funnel.json").read_text())
    assert funnel["in"] == 9 and funnel["out"] == 2 and metrics["dropped/repetition"] == 2
    assert funnel["details"]["think_format"] == {"checked": 9, "dropped": 2}
    assert funnel["details"]["verified"] == {"checked": 3, "dropped": 1, "passed_unverifiable": 1}


def test_check_order_decides_the_reason(tmp_path):
    path, _ = build_sample_file(tmp_path)
    out = tmp_path / "out"
    filter_step.run(config(path, ["verified", "repetition"]), make_ctx(out, []))
    dropped = {(d["id"], d["sample"]): d["reason"] for d in read_jsonl(out / "dropped.jsonl")}
    assert dropped[("v1", 6)] == "wrong_answer"  # verified now runs first
    assert dropped[("v1", 3)] == "repetition"    # correct answer, still looping


def test_length_in_tokens(tmp_path):
    row = pool_row("v1")
    rows = [sample_row(row, i, answer(r"\boxed{pneumonia}"), tokens=t) for i, t in enumerate([5, 50, 500])]
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    out = tmp_path / "out"
    filter_step.run(config(path, ["length"], length={"unit": "tokens", "min_length": 10, "max_length": 100,
                                                      "drop_truncated": False}), make_ctx(out, []))
    assert [r["sample"] for r in read_jsonl(out / "data.jsonl")] == [1]
    assert [d["reason"] for d in read_jsonl(out / "dropped.jsonl")] == ["too_short", "too_long"]


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory) -> Path:
    """A tiny randomly initialised scalar reward model (Qwen2 backbone + 1-logit head)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from medreasoner.model import build_tiny_model

    root = tmp_path_factory.mktemp("rm")
    corpus = ["Explain asthma to a parent. Asthma narrows the airways.", "fever cough pneumonia \\boxed{}",
              GOOD_REASONING, "Reply with only the diagnosis, written inside"]
    backbone = build_tiny_model(root / "lm", size="tiny-0.5m", corpus=corpus, seed=0, vocab_size=300,
                                max_position_embeddings=512)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=1)
    model.save_pretrained(root / "rm")
    AutoTokenizer.from_pretrained(backbone).save_pretrained(root / "rm")
    return root / "rm"


def test_reward_model_scores_only_unverifiable_rows(tmp_path, tiny_rm):
    verifiable, open_row = pool_row("v1"), pool_row("u1", verifiable=False, question="Explain asthma to a parent.")
    texts = ["Asthma narrows the airways.", "An inhaler opens the airways.", "Asthma is common in children.",
             "Airways swell and tighten.", "Triggers include dust and cold air."]
    rows = [sample_row(open_row, i, answer(t)) for i, t in enumerate(texts)]
    rows.append(sample_row(verifiable, 0, answer(r"\boxed{pneumonia}")))
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    section = {"model_path": str(tiny_rm), "batch_size": 2, "device": "cpu", "dtype": "float32",
               "max_length": 512, "strip_reasoning": False, "prompt_column": "train_prompt"}

    # A threshold above any logit drops every scored row: the verifiable row is never scored.
    high = tmp_path / "high"
    metrics = filter_step.run(config(path, ["reward_model"], reward_model={**section, "threshold": 1e9}),
                              make_ctx(high, []))
    assert [(r["id"], r["sample"]) for r in read_jsonl(high / "data.jsonl")] == [("v1", 0)]
    assert metrics["dropped/low_reward"] == 5
    scores = {d["sample"]: float(d["detail"].split()[1]) for d in read_jsonl(high / "dropped.jsonl")}
    details = json.loads((high / "funnel.json").read_text())["details"]["reward_model"]
    assert details["scored"] == 5 and details["not_scored_verifiable"] == 1
    assert len(set(scores.values())) > 1  # the scores differ per response

    # A threshold inside the widest gap between scores keeps exactly the rows above it.
    ranked = sorted(scores.values())
    gap = max(range(4), key=lambda i: ranked[i + 1] - ranked[i])
    threshold = (ranked[gap] + ranked[gap + 1]) / 2
    mid = tmp_path / "mid"
    filter_step.run(config(path, ["reward_model"], reward_model={**section, "threshold": threshold}), make_ctx(mid, []))
    kept = {r["sample"] for r in read_jsonl(mid / "data.jsonl") if r["id"] == "u1"}
    assert kept == {s for s, score in scores.items() if score > threshold}

    # The score is the RM's logit on the chat-rendered train prompt + response, computed independently here.
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_rm)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_rm).eval()
    text = tokenizer.apply_chat_template(rows[0]["train_prompt"] + [{"role": "assistant", "content": rows[0]["response"]}],
                                         tokenize=False)
    with torch.no_grad():
        logit = model(**tokenizer(text, return_tensors="pt", add_special_tokens=False)).logits[0, 0].item()
    assert logit == pytest.approx(scores[0], abs=1e-3)


def test_cli_runs_filter_end_to_end(tmp_path, capsys):
    path, expected = build_sample_file(tmp_path)
    out = tmp_path / "cli"
    status = main(["data", "filter", f"input={path}", "checks=[think_format,verified]",
                   "think_format.require_think=true", "verified.mode=normalized", "--output", str(out)])
    assert status == 0
    kept = read_jsonl(out / "data.jsonl")
    # Only format and answer were checked: the looping (3) and truncated (5) rows pass.
    assert {(r["id"], r["sample"]) for r in kept} == {("v1", 0), ("v1", 3), ("v1", 5), ("u1", 0)}
    assert "filter" in capsys.readouterr().out


@pytest.mark.parametrize("overrides,needle", [
    (["checks=[repetition]", "repetition.n=4", "repetition.threshold=1.5"], "repetition.threshold"),
    (["checks=[repetition]"], "has no 'repetition' section"),
    (["checks=[verified]", "verified.mode=normalized", "length={unit: chars, min_length: 1, max_length: null, "
      "drop_truncated: true}"], "not listed in checks"),
    (["checks=[verified]", "verified.mode=exact"], "verified.mode"),
])
def test_cli_bad_config_is_one_line_error(tmp_path, capsys, overrides, needle):
    path, _ = build_sample_file(tmp_path)
    status = main(["data", "filter", f"input={path}", *overrides, "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("error:") and "\n" not in err and needle in err


def test_cli_bad_row_names_file_line_field(tmp_path, capsys):
    path, _ = build_sample_file(tmp_path)
    rows = read_jsonl(path)
    del rows[3]["response"]
    write_jsonl(path, rows)
    status = main(["data", "filter", f"input={path}", "checks=[verified]", "verified.mode=normalized",
                   "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err == f"error: {path}:4: field 'response': expected the generated text (a string)"


def test_missing_column_for_enabled_check_and_all_dropped(tmp_path):
    path, _ = build_sample_file(tmp_path)
    rows = read_jsonl(path)
    del rows[1]["finish_reason"]
    write_jsonl(path, rows)
    with pytest.raises(InputError, match=r":2: field 'finish_reason'"):
        filter_step.run(config(path, ["length"]), make_ctx(tmp_path / "a", []))
    # Everything dropped: an error naming the reasons, after dropped.jsonl and funnel.json are written.
    with pytest.raises(InputError, match=r"all 9 rows were dropped \(too_short: 9\)"):
        filter_step.run(config(path, ["length"], length={"unit": "chars", "min_length": 10_000, "max_length": None,
                                                         "drop_truncated": False}), make_ctx(tmp_path / "b", []))
    assert len(read_jsonl(tmp_path / "b" / "dropped.jsonl")) == 9
