"""Synthetic calculator tasks in the MedCalc-Bench CSV schema (all 14 columns).

Each task samples a plausible patient for one calculator (``task_fields.SAMPLERS``), renders a short
note in English or Japanese, asks the question, and stores the exact answer computed by our
calculators, the benchmark's tolerance bounds (decimal: GT × 0.95 / GT × 1.05, swapped when GT is
negative; integer, date and gestational age: both equal to GT) and the step-by-step explanation.

>>> rows = generate_tasks(2, seed=0, calculator_ids=[6])
>>> rows[0]["Calculator ID"], rows[0]["Output Type"]
('6', 'decimal')
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import tempfile
from pathlib import Path
from typing import Any

from medreasoner.calculators.check import COLUMNS
from medreasoner.calculators.conventions import compute_with
from medreasoner.calculators.entities import EntityError
from medreasoner.calculators.registry import CALCULATORS
from medreasoner.calculators.task_fields import LMP, SAMPLERS, C, F, P, Q
from medreasoner.calculators.task_text import PHRASES, PHRASES_JA, VALUES_JA, question

LANGUAGES = ("en", "ja")
STEROIDS = ("Betamethasone IV", "Cortisone PO", "Dexamethasone IV", "Dexamethasone PO", "Hydrocortisone IV",
            "Hydrocortisone PO", "MethylPrednisoLONE IV", "MethylPrednisoLONE PO", "PrednisoLONE PO", "PredniSONE PO",
            "Triamcinolone IV")
OPIOIDS = {"Codeine": "mg", "FentaNYL buccal": "µg", "FentANYL patch": "µg/hr", "HYDROcodone": "mg",
           "HYDROmorphone": "mg", "Methadone": "mg", "Morphine": "mg", "OxyCODONE": "mg", "OxyMORphone": "mg",
           "Tapentadol": "mg", "TraMADol": "mg"}
_MAX_ATTEMPTS = 50
# Synthetic labels always follow the published definitions: the "medcalc-v1.0" convention reproduces
# benchmark label bugs and must never produce training data.
LABEL_CONVENTION = "published"


def _round(value: float, digits: int) -> float | int:
    """Round to ``digits`` decimals; 0 or negative digits give an int (e.g. -3: to the thousand)."""
    return int(round(value, digits)) if digits <= 0 else round(value, digits)


def _sample_field(field: Any, rng: random.Random, entities: dict[str, Any]) -> None:
    if isinstance(field, Q):
        value = rng.uniform(field.lo, field.hi)
        if field.alt is not None and rng.random() < 0.3:
            unit, factor, digits = field.alt
            # Fahrenheit is the one affine conversion: factor 1.8 plus the 32-degree offset.
            converted = value * factor + 32 if unit == "degrees fahrenheit" else value * factor
            entities[field.key] = [_round(converted, digits), unit]
        else:
            entities[field.key] = [_round(value, field.digits), field.unit]
    elif isinstance(field, P):
        entities[field.key] = _round(rng.uniform(field.lo, field.hi), field.digits)
    elif isinstance(field, F):
        entities[field.key] = rng.random() < field.p
    elif isinstance(field, C):
        entities[field.key] = rng.choice(field.options)
    elif field == LMP:
        start = dt.date(2000, 1, 1)
        entities[LMP] = (start + dt.timedelta(days=rng.randrange(26 * 365))).strftime("%m/%d/%Y")
    elif field == "Current Date":
        lmp = dt.datetime.strptime(entities[LMP], "%m/%d/%Y").date()
        entities[field] = (lmp + dt.timedelta(days=rng.randrange(0, 295))).strftime("%m/%d/%Y")
    else:
        raise ValueError(f"unknown field spec {field!r}")


def sample_entities(calculator_id: int, rng: random.Random) -> dict[str, Any]:
    """One random ``Relevant Entities`` dict for ``calculator_id``."""
    entities: dict[str, Any] = {}
    if calculator_id == 24:
        source, target = rng.sample(STEROIDS, 2)
        entities["input steroid"] = [source, round(rng.uniform(1, 80), 1), "mg"]
        entities["target steroid"] = target
    elif calculator_id == 49:
        for drug in rng.sample(sorted(OPIOIDS), rng.randint(1, 3)):
            entities[f"{drug} Dose"] = [rng.choice((5, 10, 15, 20, 25, 30, 40, 50, 60)), OPIOIDS[drug]]
            entities[f"{drug} Dose Per Day"] = [rng.randint(1, 4), "per day"]
    else:
        for field in SAMPLERS[calculator_id]:
            _sample_field(field, rng, entities)
    return entities


def _phrase(key: str, language: str) -> str:
    en, ja = PHRASES.get(key, (key[0].lower() + key[1:], PHRASES_JA.get(key, key)))
    return en if language == "en" else ja


def _value_text(value: Any, language: str) -> str:
    if isinstance(value, list) and len(value) == 3:
        return f"{value[1]:g} {value[2]} of {value[0]}" if language == "en" else f"{value[0]} {value[1]:g} {value[2]}"
    if isinstance(value, list):
        return f"{value[0]:g} {value[1]}"
    if isinstance(value, str) and language == "ja":
        return VALUES_JA.get(value, value)
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _medication_phrases(entities: dict[str, Any], language: str) -> list[str]:
    """Steroid switch and opioid regimen sentences (calculators 24 and 49)."""
    phrases = []
    if "input steroid" in entities:
        drug, dose, unit = entities["input steroid"]
        target = entities.get("target steroid", "")
        phrases.append(f"takes {dose:g} {unit} of {drug} and is to be switched to {target}" if language == "en"
                       else f"{drug} {dose:g} {unit}を投与中で、{target}へ切り替える予定")
    for key, value in entities.items():
        if key.endswith(" Dose"):
            drug = key[: -len(" Dose")]
            times = entities.get(f"{drug} Dose Per Day", [1, "per day"])[0]
            phrases.append(f"{drug} {value[0]:g} {value[1]} {times:g} times a day" if language == "en"
                           else f"{drug} {value[0]:g} {value[1]}を1日{times:g}回")
    return phrases


def render_note(entities: dict[str, Any], language: str) -> str:
    """A short clinical note stating every entity (findings absent are stated as absent)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    sex = entities.get("sex")
    age = entities.get("age")
    if language == "en":
        who = {"Male": "man", "Female": "woman"}.get(sex, "patient")
        opening = f"A {age[0]:g}-{age[1][:-1]}-old {who} is seen in clinic." if age else f"A {who} is seen in clinic."
    else:
        who = {"Male": "男性", "Female": "女性"}.get(sex, "患者")
        opening = f"{age[0]:g}{'歳' if age[1] == 'years' else 'か月'}の{who}が受診した。" if age else f"{who}が受診した。"
    present, absent = [], []
    measured = _medication_phrases(entities, language)
    for key, value in entities.items():
        if key in ("sex", "age", "input steroid", "target steroid") or key.endswith((" Dose", " Dose Per Day")):
            continue
        if isinstance(value, bool):
            (present if value else absent).append(_phrase(key, language))
        else:
            measured.append(f"{_phrase(key, language)}: {_value_text(value, language)}")
    parts = [opening]
    if language == "en":
        if measured:
            parts.append("Findings: " + "; ".join(measured) + ".")
        if present:
            parts.append("Present: " + "; ".join(present) + ".")
        if absent:
            parts.append("Absent: " + "; ".join(absent) + ".")
    else:
        if measured:
            parts.append("所見: " + "、".join(measured) + "。")
        if present:
            parts.append("あり: " + "、".join(present) + "。")
        if absent:
            parts.append("なし: " + "、".join(absent) + "。")
    return "\n".join(parts)


