"""Kidney function: Cockcroft-Gault creatinine clearance, CKD-EPI 2021, MDRD, FENa, free water deficit."""

from __future__ import annotations

from medreasoner.calculators.body import abw_value, bmi_value, ibw_value
from medreasoner.calculators.entities import Entities, Steps, fmt


def creatinine_mg_dl(e: Entities, key: str = "creatinine", default: float | None = None) -> float:
    """Serum creatinine in mg/dL (µmol/L ÷ 88.4)."""
    return e.conc(key, "mg/dL", "creatinine", default)


def cockcroft_gault(e: Entities):
    """Creatinine clearance (mL/min), Cockcroft & Gault (Nephron 1976;16:31):
    (140 − age) × weight × (0.85 if female) / (72 × Scr mg/dL).

    The weight follows the MDCalc / MedCalc-Bench rule stated in the benchmark question: BMI < 18.5
    actual weight; 18.5–24.9 min(IBW, actual); ≥ 25 adjusted body weight (Winter et al.,
    Pharmacotherapy 2012;32:604 compared these choices).
    """
    s = Steps()
    age, female, w, h = e.age_years(), e.female(), e.mass_kg(), e.length_cm()
    scr = creatinine_mg_dl(e)
    bmi = bmi_value(w, h)
    ibw = ibw_value(female, h)
    s.add("CrCl = (140 − age) × weight × sex factor / (72 × serum creatinine mg/dL); sex factor 0.85 for women.")
    s.add(f"Age {fmt(age)} y, {'female' if female else 'male'}, weight {fmt(w)} kg, height {fmt(h)} cm, "
          f"creatinine {fmt(scr)} mg/dL.")
    s.add(f"BMI = {fmt(bmi)} kg/m²; ideal body weight (Devine) = {fmt(ibw)} kg.")
    if bmi < 18.5:
        weight = w
        s.add("BMI < 18.5 (underweight): use the actual body weight.")
    elif bmi < 25:
        weight = min(ibw, w)
        s.add(f"BMI 18.5–24.9 (normal): use min(IBW, actual weight) = {fmt(weight)} kg.")
    else:
        weight = abw_value(ibw, w)
        s.add(f"BMI ≥ 25 (overweight/obese): use adjusted body weight IBW + 0.4 × (weight − IBW) = {fmt(weight)} kg.")
    factor = 0.85 if female else 1.0
    value = (140.0 - age) * weight * factor / (72.0 * scr)
    s.add(f"CrCl = (140 − {fmt(age)}) × {fmt(weight)} × {factor} / (72 × {fmt(scr)}) = {fmt(value)} mL/min.")
    return s.result(value)


def ckd_epi_2021(e: Entities):
    """eGFR (mL/min/1.73 m²), race-free CKD-EPI creatinine equation 2021 (Inker et al., NEJM 2021;385:1737):
    142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 (female);
    κ = 0.7 (F) / 0.9 (M), α = −0.241 (F) / −0.302 (M)."""
    s = Steps()
    age, female, scr = e.age_years(), e.female(), creatinine_mg_dl(e)
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = scr / kappa
    value = 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.2 * 0.9938 ** age * (1.012 if female else 1.0)
    s.add("CKD-EPI 2021: eGFR = 142 × min(Scr/κ,1)^α × max(Scr/κ,1)^−1.200 × 0.9938^age × 1.012 if female.")
    s.add(f"{'Female' if female else 'Male'}: κ = {kappa}, α = {alpha}; Scr = {fmt(scr)} mg/dL, age {fmt(age)} y.")
    s.add(f"eGFR = 142 × min({fmt(ratio)},1)^{alpha} × max({fmt(ratio)},1)^−1.2 × 0.9938^{fmt(age)}"
          f"{' × 1.012' if female else ''} = {fmt(value)} mL/min/1.73 m².")
    return s.result(value)


def mdrd(e: Entities):
    """eGFR (mL/min/1.73 m²), 4-variable IDMS-traceable MDRD (Levey et al., Ann Intern Med 2006;145:247):
    175 × Scr^−1.154 × age^−0.203 × 0.742 (female) × 1.212 (Black)."""
    s = Steps()
    age, female, scr = e.age_years(), e.female(), creatinine_mg_dl(e)
    black = e.text("Race", "").lower() == "black"
    value = 175.0 * scr ** -1.154 * age ** -0.203 * (0.742 if female else 1.0) * (1.212 if black else 1.0)
    s.add("MDRD: eGFR = 175 × Scr^−1.154 × age^−0.203 × 0.742 (female) × 1.212 (Black).")
    s.add(f"Scr {fmt(scr)} mg/dL, age {fmt(age)} y, {'female' if female else 'male'}, "
          f"race coefficient {1.212 if black else 1.0}.")
    s.add(f"eGFR = {fmt(value)} mL/min/1.73 m².")
    return s.result(value)


def fena(e: Entities):
    """Fractional excretion of sodium (%), Espinel (JAMA 1976;236:579):
    100 × (urine Na × serum Cr) / (serum Na × urine Cr)."""
    s = Steps()
    na = e.conc("Sodium", "mmol/L", "sodium")
    una = e.conc("Urine sodium", "mmol/L", "sodium")
    cr = creatinine_mg_dl(e)
    ucr = creatinine_mg_dl(e, "Urine creatinine")
    value = 100.0 * (una * cr) / (na * ucr)
    s.add("FENa = 100 × (urine Na × serum Cr) / (serum Na × urine Cr).")
    s.add(f"FENa = 100 × ({fmt(una)} × {fmt(cr)}) / ({fmt(na)} × {fmt(ucr)}) = {fmt(value)} %.")
    return s.result(value)


def total_body_water_fraction(age: float, female: bool) -> float:
    """Fraction of body weight that is water: children 0.6; adult men 0.6, women 0.5;
    over 64 years men 0.5, women 0.45 (the standard clinical approximation used by MDCalc)."""
    if age < 18:
        return 0.6
    if age >= 65:
        return 0.45 if female else 0.5
    return 0.5 if female else 0.6


def free_water_deficit(e: Entities):
    """Free water deficit (L) = TBW fraction × weight × (Na / 140 − 1) (Adrogué & Madias, NEJM 2000;342:1493)."""
    s = Steps()
    age, female, w = e.age_years(), e.female(), e.mass_kg()
    na = e.conc("Sodium", "mmol/L", "sodium")
    tbw = total_body_water_fraction(age, female)
    value = tbw * w * (na / 140.0 - 1.0)
    s.add("Free water deficit = TBW fraction × weight (kg) × (Na / 140 − 1).")
    s.add(f"Age {fmt(age)} y, {'female' if female else 'male'}: TBW fraction {tbw}.")
    s.add(f"FWD = {tbw} × {fmt(w)} × ({fmt(na)} / 140 − 1) = {fmt(value)} L.")
    return s.result(value)
