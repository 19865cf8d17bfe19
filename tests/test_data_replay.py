"""Data step ``replay``: CPT text mixed into SFT conversations, and how the chat templates mask a replayed row.

Run: .venv/bin/python -m pytest tests/test_data_replay.py -q
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from trl.chat_template_utils import qwen3_chat_template

from medreasoner.cli import main
from medreasoner.data import replay
from medreasoner.errors import InputError
from medreasoner.model import load_tokenizer
from medreasoner.stages.datasets import load_conversations
from medreasoner.stages.template_probe import trainer_template
from medreasoner.templates import TEMPLATES, shipped_template
from stage_testing import override_args
from test_chat_templates import FAMILY, families  # noqa: F401 (families: the Qwen, Llama 3 and base tokenizers)
from test_data_filter import make_ctx, read_jsonl, write_jsonl

CONVERSATIONS = [{"messages": [{"role": "user", "content": f"Case {i}: fever. Diagnosis?"},
                               {"role": "assistant", "content": "\\boxed{pneumonia}", "reasoning_content": "fever"}]}
                 for i in range(10)]
TEXTS = [{"text": f"Case report {i}. Findings: photophobia. Final diagnosis: Migraine."} for i in range(4)]


def run_replay(tmp_path, *, ratio: float, seed: int = 0, name: str = "out", texts: list[dict] = TEXTS):
    settings = {"input": str(write_jsonl(tmp_path / "sft.jsonl", CONVERSATIONS)),
                "text": str(write_jsonl(tmp_path / f"{name}_cpt.jsonl", texts)), "ratio": ratio, "seed": seed}
    metrics = replay.run(replay.Config.model_validate(settings), make_ctx(tmp_path / name, []))
    out = tmp_path / name
    return metrics, read_jsonl(out / "data.jsonl"), json.loads((out / "funnel.json").read_text())


def replayed_texts(rows: list[dict]) -> list[str]:
    return [row["messages"][0]["content"] for row in rows[len(CONVERSATIONS):]]


def test_conversations_kept_and_text_rows_follow_as_prompt_less_assistant_turns(tmp_path):
    metrics, rows, funnel = run_replay(tmp_path, ratio=0.2)
    assert rows[:len(CONVERSATIONS)] == CONVERSATIONS
    texts = replayed_texts(rows)
    assert len(texts) == 2 == metrics["text_rows"] and len(set(texts)) == 2  # without replacement
    assert all(row == {"messages": [{"role": "assistant", "content": row["messages"][0]["content"]}]}
               for row in rows[len(CONVERSATIONS):])
    assert set(texts) <= {t["text"] for t in TEXTS}
    # The undrawn text rows are accounted for, by the line they came from.
    dropped = read_jsonl(tmp_path / "out" / "dropped.jsonl")
    assert funnel["dropped"] == {"not_sampled": 2} and len({d["id"] for d in dropped}) == 2
    assert funnel["in"] + funnel["details"]["repeated_text_rows"] == 14 == funnel["out"] + 2
    assert all(d["id"].startswith("text-") for d in dropped)
    # The SFT stage's reader takes the mix as it is.
    assert len(load_conversations(tmp_path / "out" / "data.jsonl")) == 12


def test_more_text_rows_than_the_corpus_holds_take_whole_passes_first(tmp_path):
    _, rows, funnel = run_replay(tmp_path, ratio=1.1)  # 11 text rows from 4: two passes, then 3 distinct
    counts = Counter(replayed_texts(rows))
    assert sorted(counts.values()) == [2, 3, 3, 3]
    assert funnel["details"]["passes"] == 2 and funnel["dropped"] == {}
    # every row read is written or dropped; a row written again is counted as repeated
    assert funnel["in"] + funnel["details"]["repeated_text_rows"] == funnel["out"] == 21


def test_seed_determinism(tmp_path):
    many = [{"text": f"Case report {i}."} for i in range(40)]
    first = replayed_texts(run_replay(tmp_path, ratio=0.5, seed=3, name="a", texts=many)[1])
    again = replayed_texts(run_replay(tmp_path, ratio=0.5, seed=3, name="b", texts=many)[1])
    other = replayed_texts(run_replay(tmp_path, ratio=0.5, seed=4, name="c", texts=many)[1])
    assert first == again and set(first) != set(other)


@pytest.mark.parametrize("rows, field", [
    ([{"text": "ok"}, {"txt": "typo"}], "text"),
    ([{"text": "ok"}, {"text": "   "}], "text"),
])
def test_bad_text_row_is_one_line_naming_file_line_and_field(tmp_path, capsys, rows, field):
    sft = write_jsonl(tmp_path / "sft.jsonl", CONVERSATIONS)
    cpt = write_jsonl(tmp_path / "cpt.jsonl", rows)
    args = override_args({"input": str(sft), "text": str(cpt), "ratio": 0.5, "seed": 0})
    assert main(["data", "replay", *args, "--output", str(tmp_path / "o")]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "cpt.jsonl:2" in message and f"field {field!r}" in message
    assert not (tmp_path / "o" / "data.jsonl").exists()


def test_a_ratio_that_rounds_to_no_text_rows_is_refused(tmp_path):
    with pytest.raises(InputError, match="0 text rows") as error:
        run_replay(tmp_path, ratio=0.04)  # 0.4 of a row
    assert "ratio" in error.value.message and not (tmp_path / "out" / "data.jsonl").exists()


def test_missing_setting_is_refused(tmp_path, capsys):
    args = override_args({"input": str(write_jsonl(tmp_path / "sft.jsonl", CONVERSATIONS)),
                          "text": str(write_jsonl(tmp_path / "cpt.jsonl", TEXTS)), "seed": 0})
    assert main(["data", "replay", *args, "--output", str(tmp_path / "o")]) == 2
    assert "ratio" in capsys.readouterr().err


# --- what a replayed row trains on, under every shipped template and TRL's own Qwen3 training copy -------


TEMPLATE_CASES = {name: (FAMILY[name], shipped_template(name)) for name in TEMPLATES}


@pytest.mark.parametrize("name", [*TEMPLATE_CASES, "trl-qwen3-training"])
def test_the_mask_covers_the_whole_text_and_nothing_outside_the_turn(families, name):
    if name == "trl-qwen3-training":  # what SFTTrainer swaps in for the tiny model's own (TRL) template
        tokenizer = load_tokenizer(families["qwen"], padding_side="right")
        tokenizer.chat_template = qwen3_chat_template
        template = trainer_template(tokenizer, trainer="sft", assistant_only_loss=True, tools=False)
        assert template != qwen3_chat_template
    else:
        family, template = TEMPLATE_CASES[name]
        tokenizer = load_tokenizer(families[family], padding_side="right")
    text = TEXTS[0]["text"]
    encoded = tokenizer.apply_chat_template([{"role": "assistant", "content": text}], chat_template=template,
                                            return_dict=True, return_assistant_tokens_mask=True)
    pairs = list(zip(encoded["input_ids"], encoded["assistant_masks"]))
    masked = tokenizer.decode([t for t, m in pairs if m])
    unmasked = tokenizer.decode([t for t, m in pairs if not m])
    assert text in masked and "Migraine" not in unmasked
    # Around the text the mask holds at most an empty think block before it and the end-of-turn token after.
    before, after = masked.split(text)
    assert before.replace("<think>", "").replace("</think>", "").strip() == ""
    assert after.strip() in {"<|im_end|>", "<|eot_id|>", "<|endoftext|>"}


def test_docstring_examples():
    import doctest

    result = doctest.testmod(replay)
    assert result.attempted >= 2 and result.failed == 0
