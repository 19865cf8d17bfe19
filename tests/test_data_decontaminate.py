"""The ``decontaminate`` data step: planted benchmark items are caught (verbatim, re-cased, re-spaced,
options shuffled), unrelated medical text is kept, and the funnel reports hits per benchmark.

The benchmark files are invented ones in the official formats (tests/eval_support.py), plus one
invented Japanese vignette; the last test reads the real files in ../shared/benchmarks when present.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from eval_support import write_igakuqa, write_medcalc, write_medqa
from pydantic import ValidationError
from stage_testing import override_args

from medreasoner.benchmarks import load_benchmark
from medreasoner.cli import main
from medreasoner.data import decontaminate
from medreasoner.errors import InputError
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.world import build_world
from medreasoner.stages.context import StageContext

REPO = Path(__file__).resolve().parents[1]
# Invented for this test (not benchmark text): a vignette long enough for 30-character n-grams.
JA_VIGNETTE = ("58歳の男性。2週間前からの労作時呼吸困難と下腿浮腫とを主訴に来院した。"
               "10年前から高血圧症で内服治療中である。脈拍96/分、整。血圧150/92mmHg。頸静脈の怒張を認める。"
               "胸部聴診でIII音を聴取する。両側下腿に圧痕性浮腫を認める。最も考えられるのはどれか。")
UNRELATED = [
    "Metformin remains the usual first-line drug for type 2 diabetes unless kidney function is severely reduced.",
    "A 45-year-old woman presents with fever, cough and pleuritic chest pain; the chest X-ray shows lobar consolidation.",
    "糖尿病の初期治療では食事療法と運動療法を行い、必要に応じて薬物療法を追加する。",
]


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("benchmarks")
    write_medqa(root / "medqa.jsonl", 6)
    write_medcalc(root / "medcalc.csv")
    write_igakuqa(root / "igakuqa")
    options = {"A": "心不全", "B": "肺炎", "C": "気管支喘息", "D": "肺塞栓症", "E": "気胸"}
    row = {"id": "ja1", "question": JA_VIGNETTE, "options": options, "answer": "A"}
    (root / "ja.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    config = yaml.safe_load((REPO / "configs" / "world" / "tiny.yaml").read_text(encoding="utf-8"))
    config.update(num_cases={"train": 300, "validation": 10, "test": 100, "rl": 0}, num_cpt_case_reports=5)
    out = tmp_path_factory.mktemp("world") / "w"
    build_world(WorldConfig.model_validate(config), out)
    return out


# Every setting a decontaminate config must spell out, at the values the shipped recipes use.
SETTINGS = {"text_fields": ["question"], "message_roles": ["system", "user"], "ngram": 13, "char_ngram": 30,
            "min_ngram_hits": 1, "min_item_coverage": 0.0, "max_ngram_texts": 2}
CLI_SETTINGS = override_args(SETTINGS)


def sources(root: Path) -> list[dict]:
    return [{"name": "medqa", "kind": "medqa", "path": str(root / "medqa.jsonl"), "text_fields": None},
            {"name": "medcalc", "kind": "medcalc", "path": str(root / "medcalc.csv"), "text_fields": None},
            {"name": "igakuqa", "kind": "igakuqa", "path": str(root / "igakuqa"), "text_fields": None},
            {"name": "ja", "kind": "mcq", "path": str(root / "ja.jsonl"), "text_fields": None}]


def pool_row(row_id: str, question: str) -> dict:
    return {"id": row_id, "domain": "medical", "language": "en", "question": question, "source": "test"}


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def run_step(tmp_path: Path, rows: list[dict], benchmarks: list[dict], **settings) -> tuple[dict, list, dict]:
    """Run the step; return (funnel, kept rows, {dropped id: (reason, detail)})."""
    config = decontaminate.Config(input=str(jsonl(tmp_path / "in.jsonl", rows)), benchmarks=benchmarks,
                                  **{**SETTINGS, **settings})
    out = tmp_path / "out"
    decontaminate.run(config, StageContext(run_dir=tmp_path, out_dir=out, seed=0, log=lambda metrics, step: None))
    kept = [json.loads(line) for line in (out / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    dropped = {}
    for line in (out / "dropped.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        dropped[record["id"]] = (record["reason"], record["detail"])
    return json.loads((out / "funnel.json").read_text(encoding="utf-8")), kept, dropped


def test_planted_benchmark_items_are_caught_and_unrelated_text_kept(tmp_path, bench_dir, small_world):
    medqa = load_benchmark("medqa", bench_dir / "medqa.jsonl")
    medcalc = load_benchmark("medcalc", bench_dir / "medcalc.csv")
    shuffled = list(medqa[4].options.values())
    random.Random(0).shuffle(shuffled)
    planted = {
        "verbatim": medqa[1].question,
        "recased": medqa[2].question.upper(),
        "respaced": "\n  ".join(medqa[3].question.split(" ")).replace("year-old", "year - old"),
        "options-shuffled": medqa[4].question + "\n" + "\n".join(f"({letter}) {text}" for letter, text in zip("ABCD", shuffled)),
        "note-in-text": f"Read this note. {medcalc[0].meta['patient_note']} {medcalc[0].question} Show your work.",
        "ja-short-respaced": " 発熱を きたす\u3000疾患は どれか ",
        "ja-fullwidth-in-text": "次の症例を読め。" + JA_VIGNETTE.replace("58", "５８").replace("96", "９６") + "選択肢は省略。",
    }
    world = [json.loads(line)["messages"][0]["content"]
             for line in (small_world / "sft" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:50]]
    rows = [pool_row(f"world-{k}", text) for k, text in enumerate(world + UNRELATED)]
    rows += [pool_row(row_id, text) for row_id, text in planted.items()]
    funnel, kept, dropped = run_step(tmp_path, rows, sources(bench_dir))
    assert set(dropped) == set(planted)
    assert [row["id"] for row in kept] == [f"world-{k}" for k in range(len(world) + len(UNRELATED))]
    for row_id, k in (("verbatim", 1), ("recased", 2), ("respaced", 3)):
        assert dropped[row_id] == ("contaminated:medqa", f"item={medqa[k].id} match=hash")
    reason, detail = dropped["options-shuffled"]
    assert reason == "contaminated:medqa" and detail.startswith(f"item={medqa[4].id} match=13-gram hits=")
    reason, detail = dropped["note-in-text"]
    assert reason == "contaminated:medcalc" and detail.startswith(f"item={medcalc[0].id} match=13-gram")
    assert dropped["ja-short-respaced"] == ("contaminated:igakuqa", "item=112A1 match=hash")
    reason, detail = dropped["ja-fullwidth-in-text"]
    assert reason == "contaminated:ja" and detail.startswith("item=ja1 match=30-char-gram hits=")
    details = funnel["details"]
    assert details["hits"] == {"medqa": 4, "medcalc": 1, "igakuqa": 1, "ja": 1}
    assert details["items"] == {"medqa": 6, "medcalc": 4, "igakuqa": 5, "ja": 1}
    assert details["items_hit"] == {"medqa": 4, "medcalc": 1, "igakuqa": 1, "ja": 1}
    assert details["match_kinds"] == {"hash": 4, "ngram": 3} and details["n"] == 13 and details["char_n"] == 30
    assert funnel["dropped"] == {"contaminated:medqa": 4, "contaminated:medcalc": 1, "contaminated:igakuqa": 1,
                                 "contaminated:ja": 1}


def test_short_stems_match_only_as_a_whole(tmp_path, bench_dir):
    # "脱水時に増加するのはどれか。" (112B1) is shorter than 30 characters: no n-grams, hash keys only.
    rows = [pool_row("alone", "脱水時に増加するのはどれか"), pool_row("with-option", "脱水時に増加するのはどれか。心拍数"),
            pool_row("inside-text", "問題：脱水時に増加するのはどれか。理由も述べよ。")]
    _, kept, dropped = run_step(tmp_path, rows, sources(bench_dir))
    assert dropped == {"alone": ("contaminated:igakuqa", "item=112B1 match=hash"),
                       "with-option": ("contaminated:igakuqa", "item=112B1 match=hash")}
    assert [row["id"] for row in kept] == ["inside-text"]


def test_boilerplate_hits_and_coverage_thresholds(tmp_path):
    phrase = "which of the following findings on physical examination would be most consistent with this diagnosis today"
    words = [f"term{k}" for k in range(40)]
    items = [{"id": f"b{k}", "question": f"Unique case {k} with {' '.join(words[k * 10:k * 10 + 5])}. {phrase}"}
             for k in range(3)]
    items.append({"id": "long", "question": " ".join(words[:20])})
    bench = [{"name": "mine", "kind": "jsonl", "path": str(jsonl(tmp_path / "bench.jsonl", items)), "text_fields": ["question"]}]
    rows = [pool_row("boilerplate", f"Another case entirely. {phrase}"),
            pool_row("one-gram", "Prefix words here " + " ".join(words[:13]) + " and a different ending"),
            pool_row("unrelated", UNRELATED[0])]
    _, _, dropped = run_step(tmp_path, rows, bench)
    assert dropped == {"one-gram": ("contaminated:mine", "item=long match=13-gram hits=1 coverage=0.12")}
    _, _, dropped = run_step(tmp_path, rows, bench, max_ngram_texts=3)
    assert set(dropped) == {"boilerplate", "one-gram"} and dropped["boilerplate"][1].startswith("item=b0 ")
    _, _, dropped = run_step(tmp_path, rows, bench, min_ngram_hits=2)
    assert dropped == {}
    _, _, dropped = run_step(tmp_path, rows, bench, min_item_coverage=0.5)
    assert dropped == {}


def test_message_rows_check_user_and_system_turns(tmp_path, bench_dir):
    item = load_benchmark("medqa", bench_dir / "medqa.jsonl")[0]
    question = item.question
    answer = {"role": "assistant", "content": question}
    rows = [{"messages": [{"role": "user", "content": "Explain asthma."}, answer]},
            {"messages": [{"role": "system", "content": question}, {"role": "user", "content": "Go on."}]},
            {"prompt": [{"role": "user", "content": question + "\n\nReply with only the letter."}], "item": "{}"},
            {"prompt": [{"role": "user", "content": "Explain asthma."}], "item": "{}"}]
    _, kept, dropped = run_step(tmp_path, rows[:2], sources(bench_dir), text_fields=["messages"])
    assert dropped == {"line:2": ("contaminated:medqa", f"item={item.id} match=hash")} and kept == rows[:1]
    _, kept, dropped = run_step(tmp_path, rows[2:], sources(bench_dir), text_fields=["prompt"])
    assert list(dropped) == ["line:1"] and dropped["line:1"][1].startswith(f"item={item.id} match=13-gram")
    assert kept == rows[3:]


def test_world_eval_splits_need_the_coverage_rule(tmp_path, small_world):
    # Train and test cases of the templated world share exam phrases: 13-grams alone flag most
    # training rows; requiring most of an item's n-grams flags only real copies.
    bench = [{"name": "world_test", "kind": "items", "path": str(small_world / "eval" / "test_diagnosis.jsonl"),
              "text_fields": None}]
    prompts = [json.loads(line) for line in (small_world / "grpo" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    test_item = json.loads((small_world / "eval" / "test_diagnosis.jsonl").read_text(encoding="utf-8").splitlines()[7])
    leaked = {"prompt": [{"role": "user", "content": test_item["question"] + "\n\nReply with only the diagnosis."}]}
    rows = prompts + [leaked]
    _, kept, dropped = run_step(tmp_path, rows, bench, text_fields=["prompt"])
    assert len(dropped) > len(prompts) // 2
    _, kept, dropped = run_step(tmp_path, rows, bench, text_fields=["prompt"], min_item_coverage=0.95)
    assert list(dropped) == [f"line:{len(rows)}"]
    assert dropped[f"line:{len(rows)}"][1].startswith(f"item={test_item['id']} match=13-gram") and kept == prompts


def test_cli_run_and_one_line_errors(tmp_path, bench_dir, capsys):
    question = load_benchmark("medqa", bench_dir / "medqa.jsonl")[5].question
    path = jsonl(tmp_path / "pool.jsonl", [pool_row("a", UNRELATED[0]), pool_row("b", question)])
    medqa = bench_dir / "medqa.jsonl"
    out = tmp_path / "out"
    assert main(["data", "decontaminate", "--output", str(out), f"input={path}", *CLI_SETTINGS,
                 f"benchmarks=[{{name: x, kind: medqa, path: {medqa}, text_fields: null}}]"]) == 0
    funnel = json.loads((out / "funnel.json").read_text(encoding="utf-8"))
    assert (funnel["in"], funnel["out"], funnel["details"]["hits"]) == (2, 1, {"x": 1})
    capsys.readouterr()
    failures = {
        f"benchmarks=[{{name: x, kind: medqa, path: {tmp_path / 'absent.jsonl'}, text_fields: null}}]":
            f"{tmp_path / 'absent.jsonl'}: file not found",
        f"benchmarks=[{{name: x, kind: medq, path: {medqa}, text_fields: null}}]": "field 'benchmarks'",
        f"benchmarks=[{{name: x, kind: jsonl, path: {medqa}, text_fields: null}}]": "text_fields is required for kind jsonl",
        f"benchmarks=[{{name: x, kind: medqa, path: {medqa}, text_fields: null}}, "
        f"{{name: x, kind: mcq, path: {medqa}, text_fields: null}}]": "repeated: ['x']",
        f"benchmarks=[{{name: x, kind: medqa, path: {medqa}}}]": "missing required key 'text_fields'",
        "benchmarks=[]": "field 'benchmarks'",
    }
    for override, message in failures.items():
        assert main(["data", "decontaminate", "--output", str(out), f"input={path}", *CLI_SETTINGS, override]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err
    assert main(["data", "decontaminate", "--output", str(out), f"input={tmp_path / 'none.jsonl'}", *CLI_SETTINGS,
                 f"benchmarks=[{{name: x, kind: medqa, path: {medqa}, text_fields: null}}]"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'none.jsonl'}: file not found"
    with pytest.raises(InputError, match=r"in.jsonl:2: field 'question': missing field"):
        run_step(tmp_path, [pool_row("a", "x"), {"text": "y"}], sources(bench_dir))
    with pytest.raises(ValidationError):
        decontaminate.Config(input="x", benchmarks=sources(bench_dir), **{**SETTINGS, "ngram": 0})


def test_real_benchmarks_catch_every_item_and_spare_the_world(tmp_path, shared_benchmarks, small_world):
    medqa_files = {"medqa_4": shared_benchmarks / "medqa" / "US_4_options_phrases_no_exclude_test.jsonl",
                   "medqa_5": shared_benchmarks / "medqa" / "US_5_options_test.jsonl"}
    bench = [{"name": name, "kind": "medqa", "path": str(path), "text_fields": None} for name, path in medqa_files.items()]
    bench += [{"name": "medcalc", "kind": "medcalc", "path": str(shared_benchmarks / "medcalc_bench" / "test_data_v1.0.csv"),
               "text_fields": None},
              {"name": "igakuqa", "kind": "igakuqa", "path": str(shared_benchmarks / "igakuqa" / "data"), "text_fields": None}]
    rows = []
    for name, path in medqa_files.items():
        rows += [pool_row(f"{name}-{item.id}", item.question) for item in load_benchmark("medqa", path)]
    rows += [pool_row(f"igakuqa-{item.id}", item.question) for item in load_benchmark("igakuqa", bench[3]["path"])]
    rows += [pool_row(f"medcalc-{item.id}", item.meta["patient_note"] + "\n" + item.question)
             for item in load_benchmark("medcalc", bench[2]["path"])]
    world = [json.loads(line)["messages"][0]["content"]
             for line in (small_world / "sft" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    rows += [pool_row(f"world-{k}", text) for k, text in enumerate(world)]
    funnel, kept, dropped = run_step(tmp_path, rows, bench)
    assert [row["id"] for row in kept] == [f"world-{k}" for k in range(len(world))]
    assert len(dropped) == len(rows) - len(world)
    assert all(detail.endswith("match=hash") for _, detail in dropped.values())
    assert funnel["details"]["items"] == {"medqa_4": 1273, "medqa_5": 1273, "medcalc": 1047, "igakuqa": 2000}
