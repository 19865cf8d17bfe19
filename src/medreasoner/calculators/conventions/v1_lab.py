"""``medcalc-v1.0`` overrides for laboratory formulas: CKD-EPI, corrected calcium, LDL, MELD-Na and
Framingham hard CHD, as the MedCalc-Bench v1.0 label code computed them (not the published definitions).
"""

from __future__ import annotations

import math

from medreasoner.calculators.conventions.v1_common import quirk_steps, v1_to_mg_dl, v1_to_mmol_l
from medreasoner.calculators.entities import Entities, fmt
from medreasoner.calculators.liver import meld_i, meld_sodium_adjusted
from medreasoner.calculators.scores_cardio import framingham_linear_score


def ckd_epi_male_kappa_07(e: Entities):
    """CKD-EPI 2021 with κ = 0.7 for men whose creatinine is ≤ 0.9 mg/dL (the female constant), i.e.
    142 × (Scr/0.7)^−0.302 × 0.9938^age; creatinine in µmol/L converted with step rounding; result to 3
    decimals. Evidence: rows 23 (80.4 µmol/L -> 0.9 mg/dL) and 25 (0.87 mg/dL)."""
    s = quirk_steps("Men with creatinine ≤ 0.9 mg/dL use κ = 0.7.")
    age, female = e.age_years(), e.female()
    scr = v1_to_mg_dl(e, "creatinine", "creatinine")
    if female:
        kappa, alpha = 0.7, (-0.241 if scr <= 0.7 else -1.2)
    else:
        kappa, alpha = (0.7, -0.302) if scr <= 0.9 else (0.9, -1.2)
    value = round(142.0 * (scr / kappa) ** alpha * 0.9938 ** age * (1.012 if female else 1.0), 3)
    s.add(f"eGFR = 142 × ({fmt(scr)}/{kappa})^{alpha} × 0.9938^{fmt(age)}{' × 1.012' if female else ''} "
          f"= {fmt(value)} mL/min/1.73 m².")
    return s.result(value)


def calcium_step_rounded(e: Entities):
    """Corrected calcium with the calcium converted from mmol/L by step rounding (2.26 mmol/L -> 0.002 mol
    -> 8.0 mg/dL). Evidence: rows 114 and 117."""
    s = quirk_steps("Calcium in mmol/L is converted with intermediates rounded to 3 decimals.")
    ca = v1_to_mg_dl(e, "Calcium", "calcium")
    alb = e.conc("Albumin", "g/dL")
    value = round(0.8 * (4.0 - alb) + ca, 3)
    s.add(f"Corrected Ca = 0.8 × (4 − {fmt(alb)}) + {fmt(ca)} = {fmt(value)} mg/dL.")
    return s.result(value)


def ldl_step_rounded(e: Entities):
    """Friedewald LDL with mmol/L inputs converted by step rounding (cholesterol 386.654 g/mol,
    triglycerides 861.338 g/mol). Evidence: rows 513 and 521."""
    s = quirk_steps("mmol/L lipids are converted with intermediates rounded to 3 decimals.")
    tc = v1_to_mg_dl(e, "Total cholesterol", "cholesterol")
    hdl = v1_to_mg_dl(e, "high-density lipoprotein cholesterol", "cholesterol")
    tg = v1_to_mg_dl(e, "Triglycerides", "triglycerides")
    value = round(tc - hdl - tg / 5.0, 3)
    s.add(f"LDL = {fmt(tc)} − {fmt(hdl)} − {fmt(tg)}/5 = {fmt(value)} mg/dL.")
    return s.result(value)


def meld_na_integer_meld_i(e: Entities):
    """MELD-Na with MELD(i) rounded to an integer (not to the tenth) before × 10; otherwise the UNOS/OPTN
    steps. Evidence: rows 340–343 (e.g. row 340 MELD(i) 1.826 -> 2 -> 20)."""
    s = quirk_steps("MELD(i) is rounded to an integer before multiplying by 10.")
    cr = v1_to_mg_dl(e, "creatinine", "creatinine")
    bili = v1_to_mg_dl(e, "Bilirubin", "bilirubin")
    inr = e.number("international normalized ratio")
    na = e.conc("Sodium", "mEq/L", "sodium")
    if e.flag("Dialysis at least twice in the past week") or e.flag(
            "Continuous veno-venous hemodialysis for ≥24 hours in the past week"):
        cr = 4.0
    cr, bili, inr, na = min(max(cr, 1.0), 4.0), max(bili, 1.0), max(inr, 1.0), min(max(na, 125.0), 137.0)
    meld_index = meld_i(cr, bili, inr)
    meld = round(meld_index) * 10.0
    s.add(f"MELD(i) = {fmt(meld_index)} -> {round(meld_index)}; MELD = {fmt(meld)}.")
    if meld > 11:
        meld = meld_sodium_adjusted(meld, na)
        s.add(f"MELD-Na = MELD + 1.32 × (137 − {fmt(na)}) − 0.033 × MELD × (137 − {fmt(na)}) = {fmt(meld)}.")
    value = float(min(round(meld), 40))
    s.add(f"MELD-Na = {fmt(value)}.")
    return s.result(value)


def framingham_mmol_in_mg_equation(e: Entities):
    """ATP III hard-CHD equation fed total and HDL cholesterol in mmol/L (step-rounded conversion, 386.65
    g/mol) although its coefficients are for mg/dL; the score is rounded to 1 decimal and the risk
    1 − S^exp(score) is reported as a percentage without × 100, rounded to 1 decimal.
    Evidence: all 16 rows 552–567 (labels 0–1 %)."""
    s = quirk_steps("Cholesterol in mmol/L enters the mg/dL equation; the risk fraction is reported as %.")
    female, age = e.female(), e.age_years()
    tc = v1_to_mmol_l(e, "Total cholesterol", "cholesterol_framingham")
    hdl = v1_to_mmol_l(e, "high-density lipoprotein cholesterol", "cholesterol_framingham")
    sbp = e.number("Systolic Blood Pressure")
    treated = 1 if e.flag("Blood pressure being treated with medicines") else 0
    smoker = 1 if e.flag("Smoker") else 0
    score, base = framingham_linear_score(female, age, tc, hdl, sbp, treated, smoker)
    score = round(score, 1)
    value = round(1.0 - base ** math.exp(score), 1)
    s.add(f"TC {fmt(tc)} mmol/L, HDL {fmt(hdl)} mmol/L: score {fmt(score)}; "
          f"1 − {base}^exp(score) = {fmt(value)} '%'.")
    return s.result(value)
