"""Arrow-backed training-data loaders: errors, Parquet = JSONL, exact messages, the cache.

Run: .venv/bin/python -m pytest tests/test_stage_datasets.py -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import Dataset
from transformers import TrainingArguments

from medreasoner.errors import InputError
from medreasoner.model import train_tokenizer
from medreasoner.stages import dataset_cache
from medreasoner.stages import datasets as loaders
from medreasoner.stages.datasets import load_conversations, load_preferences, load_prompts, load_text_corpus

TOOLS = [{"type": "function", "function": {"name": "request_exam", "parameters": {
             "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}},
         {"type": "function", "function": {"name": "submit_diagnosis", "parameters": {
             "type": "object", "properties": {"diagnosis": {"type": "string"}, "confidence": {"type": "number"}}}}}]


def _call(name: str, arguments: dict) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
        "name": name, "arguments": arguments}}]}


# Messages with different keys (reasoning_content on one assistant turn only, tool_calls, name) and
# tool calls with different argument keys: what Arrow structs would pad with None.
CONVERSATIONS = [
    {"messages": [{"role": "user", "content": "Fever and cough. Diagnosis?"},
                  _call("request_exam", {"name": "chest x-ray"}),
                  {"role": "tool", "name": "request_exam", "content": "right lower lobe consolidation"},
                  {"role": "assistant", "content": "\\boxed{pneumonia}", "reasoning_content": "Consolidation."}],
     "tools": TOOLS},
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Wheeze. Diagnosis?"},
                  _call("submit_diagnosis", {"diagnosis": "asthma", "confidence": 0.5}),
                  {"role": "tool", "name": "submit_diagnosis", "content": "recorded"},
                  {"role": "assistant", "content": "\\boxed{asthma}"}],
     "tools": json.dumps(TOOLS)},
]
USER = [{"role": "user", "content": "Pallor. Diagnosis?"}]
REPLY = [{"role": "assistant", "content": "anemia", "reasoning_content": "pallor"}]
BAD = [{"role": "assistant", "content": "gout"}]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_parquet(path, rows):
    """A Parquet file of ``rows``: a column per key of any row, null where a row lacks the key."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    pq.write_table(pa.Table.from_pydict({key: [row.get(key) for row in rows] for key in keys}), path)
    return path


def rows_of(dataset):
    return [dict(row) for row in dataset]


def render(tokenizer, row):
    tools = json.loads(row["tools"]) if isinstance(row.get("tools"), str) else row.get("tools")
    return tokenizer.apply_chat_template(row["messages"], tools=tools, tokenize=False)


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer([json.dumps(row) for row in CONVERSATIONS], vocab_size=400)


def test_conversations_come_back_exactly_as_written_and_render_the_same(tmp_path, tokenizer):
    # A blank line and a byte-order mark are accepted, as by every JSONL reader of the project.
    path = tmp_path / "sft.jsonl"
    first, second = (json.dumps(row) for row in CONVERSATIONS)
    path.write_text(f"\ufeff{first}\n\n{second}\n", encoding="utf-8")
    dataset = load_conversations(path, cache_dir=tmp_path / "cache")
    assert [row["messages"] for row in dataset] == [row["messages"] for row in CONVERSATIONS]
    assert [json.loads(tools) for tools in dataset["tools"]] == [TOOLS, TOOLS]
    assert [render(tokenizer, row) for row in dataset] == [render(tokenizer, row) for row in CONVERSATIONS]
    # The pitfall the Json feature avoids: as Arrow structs (Dataset.from_list), every message carries
    # every other message's keys as None, and the template renders another tool's argument as null.
    structs = Dataset.from_list([{**row, "tools": dataset[index]["tools"]} for index, row in enumerate(CONVERSATIONS)])
    assert structs[0]["messages"][0]["reasoning_content"] is None
    assert '"diagnosis": null' in render(tokenizer, structs[0])
    assert '"diagnosis": null' not in render(tokenizer, dataset[0])


def test_preferences_and_prompts_keep_messages_exact(tmp_path):
    pairs = [{"prompt": USER, "chosen": REPLY, "rejected": BAD, "margin": 2},
             {"prompt": [{"role": "system", "content": "s"}, *USER], "chosen": BAD, "rejected": REPLY}]
    dataset = load_preferences(write_jsonl(tmp_path / "pref.jsonl", pairs), with_margin=True, cache_dir=tmp_path)
    assert rows_of(dataset) == [{**pairs[0], "margin": 2.0}, {**pairs[1], "margin": 1.0}]
    assert "margin" not in load_preferences(tmp_path / "pref.jsonl", with_margin=False, cache_dir=tmp_path).column_names


