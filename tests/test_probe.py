"""The knowledge probe: option log-likelihoods, the calibration that removes a name's prior, and the stage."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from medreasoner.errors import InputError
from medreasoner.eval.metrics import mover_ci
from medreasoner.eval.probe import ProbeFormat, continuation_logprobs, lure_letters, lure_summary, score_item
from medreasoner.stages import load_stage
from medreasoner.stages.probe import Config, run
from stage_testing import build_model, make_ctx, write_world

WORDS = ["[PAD]", "[UNK]", "Case", "report", ".", ":", "Setting", "clinic", "Chief", "complaint", "headache",
         "Results", "photophobia", "none", "Final", "diagnosis", "Migraine", "Gout", "What", "is", "it", "?"]
FMT = ProbeFormat(context="Case report .\n{question}\nFinal diagnosis :", continuation=" {option} .",
                  drop_line_prefixes=("What",), premise_line_prefixes=("Setting", "Chief"))


def word_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]")


class PriorPlusFindingLM(torch.nn.Module):
    """A language model with a strong prior for writing "Gout" and one piece of knowledge: after
    "photophobia" anywhere before, "Migraine" gains 2 nats. Raw scoring sees the prior; calibrated
    scoring sees only the knowledge."""

    def __init__(self):
        super().__init__()
        self.ids = {w: i for i, w in enumerate(WORDS)}

    def forward(self, input_ids, attention_mask):
        logits = torch.zeros(*input_ids.shape, len(WORDS))
        logits[..., self.ids["Gout"]] = 5.0
        seen = (input_ids == self.ids["photophobia"]).long().cumsum(-1) > 0
        logits[..., self.ids["Migraine"]] += 2.0 * seen
        return SimpleNamespace(logits=logits)


QUESTION = "Setting : clinic .\nChief complaint : headache .\nResults : {finding} .\nWhat is it ?"


def test_calibration_removes_a_names_prior_and_keeps_what_the_findings_add():
    tokenizer, model = word_tokenizer(), PriorPlusFindingLM()
    options = {"A": "Gout", "B": "Migraine"}
    with_finding = score_item(model, tokenizer, FMT, QUESTION.format(finding="photophobia"), options)
    without = score_item(model, tokenizer, FMT, QUESTION.format(finding="none"), options)
    # Raw: the prior wins whatever the findings say.
    assert max(with_finding["raw"], key=with_finding["raw"].get) == "A"
    assert max(without["raw"], key=without["raw"].get) == "A"
    # Calibrated: the prior cancels; what separates the options is the finding's 2 nats (the softmax
    # normaliser moves both options alike), and without the finding nothing separates them.
    calibrated = with_finding["calibrated"]
    assert calibrated["B"] - calibrated["A"] == pytest.approx(2.0, abs=1e-5)
    assert without["calibrated"] == pytest.approx({"A": 0.0, "B": 0.0}, abs=1e-5)


def test_contexts_drop_the_question_line_and_keep_only_the_premise_lines():
    full, premise = FMT.contexts(QUESTION.format(finding="photophobia"))
    assert full == "Case report .\nSetting : clinic .\nChief complaint : headache .\nResults : photophobia .\nFinal diagnosis :"
    assert premise == "Case report .\nSetting : clinic .\nChief complaint : headache .\nFinal diagnosis :"


def test_continuation_logprobs_sum_the_tokens_of_each_option_in_one_padded_batch(tmp_path):
    files = write_world(tmp_path / "world", num_rows=8)
    model_dir = build_model(tmp_path, files)
    from medreasoner.model import load_model, load_tokenizer

    tokenizer = load_tokenizer(model_dir, padding_side="right")
    model = load_model(model_dir, dtype="float32").eval()
    context, options = "Case 3: fever, cough. Diagnosis?", [" pneumonia.", " gout, migraine and asthma."]
    batched = continuation_logprobs(model, tokenizer, context, options)
    for text, got in zip(options, batched):  # one unpadded sequence per option, summed by hand
        ids = tokenizer(context + text, add_special_tokens=False)["input_ids"]
        start = len(tokenizer(context, add_special_tokens=False)["input_ids"])
        with torch.no_grad():
            logprobs = model(torch.tensor([ids])).logits.log_softmax(-1)[0]
        expected = sum(float(logprobs[t - 1, ids[t]]) for t in range(start, len(ids)))
        assert got == pytest.approx(expected, abs=1e-4)


def write_items(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def mcq(index: int, gold: str, case: str) -> dict:
    return {"id": f"q{index}", "question": f"Setting: clinic.\nChief complaint: fever.\nResults: cough.\nWhich is it?",
            "options": {"A": "pneumonia", "B": "asthma", "C": "gout"}, "gold": {"letters": [gold]},
            "verifier": "mcq", "meta": {"case": case}}


def probe_config(model: Path, items: Path, subset: Path) -> Config:
    return Config.model_validate({
        "model": {"path": str(model), "dtype": "float32"}, "items": str(items), "subsets": {"rare": str(subset)},
        "context": "Case report.\n{question}\nFinal diagnosis:", "continuation": " {option}.",
        "drop_line_prefixes": ["Which"], "premise_line_prefixes": ["Setting:", "Chief complaint:"]})


def test_stage_writes_per_item_choices_and_accuracy_per_subset_and_complement(tmp_path):
    files = write_world(tmp_path / "world", num_rows=8)
    model = build_model(tmp_path, files)
    items = write_items(tmp_path / "mcq.jsonl", [mcq(i, "ABC"[i % 3], f"case{i}") for i in range(6)])
    subset = write_items(tmp_path / "rare.jsonl", [{"id": "x", "meta": {"case": "case1"}},
                                                   {"id": "y", "meta": {"case": "case4"}}])
    assert load_stage("probe").run is run
    metrics = run(probe_config(model, items, subset), make_ctx(tmp_path / "probe", []))
    rows = [json.loads(line) for line in (tmp_path / "probe" / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(6)]
    assert [r["subsets"] for r in rows] == [[], ["rare"], [], [], ["rare"], []]
    for row in rows:
        for scoring in ("raw", "calibrated"):
            scores = row["scores"][scoring]
            assert row[f"{scoring}_choice"] == max(scores, key=scores.get)
            assert row[f"{scoring}_correct"] == (row[f"{scoring}_choice"] == row["gold"])
    body = json.loads((tmp_path / "probe" / "probe.json").read_text())
    assert {k: v["raw"]["n"] for k, v in body["subsets"].items()} == {"all": 6, "rare": 2, "not_rare": 4}
    rare = [r["calibrated_correct"] for r in rows if r["subsets"]]
    assert body["subsets"]["rare"]["calibrated"]["accuracy"] == sum(rare) / 2
    assert body["subsets"]["all"]["raw"]["chance"] == pytest.approx(1 / 3)
    assert metrics["not_rare/raw_accuracy"] == body["subsets"]["not_rare"]["raw"]["accuracy"]
    # The subset's gold is B (asthma) on both its items; every other item offers asthma as a wrong option.
    assert [r["gold_name"] for r in rows] == ["pneumonia", "asthma", "gout"] * 2
    lure = {"rare": {"B": "asthma"}}
    assert [r["lures"] for r in rows] == [lure, {}, lure, lure, {}, lure]
    for scoring in ("raw", "calibrated"):
        picks = [r[f"{scoring}_choice"] == "B" for r in rows if not r["subsets"]]
        hits = [r[f"{scoring}_correct"] for r in rows if r["subsets"]]
        got = body["lures"]["rare"][scoring]
        assert (got["n"], got["rate"]) == (4, sum(picks) / 4)
        assert got["margin"] == pytest.approx(sum(hits) / 2 - sum(picks) / 4)  # one name: weight 1


@pytest.mark.parametrize("row, field", [
    ({"gold": {"letters": ["A", "B"]}}, "gold.letters"),
    ({"gold": {"letters": ["Z"]}}, "gold.letters"),
    ({"options": {"A": "only"}}, "options"),
    ({"meta": {}}, "meta.case"),
])
def test_a_bad_item_fails_with_file_line_and_field_before_the_model_loads(tmp_path, row, field):
    rows = [mcq(0, "A", "c0"), {**mcq(1, "B", "c1"), **row}]
    items = write_items(tmp_path / "mcq.jsonl", rows)
    subset = write_items(tmp_path / "rare.jsonl", [{"meta": {"case": "c0"}}])
    with pytest.raises(InputError) as error:  # the model path does not exist: the items fail first
        run(probe_config(tmp_path / "no-model", items, subset), make_ctx(tmp_path / "probe", []))
    assert error.value.line == 2 and field in str(error.value)
    assert not (tmp_path / "probe" / "probe.json").exists()


@pytest.mark.parametrize("change", [{"context": "no placeholder"}, {"continuation": " {text}."},
                                    {"subsets": {"not_rare": "x.jsonl"}}, {"subsets": {"all": "x.jsonl"}}])
def test_config_rejects_templates_without_placeholders_and_reserved_subset_names(tmp_path, change):
    base = probe_config(tmp_path, tmp_path / "i.jsonl", tmp_path / "s.jsonl").model_dump()
    with pytest.raises(ValueError):
        Config.model_validate({**base, **change})


def test_lure_letters_are_the_wrong_options_naming_a_subset_gold():
    options = {"A": "gout", "B": "migraine", "C": "asthma", "D": "pneumonia"}
    assert lure_letters(options, "D", {"migraine", "gout", "lupus"}) == {"A": "gout", "B": "migraine"}
    assert lure_letters(options, "B", {"migraine"}) == {}  # the gold itself is no lure


IDS = itertools.count()


def _member(name: str, right: bool) -> dict:
    return {"id": f"{name}-{right}-{next(IDS)}", "subsets": ["rare"], "gold_name": name, "lures": {},
            "calibrated_choice": "A" if right else "B", "calibrated_correct": right}


def _offering(names: dict[str, str], choice: str) -> dict:
    return {"id": f"lure-{choice}-{next(IDS)}", "subsets": [], "gold_name": "common", "lures": {"rare": names},
            "calibrated_choice": choice, "calibrated_correct": False}


def test_the_margin_compares_each_name_with_its_own_pull():
    # migraine: right on its 3 items, picked on its 1 lure item; gout: wrong on its item, never picked on its 3.
    # The model picks each name as often where it is a lure as where it is right: margin 0. One pooled lure
    # rate (1 of 4) against the subset's accuracy (3 of 4) would say +0.5.
    rows = ([_member("migraine", True) for _ in range(3)] + [_member("gout", False)]
            + [_offering({"C": "migraine"}, "C")] + [_offering({"D": "gout"}, "A") for _ in range(3)])
    got = lure_summary(rows, "rare", "calibrated")
    assert (got["n"], got["rate"], got["margin"]) == (4, 0.25, 0.0)
    assert got["names"]["migraine"] == {"weight": 0.75, "n": 3, "hits": 3, "n_lures": 1, "picks": 1}
    assert got["names"]["gout"] == {"weight": 0.25, "n": 1, "hits": 0, "n_lures": 3, "picks": 0}
    terms = [(0.75, 3, 3), (-0.75, 1, 1), (0.25, 0, 1), (-0.25, 0, 3)]
    assert (got["margin_ci_low"], got["margin_ci_high"]) == pytest.approx(mover_ci(terms))
    assert got["margin_ci_low"] < 0 < got["margin_ci_high"]


def test_a_lure_counts_only_when_the_model_picks_that_name_and_unoffered_names_are_left_out():
    rows = ([_member("migraine", True), _member("migraine", False), _member("lupus", True)]
            + [_offering({"C": "migraine", "D": "gout"}, "D"), _offering({"C": "migraine"}, "C"),
               _offering({"C": "migraine"}, "A")])
    got = lure_summary(rows, "rare", "calibrated")
    # 3 items offer a lure and 2 picked one; migraine alone was offered (lupus never, gout labels no subset item)
    assert (got["n"], got["rate"]) == (3, pytest.approx(2 / 3))
    assert list(got["names"]) == ["migraine"] and got["names"]["migraine"]["picks"] == 1
    assert got["margin"] == pytest.approx(1 / 2 - 1 / 3)


def test_an_item_offering_two_of_the_names_counts_for_each_and_a_pick_only_for_the_picked_one():
    rows = [_member("migraine", True), _member("gout", False), _offering({"B": "gout", "C": "migraine"}, "C")]
    got = lure_summary(rows, "rare", "calibrated")
    assert (got["names"]["migraine"]["picks"], got["names"]["gout"]["picks"]) == (1, 0)
    assert (got["names"]["migraine"]["n_lures"], got["names"]["gout"]["n_lures"], got["n"]) == (1, 1, 1)
    assert got["margin"] == pytest.approx(0.5 * (1 - 1) + 0.5 * (0 - 0))
