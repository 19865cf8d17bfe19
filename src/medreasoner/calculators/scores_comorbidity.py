"""Charlson Comorbidity Index (Charlson et al., J Chronic Dis 1987;40:373, with the age points of
Charlson et al., J Clin Epidemiol 1994;47:1245 as used by MDCalc)."""

from __future__ import annotations

from medreasoner.calculators.entities import Entities, fmt
from medreasoner.calculators.scores_cardio import Tally

_ONE_POINT = ("Myocardial infarction", "Congestive Heart Faliure", "Peripheral vascular disease", "Dementia",
              "Chronic Obstructive Pulmonary Disease", "Connective tissue disease", "Peptic ulcer disease")
_TWO_POINTS = ("Hemiplegia", "Leukemia", "Lymphoma")


def _level(e: Entities, key: str) -> str:
    """Normalise a value that is either a bool or a label such as 'Severe' / 'None or diet-controlled'."""
    value = e.raw.get(key, False)
    if isinstance(value, bool):
        return "present" if value else "none"
    text = str(value).strip().lower()
    if text in ("false", "no", "none", "absent") or text.startswith("none"):
        return "none"
    if text == "true":
        return "present"
    return text


def charlson(e: Entities):
    """Charlson Comorbidity Index: age < 50 0 / 50–59 1 / 60–69 2 / 70–79 3 / ≥ 80 4; MI, CHF, PVD,
    CVA or TIA, dementia, COPD, connective tissue disease, peptic ulcer 1 each; liver mild 1 /
    moderate-severe 3; diabetes uncomplicated 1 / end-organ damage 2; hemiplegia, moderate-severe CKD,
    leukaemia, lymphoma 2; solid tumour localised 2 / metastatic 6; AIDS 6."""
    t = Tally("Charlson Comorbidity Index")
    age = e.age_years()
    t.add(4 if age >= 80 else 3 if age >= 70 else 2 if age >= 60 else 1 if age >= 50 else 0, f"Age {fmt(age)} y")
    for key in _ONE_POINT:
        t.add(1 if e.flag(key) else 0, key)
    cva = e.flag("Cerebrovascular Accident") or e.flag("Transient Ischemic Attacks History")
    t.add(1 if cva else 0, "Cerebrovascular accident or TIA")
    liver = _level(e, "Liver disease severity")
    t.add({"none": 0, "mild": 1}.get(liver, 3), f"Liver disease '{liver}'")
    diabetes = _level(e, "Diabetes mellitus criteria for CCI rule")
    t.add({"none": 0, "uncomplicated": 1, "present": 1}.get(diabetes, 2), f"Diabetes '{diabetes}'")
    for key in _TWO_POINTS:
        t.add(2 if e.flag(key) else 0, key)
    ckd = _level(e, "Moderate to severe Chronic Kidney Disease")
    t.add(0 if ckd == "none" else 2, f"Moderate to severe CKD '{ckd}'")
    tumor = _level(e, "Solid tumor")
    t.add({"none": 0, "metastatic": 6}.get(tumor, 2), f"Solid tumor '{tumor}'")
    t.add(6 if e.flag("AIDS") else 0, "AIDS")
    return t.result()