def test_prompt_columns_pass_through_with_one_type_each(tmp_path):
    rows = [{"prompt": USER, "item": '{"gold": 1}', "n": 3, "score": 1, "note": None, "meta": {"k": [1, "a"]}},
            {"prompt": USER, "item": "{}", "n": 4, "score": 0.25, "note": "x", "meta": {"other": True}}]
    dataset = load_prompts(write_jsonl(tmp_path / "p.jsonl", rows), required_columns=("prompt", "item"),
                           cache_dir=tmp_path)
    assert rows_of(dataset) == [{**rows[0], "score": 1.0}, rows[1]]
    assert isinstance(dataset[0]["item"], str)  # a string holding JSON stays a string
    assert isinstance(dataset[0]["n"], int) and isinstance(dataset[0]["score"], float)
    assert dataset.column_names == list(rows[0])
    rows[1]["n"] = "4"
    with pytest.raises(InputError, match=r"p.jsonl:2: field 'n': expected int like the rows before, got string"):
        load_prompts(write_jsonl(tmp_path / "p.jsonl", rows), required_columns=("prompt",), cache_dir=tmp_path)
    with pytest.raises(InputError, match=r"p.jsonl:1: field 'answer': missing column"):
        load_prompts(tmp_path / "p.jsonl", required_columns=("answer",), cache_dir=tmp_path)
    write_jsonl(tmp_path / "p.jsonl", [{"prompt": USER, "a": 1}, {"prompt": USER, "b": 1}])
    with pytest.raises(InputError, match=r"p.jsonl:2: row keys \['b', 'prompt'\] differ"):
        load_prompts(tmp_path / "p.jsonl", required_columns=("prompt",), cache_dir=tmp_path)


@pytest.mark.parametrize("loader, rows, message", [
    (lambda p, c: load_conversations(p, cache_dir=c),
     [CONVERSATIONS[0], {"messages": [{"role": "doctor", "content": "q"}]}],
     r"field 'messages\[0\]': role must be one of"),
    (lambda p, c: load_conversations(p, cache_dir=c), [CONVERSATIONS[0], {"messages": USER}],
     r"field 'messages': the last message must be the assistant's"),
    (lambda p, c: load_preferences(p, with_margin=True, cache_dir=c),
     [{"prompt": USER, "chosen": REPLY, "rejected": BAD}, {"prompt": USER, "chosen": USER, "rejected": BAD}],
     r"field 'chosen': expected exactly one assistant message"),
    (lambda p, c: load_preferences(p, with_margin=True, cache_dir=c),
     [{"prompt": USER, "chosen": REPLY, "rejected": BAD},
      {"prompt": USER, "chosen": REPLY, "rejected": BAD, "margin": 0}],
     r"field 'margin': margin must be a positive number"),
    (lambda p, c: load_text_corpus(p, cache_dir=c), [{"text": "ok"}, {"text": ""}],
     r"field 'text': expected a non-empty"),
])
def test_a_bad_row_is_named_by_line_in_jsonl_and_by_row_in_parquet(tmp_path, loader, rows, message):
    with pytest.raises(InputError, match=r"bad.jsonl:2: " + message):
        loader(write_jsonl(tmp_path / "bad.jsonl", rows), tmp_path / "cache")
    with pytest.raises(InputError, match=r"bad.parquet: row 1: " + message):
        loader(write_parquet(tmp_path / "bad.parquet", rows), tmp_path / "cache")


def test_a_float_the_json_storage_would_change_is_refused_by_field(tmp_path):
    rows = [{"messages": [*USER, _call("set_zoom", {"zoom": 0.7})]}]
    rows[0]["messages"].append({"role": "assistant", "content": "done"})
    with pytest.raises(InputError, match=r"x.jsonl:1: field 'messages\[1\]\.tool_calls\[0\]\.function\.arguments\.zoom'"
                                         r": 0.7 would be read back as 0.7000000000000001"):
        load_conversations(write_jsonl(tmp_path / "x.jsonl", rows), cache_dir=tmp_path)
    rows[0]["messages"][1]["tool_calls"][0]["function"]["arguments"] = {"zoom": "0.7", "steps": 2**70}
    with pytest.raises(InputError, match=r"arguments\.steps': 1180591620717411303424 cannot be stored"):
        load_conversations(write_jsonl(tmp_path / "x.jsonl", rows), cache_dir=tmp_path)


