"""Fixtures for the evaluation tests: invented benchmark files in the official formats and a tiny model.

Nothing here is benchmark text: the questions, notes and IgakuQA exemplars are made up, only the
file layouts (MedQA JSONL, MedCalc-Bench CSV, IgakuQA data/<year>/<exam>-<S>.jsonl + _metadata.jsonl
+ prompts/prompt.jsonl) follow the real ones.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

SYMPTOMS = ["fever", "cough", "chest pain", "rash", "headache", "dyspnea", "jaundice", "syncope"]
TESTS = ["chest x-ray", "ECG", "lumbar puncture", "ultrasound", "CT scan"]


def write_medqa(path: Path, n: int) -> Path:
    """``n`` invented MedQA-style rows (4 options, keys in the file's order)."""
    with open(path, "w", encoding="utf-8") as handle:
        for k in range(n):
            options = {letter: TESTS[(k + i) % len(TESTS)] for i, letter in enumerate("ABCD")}
            gold = "ABCD"[k % 4]
            row = {"question": f"A {20 + 3 * k}-year-old presents with {SYMPTOMS[k % len(SYMPTOMS)]} for {k + 1} days. "
                               "Which is the best next step?",
                   "answer": options[gold], "options": options, "meta_info": "step1" if k % 2 else "step2&3",
                   "answer_idx": gold, "metamap_phrases": [SYMPTOMS[k % len(SYMPTOMS)]]}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


MEDCALC_COLUMNS = ["Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID", "Note Type",
                   "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer", "Lower Limit",
                   "Upper Limit", "Ground Truth Explanation"]


def write_medcalc(path: Path) -> Path:
    """Four invented MedCalc-Bench rows: BMI, MAP (decimal), CHA2DS2-VASc (integer), due date (date)."""
    rows = [
        [1, 6, "Body Mass Index (BMI)", "physical", "decimal", "1", "Template",
         "A 40-year-old man, weight 80 kg, height 180 cm.\nNo complaints.", "What is the patient's BMI in kg/m^2?",
         "{'weight': [80.0, 'kg'], 'height': [180.0, 'cm']}", "24.691", "23.456", "25.926", "BMI = 80 / 1.8^2 = 24.691."],
        [2, 5, "Mean Arterial Pressure (MAP)", "physical", "decimal", "2", "Template",
         "Blood pressure 120/80 mm Hg.", "What is the patient's mean arterial pressure in mm Hg?",
         "{'Systolic Blood Pressure': [120.0, 'mm hg'], 'Diastolic Blood Pressure': [80.0, 'mm hg']}",
         "93.333", "88.666", "98.0", "MAP = 2/3 * 80 + 1/3 * 120 = 93.333."],
        [3, 4, "CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk", "risk", "integer", "pmc-1-1", "Extracted",
         "A 70-year-old woman with atrial fibrillation and hypertension, \"no\" stroke history.",
         "What is the patient's CHA2DS2-VASc Score?", "{'age': [70, 'years'], 'sex': 'Female'}", "3", "3", "3",
         "Age 65-74: 1, female: 1, hypertension: 1; total 3."],
        [4, 13, "Estimated Due Date", "date", "date", "4", "Template",
         "Last menstrual period 01/10/2023, cycle length 28 days.", "Based on the patient's last menstrual period, "
         "what is the patient's estimated due date?", "{'cycle_length': 28}", "10/17/2023", "10/17/2023",
         "10/17/2023", "LMP + 280 days = 10/17/2023."],
    ]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MEDCALC_COLUMNS)
        writer.writerows(rows)
    return path


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def write_igakuqa(root: Path) -> Path:
    """An invented IgakuQA copy: 2018 sections A (3 rows incl. numeric entry) and B (2 rows), prompts/."""
    section_a = [
        {"problem_id": "112A1", "problem_text": "発熱をきたす疾患はどれか。", "choices": ["骨折", "肺炎", "白内障", "近視", "虫歯"],
         "text_only": True, "answer": ["b"], "points": "1"},
        {"problem_id": "112A2", "problem_text": "咳をきたす疾患を2つ選べ。", "choices": ["気管支炎", "肺炎", "骨折", "近視", "脱毛"],
         "text_only": True, "answer": ["a", "b"], "points": "1"},
        {"problem_id": "112A3", "problem_text": "体重60kg、身長2mのBMIを求めよ。解答：①.②", "choices": [],
         "text_only": True, "answer": ["15"], "points": "1"},
    ]
    meta_a = [{"problem_id": "112A1", "category": "感染症", "kinki": ["a"], "reason": "", "human_accuracy": "90",
               "breakdown": ["5", "90", "2", "2", "1"]},
              {"problem_id": "112A2", "category": "呼吸器", "kinki": [], "reason": "", "human_accuracy": "70", "breakdown": []},
              {"problem_id": "112A3", "category": "公衆衛生", "kinki": [], "reason": "", "human_accuracy": "", "breakdown": []}]
    section_b = [
        {"problem_id": "112B1", "problem_text": "脱水時に増加するのはどれか。", "choices": ["尿量", "血圧", "心拍数", "体温", "体重"],
         "text_only": True, "answer": ["c"], "points": "1"},
        {"problem_id": "112B2", "problem_text": "50歳の男性。胸痛を主訴に来院した。まず行うべき検査はどれか。",
         "choices": ["心電図", "脳波", "筋電図", "視力検査", "聴力検査"], "text_only": False, "answer": ["a"], "points": "3"},
    ]
    meta_b = [{"problem_id": "112B1", "category": "総論", "kinki": [], "reason": "", "human_accuracy": "80", "breakdown": []},
              {"problem_id": "112B2", "category": "循環器", "kinki": ["de"], "reason": "", "human_accuracy": "95", "breakdown": []}]
    _jsonl(root / "data" / "2018" / "112-A.jsonl", section_a)
    _jsonl(root / "data" / "2018" / "112-A_metadata.jsonl", meta_a)
    _jsonl(root / "data" / "2018" / "112-B.jsonl", section_b)
    _jsonl(root / "data" / "2018" / "112-B_metadata.jsonl", meta_b)
    exemplars = [
        {"problem_id": "90A1", "problem_text": "貧血の原因となるのはどれか。", "choices": ["出血", "睡眠", "運動", "読書", "入浴"],
         "text_only": True, "answer": ["a"], "explanation": "ａ 正しい。出血で貧血となる。ｂ〜ｅ 誤り。"},
        {"problem_id": "90A2", "problem_text": "腎臓の機能を2つ選べ。", "choices": ["尿の生成", "視覚", "血圧調節", "聴覚", "嗅覚"],
         "text_only": True, "answer": ["a", "c"], "explanation": "ａ 正しい。ｂ 誤り。ｃ 正しい。ｄ ｅ 誤り。"},
        {"problem_id": "90B3", "problem_text": "正常な体温はどれか。", "choices": ["30℃", "36.5℃", "40℃", "42℃", "25℃"],
         "text_only": True, "answer": ["b"], "explanation": "ｂ 正しい。他は異常値である。"},
    ]
    _jsonl(root / "prompts" / "prompt.jsonl", exemplars)
    return root