def _answer_fields(calculator_id: int, answer: Any) -> tuple[str, str, str]:
    """(Ground Truth Answer, Lower Limit, Upper Limit) strings by the benchmark's rules."""
    spec = CALCULATORS[calculator_id]
    if spec.answer_kind == "date":
        text = answer.strftime("%m/%d/%Y")
        return text, text, text
    if spec.answer_kind == "weeks_days":
        text = str((f"{answer[0]} weeks", f"{answer[1]} days"))
        return text, text, text
    if spec.output_type == "integer":
        text = str(int(round(answer)))
        return text, text, text
    gt = round(float(answer), 3)
    low, high = round(gt * 0.95, 4), round(gt * 1.05, 4)
    if gt < 0:
        low, high = high, low
    return str(gt), str(low), str(high)


def generate_tasks(n: int, *, seed: int, calculator_ids: list[int] | None = None,
                   language: str = "en") -> list[dict[str, str]]:
    """``n`` synthetic tasks cycling over ``calculator_ids`` (default: all 55), as CSV-ready rows.

    Deterministic for a given ``seed``. ``language`` ("en" or "ja") sets the note and question language;
    explanations are in English.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    ids = sorted(CALCULATORS) if calculator_ids is None else list(calculator_ids)
    unknown = [cid for cid in ids if cid not in CALCULATORS]
    if unknown or not ids:
        raise ValueError(f"unknown calculator ids {unknown}" if unknown else "calculator_ids is empty")
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        cid = ids[index % len(ids)]
        spec = CALCULATORS[cid]
        for _ in range(_MAX_ATTEMPTS):
            entities = sample_entities(cid, rng)
            try:
                result = compute_with(cid, entities, LABEL_CONVENTION)
            except (EntityError, ZeroDivisionError, ValueError):
                continue  # e.g. bicarbonate exactly 24 makes the delta ratio undefined: resample
            break
        else:
            raise RuntimeError(f"could not sample valid entities for calculator {cid}")
        gt, low, high = _answer_fields(cid, result.answer)
        target = entities.get("target steroid", "")
        rows.append({
            "Row Number": str(index + 1), "Calculator ID": str(cid), "Calculator Name": spec.name,
            "Category": spec.category, "Output Type": spec.output_type, "Note ID": f"synthetic-{seed}-{index + 1}",
            "Note Type": "Synthetic", "Patient Note": render_note(entities, language),
            "Question": question(cid, spec.name, spec.output_type, language, target),
            "Relevant Entities": repr(entities), "Ground Truth Answer": gt, "Lower Limit": low, "Upper Limit": high,
            "Ground Truth Explanation": result.explanation,
        })
    return rows


def write_csv(rows: list[dict[str, str]], path: str | Path) -> None:
    """Write rows in the MedCalc-Bench column order, atomically (temp file then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
