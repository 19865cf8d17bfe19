"""Liver calculators: FIB-4, MELD-Na (UNOS/OPTN), Child-Pugh."""

from __future__ import annotations

import math

from medreasoner.calculators.entities import Entities, Steps, fmt
from medreasoner.calculators.renal import creatinine_mg_dl


def fib4(e: Entities):
    """FIB-4 = age × AST / (platelets 10⁹/L × √ALT) (Sterling et al., Hepatology 2006;43:1317)."""
    s = Steps()
    age = e.age_years()
    ast = e.number("Aspartate aminotransferase")
    alt = e.number("Alanine aminotransferase")
    platelets = e.count_per_ul("Platelet count") / 1000.0  # per µL -> 10^9/L
    value = age * ast / (platelets * math.sqrt(alt))
    s.add("FIB-4 = age × AST / (platelets (10⁹/L) × √ALT).")
    s.add(f"FIB-4 = {fmt(age)} × {fmt(ast)} / ({fmt(platelets)} × √{fmt(alt)}) = {fmt(value)}.")
    return s.result(value)


def meld_i(cr: float, bili: float, inr: float) -> float:
    """UNOS MELD(i) = 0.957 ln(Cr) + 0.378 ln(bili) + 1.120 ln(INR) + 0.643 (Cr, bilirubin in mg/dL;
    values already bounded)."""
    return 0.957 * math.log(cr) + 0.378 * math.log(bili) + 1.120 * math.log(inr) + 0.643


def meld_sodium_adjusted(meld: float, na: float) -> float:
    """Kim et al. 2008 sodium term, applied when MELD > 11: MELD + 1.32(137 − Na) − 0.033·MELD·(137 − Na)
    (Na in mEq/L, bounded to 125–137)."""
    return meld + 1.32 * (137.0 - na) - 0.033 * meld * (137.0 - na)


def meld_na(e: Entities):
    """MELD-Na as implemented by UNOS/OPTN from January 2016 (Kim et al., NEJM 2008;359:1018;
    OPTN policy 9.1): MELD(i) = 0.957 ln(Cr) + 0.378 ln(bili) + 1.120 ln(INR) + 0.643, labs floored at
    1.0, Cr capped at 4.0 (set to 4.0 after ≥ 2 dialyses or ≥ 24 h CVVHD in the past week); MELD(i) is
    rounded to one decimal and multiplied by 10; if MELD > 11: MELD + 1.32 × (137 − Na) − 0.033 × MELD ×
    (137 − Na), Na bounded to 125–137; result rounded to an integer, capped at 40."""
    s = Steps()
    cr = creatinine_mg_dl(e)
    bili = e.conc("Bilirubin", "mg/dL", "bilirubin")
    inr = e.number("international normalized ratio")
    na = e.conc("Sodium", "mEq/L", "sodium")
    dialysis = e.flag("Dialysis at least twice in the past week") or e.flag(
        "Continuous veno-venous hemodialysis for ≥24 hours in the past week")
    if dialysis:
        cr = 4.0
        s.add("Dialysis in the past week: creatinine is set to 4.0 mg/dL.")
    cr_b, bili_b, inr_b = min(max(cr, 1.0), 4.0), max(bili, 1.0), max(inr, 1.0)
    na_b = min(max(na, 125.0), 137.0)
    s.add(f"Bounded values: Cr {fmt(cr_b)} mg/dL, bilirubin {fmt(bili_b)} mg/dL, INR {fmt(inr_b)}, Na {fmt(na_b)} mEq/L.")
    meld_index = meld_i(cr_b, bili_b, inr_b)
    meld = round(meld_index, 1) * 10.0
    s.add(f"MELD(i) = 0.957 ln({fmt(cr_b)}) + 0.378 ln({fmt(bili_b)}) + 1.120 ln({fmt(inr_b)}) + 0.643 = {fmt(meld_index)}; "
          f"MELD = 10 × MELD(i) = {fmt(meld)}.")
    if meld > 11:
        meld = meld_sodium_adjusted(meld, na_b)
        s.add(f"MELD > 11: MELD-Na = MELD + 1.32 × (137 − Na) − 0.033 × MELD × (137 − Na) = {fmt(meld)}.")
    value = float(min(round(meld), 40))
    s.add(f"MELD-Na rounded to the nearest integer and capped at 40 = {fmt(value)}.")
    return s.result(value)


def child_pugh(e: Entities):
    """Child-Pugh score (5–15) (Pugh et al., Br J Surg 1973;60:646): bilirubin < 2 / 2–3 / > 3 mg/dL;
    albumin > 3.5 / 2.8–3.5 / < 2.8 g/dL; INR < 1.7 / 1.7–2.3 / > 2.3; ascites absent / slight /
    moderate; encephalopathy none / grade 1–2 / grade 3–4 → 1 / 2 / 3 points each."""
    s = Steps()
    total = 0
    bili = e.conc("Bilirubin", "mg/dL", "bilirubin")
    pts = 1 if bili < 2 else 2 if bili <= 3 else 3
    total += pts
    s.add(f"Bilirubin {fmt(bili)} mg/dL: +{pts} (total {total}).")
    alb = e.conc("Albumin", "g/dL")
    pts = 1 if alb > 3.5 else 2 if alb >= 2.8 else 3
    total += pts
    s.add(f"Albumin {fmt(alb)} g/dL: +{pts} (total {total}).")
    inr = e.number("international normalized ratio")
    pts = 1 if inr < 1.7 else 2 if inr <= 2.3 else 3
    total += pts
    s.add(f"INR {fmt(inr)}: +{pts} (total {total}).")
    ascites, pts = e.choice("Ascites", {"absent": 1, "slight": 2, "moderate": 3, "severe": 3}, "absent")
    total += pts
    s.add(f"Ascites {ascites} (absent if not mentioned): +{pts} (total {total}).")
    enceph = e.text("Encephalopathy", "No Encephalopathy").lower()
    pts = 3 if "3" in enceph else 2 if "1" in enceph else 1
    total += pts
    s.add(f"Encephalopathy '{enceph}': +{pts} (total {total}).")
    s.add(f"Child-Pugh score = {total}.")
    return s.result(total)