def build_scrambled_tiny_model(path: Path) -> Path:
    """A tiny-0.5m model whose weights are re-drawn at a large scale, so greedy output varies per prompt.

    A freshly initialised model (std 0.02, tied embeddings) just repeats its last prompt token,
    which would make "the two backends agree" hold trivially; larger random weights give chaotic,
    prompt-dependent text, so agreement tests can fail.
    """
    import torch

    from medreasoner.model import build_tiny_model, load_model

    # The tokenizer learns the fixtures' text (Japanese included) so prompts stay well under 512 tokens.
    fixtures = path.with_name(path.name + "_corpus")
    fixtures.mkdir(parents=True, exist_ok=True)
    corpus = [write_medqa(fixtures / "medqa.jsonl", 8).read_text(encoding="utf-8"),
              write_medcalc(fixtures / "medcalc.csv").read_text(encoding="utf-8")]
    corpus += [f.read_text(encoding="utf-8") for f in sorted(write_igakuqa(fixtures / "igakuqa").rglob("*.jsonl"))]
    corpus += ["医師国家試験を解きます。必ずの中からちょうど個選んでください。答え: 問題: まず選択肢ごとに解説を書き、最後の行に"]
    raw = build_tiny_model(path.with_name(path.name + "_raw"), size="tiny-0.5m", corpus=corpus * 5, seed=0,
                           vocab_size=600, max_position_embeddings=512)
    model = load_model(raw, dtype="float32")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 2:
                scale = 1.0 if "embed" in name else 0.15
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    model.save_pretrained(path)
    for file in raw.iterdir():
        if "token" in file.name or file.name == "chat_template.jinja":
            (path / file.name).write_bytes(file.read_bytes())
    return path


_MODELS: dict[str, Path] = {}


def tiny_model(tmp_path_factory) -> Path:
    """The scrambled tiny model, built once per test session (shared by the eval test modules)."""
    if "tiny" not in _MODELS:
        _MODELS["tiny"] = build_scrambled_tiny_model(tmp_path_factory.mktemp("eval_model") / "tiny")
    return _MODELS["tiny"]


class ScriptedBackend:
    """A backend that answers from a script: the first key (a substring, or a tuple of substrings
    that must all occur) found in the prompt's last user turn picks the reply (a stand-in for a model whose answers the test knows, so accuracies, points
    and flips can be asserted exactly)."""

    name = "scripted"

    def __init__(self, script: dict[str, str]):
        self.script = script

    def describe(self) -> dict:
        return {"backend": self.name, "model": "script"}

    def generate(self, prompts, settings, on_batch=None):
        from medreasoner.eval.generation import Completion

        completions = []
        for index, prompt in enumerate(prompts):
            text = prompt.messages[-1]["content"] if prompt.style == "chat" else prompt.text
            reply = next((r for key, r in self.script.items()
                          if all(part in text for part in ((key,) if isinstance(key, str) else key))), "")
            completions.append(Completion(reply, len(text), len(reply), 0.01, "stop"))
            if on_batch is not None:
                on_batch([index], [completions[-1]])
        return completions
