"""Prompt templates (data files) and their rendering; the predictions file's resume and repair rules.

Run: .venv/bin/python -m pytest tests/test_eval_prompts.py -q
"""

from __future__ import annotations

import json

import pytest
from eval_support import write_igakuqa, write_medcalc, write_medqa

from medreasoner.benchmarks import load_benchmark
from medreasoner.errors import InputError
from medreasoner.eval.predictions import PredictionsFile
from medreasoner.eval.prompts import (
    FAMILIES,
    MODES,
    PromptBuilder,
    find_igakuqa_prompts,
    load_igakuqa_exemplars,
    load_template,
)


@pytest.fixture(scope="module")
def igakuqa(tmp_path_factory):
    root = write_igakuqa(tmp_path_factory.mktemp("igakuqa") / "IgakuQA")
    return root, {item.id: item for item in load_benchmark("igakuqa", root)}


@pytest.mark.parametrize("benchmark", sorted(FAMILIES))
@pytest.mark.parametrize("mode", MODES)
def test_every_template_loads(benchmark, mode):
    template = load_template(benchmark, mode)
    assert template.version >= 1 and template.user


def test_igakuqa_answer_prompt_is_the_baseline_format(igakuqa):
    root, items = igakuqa
    exemplars = load_igakuqa_exemplars(find_igakuqa_prompts(root / "data" / "2018"))
    prompt = PromptBuilder("igakuqa", "answer", "chat", exemplars, None).render(items["112A2"])
    messages = prompt.messages
    assert messages[0] == {"role": "system", "content": "医師国家試験を解きます。"}
    assert [m["role"] for m in messages[1:]] == ["user", "assistant"] * 3 + ["user"]
    assert messages[4]["content"] == "a,c"  # exemplar answers are letters joined by ","
    assert messages[-1]["content"] == (
        "問題: 咳をきたす疾患を2つ選べ。\na: 気管支炎\nb: 肺炎\nc: 骨折\nd: 近視\ne: 脱毛\n"
        "必ずa,b,c,d,eの中からちょうど2個選んでください。\n答え:")
    numeric = PromptBuilder("igakuqa", "answer", "chat", exemplars, None).render(items["112A3"])
    assert numeric.messages[-1]["content"] == "問題: 体重60kg、身長2mのBMIを求めよ。解答：①.②"


def test_igakuqa_explain_prompt_shows_explanations_then_answer_line(igakuqa):
    root, items = igakuqa
    exemplars = load_igakuqa_exemplars(root / "prompts")
    prompt = PromptBuilder("igakuqa", "explain", "chat", exemplars, None).render(items["112A1"])
    assert prompt.messages[2]["content"] == "ａ 正しい。出血で貧血となる。ｂ〜ｅ 誤り。\n答え: a"
    assert "解説" in prompt.messages[-1]["content"] and not prompt.messages[-1]["content"].endswith("答え:")
    answer = PromptBuilder("igakuqa", "answer", "chat", exemplars, None).render(items["112A1"])
    assert prompt.sha256 != answer.sha256


def test_completion_style_joins_the_same_turns(igakuqa):
    root, items = igakuqa
    exemplars = load_igakuqa_exemplars(root / "prompts")
    text = PromptBuilder("igakuqa", "answer", "completion", exemplars, None).render(items["112B1"]).text
    assert text.startswith("医師国家試験を解きます。\n\n問題: 貧血の原因となるのはどれか。")
    assert "答え: a,c\n\n問題: 正常な体温はどれか。" in text
    assert text.endswith("ちょうど1個選んでください。\n答え:")


def test_medcalc_prompt_has_note_task_and_json_answer_format(tmp_path):
    item = load_benchmark("medcalc", write_medcalc(tmp_path / "m.csv"))[0]
    answer = PromptBuilder("medcalc", "answer", "chat", [], None).render(item)
    system, user = answer.messages
    assert '{"answer":' in system["content"] and "step_by_step" not in system["content"]
    assert user["content"].startswith("Here is the patient note:\nA 40-year-old man, weight 80 kg")
    assert "\n\nHere is the task:\nWhat is the patient's BMI in kg/m^2?\n\nPlease directly output the JSON dict" in user["content"]
    explain = PromptBuilder("medcalc", "explain", "chat", [], None).render(item)
    assert '"step_by_step_thinking"' in explain.messages[1]["content"]


def test_mcq_prompt_lists_options_and_braces_in_questions_are_safe(tmp_path):
    path = write_medqa(tmp_path / "q.jsonl", 2)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["question"] = "Which set {x, y} is {0}?"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    item = load_benchmark("medqa", path)[0]
    text = PromptBuilder("medqa", "answer", "chat", [], None).render(item).messages[-1]["content"]
    assert "Question: Which set {x, y} is {0}?" in text
    assert "\nA. chest x-ray\nB. ECG\nC. lumbar puncture\nD. ultrasound" in text
    assert 'Answer: <letter>' in text