def test_parquet_and_jsonl_give_identical_datasets(tmp_path):
    # tools as JSON strings: an Arrow column cannot hold lists in one row and strings in another.
    conversations = [{**row, "tools": json.dumps(TOOLS)} for row in CONVERSATIONS]
    from_jsonl = load_conversations(write_jsonl(tmp_path / "sft.jsonl", conversations), cache_dir=tmp_path)
    # Parquet written from plain rows holds Arrow structs (every missing key null) ...
    from_structs = load_conversations(write_parquet(tmp_path / "sft.parquet", conversations), cache_dir=tmp_path)
    # ... and Parquet written by datasets holds its Json feature (Arrow's JSON extension type).
    from_jsonl.to_parquet(tmp_path / "json.parquet")
    from_json = load_conversations(tmp_path / "json.parquet", cache_dir=tmp_path)
    for dataset in (from_structs, from_json):
        assert dataset.features == from_jsonl.features and rows_of(dataset) == rows_of(from_jsonl)
    # A margin column with nulls in Parquet = rows without margin in JSONL (m = 1).
    pairs = [{"prompt": USER, "chosen": REPLY, "rejected": BAD, "margin": 3.0},
             {"prompt": USER, "chosen": REPLY, "rejected": BAD}]
    parquet_pairs = load_preferences(write_parquet(tmp_path / "p.parquet", pairs), with_margin=True, cache_dir=tmp_path)
    jsonl_pairs = load_preferences(write_jsonl(tmp_path / "p.jsonl", pairs), with_margin=True, cache_dir=tmp_path)
    assert rows_of(parquet_pairs) == rows_of(jsonl_pairs) == [pairs[0], {**pairs[1], "margin": 1.0}]
    prompts = [{"prompt": USER, "item": "a", "n": 1},
               {"prompt": [{"role": "system", "content": "s"}, *USER], "item": "b", "n": 2}]
    write_parquet(tmp_path / "g.parquet", prompts)
    write_jsonl(tmp_path / "g.jsonl", prompts)
    loaded = [rows_of(load_prompts(tmp_path / name, required_columns=(), cache_dir=tmp_path))
              for name in ("g.parquet", "g.jsonl")]
    assert loaded == [prompts, prompts]


def test_corpus_directory_mixes_txt_jsonl_and_parquet(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("first document", encoding="utf-8")
    write_jsonl(corpus / "b.jsonl", [{"text": "second"}])
    write_parquet(corpus / "c.parquet", [{"text": "third"}, {"text": "fourth"}])
    texts = load_text_corpus(corpus, cache_dir=tmp_path / "cache")["text"]
    assert texts == ["first document", "second", "third", "fourth"]
    (corpus / "d.txt").write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(InputError, match=r"d.txt:1: document is not valid UTF-8"):
        load_text_corpus(corpus, cache_dir=tmp_path / "cache")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"broken.parquet: not a readable Parquet file"):
        load_text_corpus(tmp_path / "broken.parquet", cache_dir=tmp_path / "cache")


def test_a_second_load_maps_the_cache_without_reading_the_file_and_a_changed_file_rebuilds(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "sft.jsonl", CONVERSATIONS)
    cache = tmp_path / "cache"
    first = load_conversations(path, cache_dir=cache)
    files = [entry["filename"] for entry in first.cache_files]
    assert len(files) == 1 and files[0].startswith(str(cache / "generator"))

    def no_reading(*args):
        raise AssertionError("the rows were read again")

    monkeypatch.setattr(loaders, "_conversation_rows", no_reading)
    second = load_conversations(path, cache_dir=cache)
    assert [entry["filename"] for entry in second.cache_files] == files and rows_of(second) == rows_of(first)
    monkeypatch.undo()
    write_jsonl(path, CONVERSATIONS[:1])  # new size and modification time: a new cache
    third = load_conversations(path, cache_dir=cache)
    assert len(third) == 1 and [entry["filename"] for entry in third.cache_files] != files


def test_process_group_timeout_is_the_trainers():
    # The loaders may start the process group before the Trainer does; it must get the Trainer's timeout.
    default = TrainingArguments.__dataclass_fields__["ddp_timeout"].default
    assert dataset_cache.PROCESS_GROUP_TIMEOUT == timedelta(seconds=default)


RANK_SCRIPT = """
import sys
from accelerate import PartialState
from medreasoner.stages import datasets as loaders
built = []
rows = loaders._conversation_rows


def counting_rows(*args):
    built.append(1)
    yield from rows(*args)


loaders._conversation_rows = counting_rows
dataset = loaders.load_conversations(sys.argv[1], cache_dir=sys.argv[2])
state = PartialState()
print(f"rank={state.process_index} of={state.num_processes} built={bool(built)} rows={len(dataset)} "
      f"file={dataset.cache_files[0]['filename']}")
"""


@pytest.mark.slow
def test_under_a_two_process_launch_rank_0_builds_and_rank_1_maps(tmp_path):
    path = write_jsonl(tmp_path / "sft.jsonl", CONVERSATIONS)
    script = tmp_path / "ranks.py"
    script.write_text(RANK_SCRIPT, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(script), str(path), str(tmp_path / "cache")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = sorted(line for line in result.stdout.splitlines() if line.startswith("rank="))
    files = {line.split("file=")[1] for line in lines}
    ranks = [line.split(" file=")[0] for line in lines]
    assert ranks == ["rank=0 of=2 built=True rows=2", "rank=1 of=2 built=False rows=2"]
    assert len(files) == 1