def test_exemplar_file_errors_name_line_and_field(tmp_path):
    path = tmp_path / "prompt.jsonl"
    path.write_text('{"problem_id": "1", "problem_text": "x", "choices": [], "answer": ["a"]}\n{"problem_id": 2}\n')
    with pytest.raises(InputError, match=r"prompt.jsonl:2: field 'problem_id'"):
        load_igakuqa_exemplars(path)


def test_predictions_file_repairs_a_torn_tail_and_rejects_corruption(tmp_path):
    predictions = PredictionsFile(tmp_path / "predictions.jsonl")
    predictions.append([{"id": "1", "prompt_hash": "h1", "response": "A"}, {"id": "2", "prompt_hash": "h2", "response": "B"}])
    with open(predictions.path, "a", encoding="utf-8") as handle:
        handle.write('{"id": "3", "prompt_hash": "h3", "resp')  # killed mid-write
    assert sorted(predictions.load()) == [("1", 0), ("2", 0)]  # (id, sample); a line without a sample is 0
    assert predictions.path.read_text(encoding="utf-8").endswith('"B"}\n')  # torn bytes cut off
    predictions.append([{"id": "3", "prompt_hash": "h3", "response": "C"}])
    assert sorted(predictions.load()) == [("1", 0), ("2", 0), ("3", 0)]
    with open(predictions.path, "a", encoding="utf-8") as handle:
        handle.write('{"id": "1", "prompt_hash": "h1", "response": "again"}\n')
    with pytest.raises(InputError, match=r"predictions.jsonl:4: field 'id': item '1' \(sample 0\) occurs twice"):
        predictions.load()
    predictions.path.write_text('{"id": "1", "sample": -1, "prompt_hash": "h1", "response": "A"}\n')
    with pytest.raises(InputError, match=r"predictions.jsonl:1: field 'sample': expected a non-negative integer"):
        predictions.load()


def test_items_prompts_follow_each_items_verifier(tmp_path):
    from medreasoner.benchmarks.item import Item, item_to_dict

    items = [Item("m", "Which two?", {"A": "x", "B": "y", "C": "z"}, frozenset("AB"), "multiselect"),
             Item("b", "Name the diagnosis.", {}, "appendicitis", "boxed", {"synonyms": []}),
             Item("d", "Name the diagnosis.", {}, "appendicitis", "diagnosis", {"synonyms": []})]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(item_to_dict(i)) + "\n" for i in items))
    loaded = load_benchmark("items", path)
    texts = [PromptBuilder("items", "answer", "chat", [], None).render(i).messages[-1]["content"] for i in loaded]
    assert "More than one option may be correct" in texts[0] and "A. x\nB. y\nC. z" in texts[0]
    assert "\\boxed{}" in texts[1]
    assert texts[2].startswith("Name the diagnosis.") and "only the diagnosis, written inside \\boxed{}" in texts[2]


def test_vllm_backend_absent_names_the_extra(tmp_path, capsys):
    pytest.importorskip("torch")
    if __import__("importlib").util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    from medreasoner.cli import main

    (tmp_path / "config.json").write_text("{}")  # passes the model-directory check; vLLM is what is missing
    assert main(["eval", "--model", str(tmp_path), "--backend", "vllm", "--benchmark", "medqa",
                 "--data", str(write_medqa(tmp_path / "q.jsonl", 1)), "--output", str(tmp_path / "out")]) == 2
    assert "pip install 'medreasoner[vllm]'" in capsys.readouterr().err


def test_real_benchmarks_render_in_every_mode(shared_benchmarks):
    """Every real item renders; IgakuQA uses the copy's own 3 exemplars (nothing is copied here)."""
    igakuqa_root = shared_benchmarks / "igakuqa"
    items = load_benchmark("igakuqa", igakuqa_root)
    source = find_igakuqa_prompts(igakuqa_root / "data" / "2022")
    exemplars = load_igakuqa_exemplars(source)
    assert [e.problem_id for e in exemplars] == ["100E5", "100A60", "100A1"]
    for mode in MODES:
        builder = PromptBuilder("igakuqa", mode, "chat", exemplars, source)
        prompts = [builder.render(item) for item in items]
        assert len(prompts) == 2000 and all(len(p.messages) == 8 for p in prompts)
        open_items = [p for p, item in zip(prompts, items) if not item.options]
        assert len(open_items) == 12 and all("必ず" not in p.messages[-1]["content"] for p in open_items)
        if mode == "answer":
            assert sum(p.messages[-1]["content"].endswith("\n答え:") for p in prompts) == 2000 - 12
    medcalc = load_benchmark("medcalc", shared_benchmarks / "medcalc_bench" / "test_data_v1.0.csv")
    builder = PromptBuilder("medcalc", "answer", "chat", [], None)
    rendered = [builder.render(item) for item in medcalc]
    assert all(p.messages[1]["content"].startswith("Here is the patient note:\n") for p in rendered)
