"""Body-size and haemodynamic calculators: BMI, ideal/adjusted body weight, BSA, target weight,
maintenance fluids, mean arterial pressure."""

from __future__ import annotations

import math

from medreasoner.calculators.entities import Entities, Steps, fmt

CM_PER_INCH = 2.54


def bmi_value(weight_kg: float, height_cm: float) -> float:
    """Body mass index in kg/m² (Quetelet; WHO Technical Report Series 894, 2000)."""
    return weight_kg / (height_cm / 100.0) ** 2


def ibw_value(female: bool, height_cm: float) -> float:
    """Ideal body weight in kg by Devine (Drug Intell Clin Pharm 1974;8:650):
    50 kg (men) or 45.5 kg (women) + 2.3 kg per inch over 5 ft."""
    inches = height_cm / CM_PER_INCH
    return (45.5 if female else 50.0) + 2.3 * (inches - 60.0)


def abw_value(ibw_kg: float, weight_kg: float) -> float:
    """Adjusted body weight in kg: IBW + 0.4 × (actual − IBW) (Bauer, Applied Clinical Pharmacokinetics)."""
    return ibw_kg + 0.4 * (weight_kg - ibw_kg)


def bmi(e: Entities):
    """BMI (kg/m²) = weight / height² from 'weight' and 'height' (Quetelet; WHO TRS 894, 2000)."""
    s = Steps()
    w, h = e.mass_kg(), e.length_cm()
    value = bmi_value(w, h)
    s.add("BMI = weight (kg) / height (m)².")
    s.add(f"Weight {fmt(w)} kg, height {fmt(h)} cm = {fmt(h / 100)} m.")
    s.add(f"BMI = {fmt(w)} / ({fmt(h / 100)})² = {fmt(value)} kg/m².")
    return s.result(value)


def ideal_body_weight(e: Entities):
    """Ideal body weight (kg), Devine (Drug Intell Clin Pharm 1974;8:650): 50 kg (men) / 45.5 kg (women) + 2.3 kg per inch over 60 in."""
    s = Steps()
    female, h = e.female(), e.length_cm()
    value = ibw_value(female, h)
    base = 45.5 if female else 50.0
    s.add(f"Devine: IBW = {base} kg + 2.3 kg × (height in inches − 60) for a {'woman' if female else 'man'}.")
    s.add(f"Height {fmt(h)} cm = {fmt(h / CM_PER_INCH)} in.")
    s.add(f"IBW = {base} + 2.3 × ({fmt(h / CM_PER_INCH)} − 60) = {fmt(value)} kg.")
    return s.result(value)


def adjusted_body_weight(e: Entities):
    """Adjusted body weight (kg) = IBW (Devine) + 0.4 × (weight − IBW) (Bauer, Applied Clinical Pharmacokinetics, 2nd ed. 2008)."""
    s = Steps()
    female, h, w = e.female(), e.length_cm(), e.mass_kg()
    ibw = ibw_value(female, h)
    value = abw_value(ibw, w)
    s.add(f"IBW (Devine) for height {fmt(h)} cm = {fmt(ibw)} kg.")
    s.add(f"ABW = IBW + 0.4 × (weight − IBW) = {fmt(ibw)} + 0.4 × ({fmt(w)} − {fmt(ibw)}) = {fmt(value)} kg.")
    return s.result(value)


def body_surface_area(e: Entities):
    """Body surface area (m²), Mosteller (N Engl J Med 1987;317:1098): √(height cm × weight kg / 3600)."""
    s = Steps()
    w, h = e.mass_kg(), e.length_cm()
    value = math.sqrt(w * h / 3600.0)
    s.add("Mosteller: BSA = √(height (cm) × weight (kg) / 3600).")
    s.add(f"BSA = √({fmt(h)} × {fmt(w)} / 3600) = {fmt(value)} m².")
    return s.result(value)


def target_weight(e: Entities):
    """Target weight (kg) = target BMI × height (m)², the BMI definition solved for weight (WHO TRS 894)."""
    s = Steps()
    target = e.number("Body Mass Index (BMI)")
    h = e.length_cm() / 100.0
    value = target * h * h
    s.add(f"Target weight = target BMI × height² = {fmt(target)} × {fmt(h)}² = {fmt(value)} kg.")
    return s.result(value)


def maintenance_fluids(e: Entities):
    """Maintenance fluid rate (mL/h), Holliday-Segar 4-2-1 rule (Pediatrics 1957;19:823):
    4 mL/kg/h for the first 10 kg, 2 mL/kg/h for the next 10 kg, 1 mL/kg/h above 20 kg."""
    s = Steps()
    w = e.mass_kg()
    if w <= 10:
        value = 4.0 * w
        s.add(f"Weight {fmt(w)} kg ≤ 10 kg: rate = 4 mL/kg/h × {fmt(w)} kg = {fmt(value)} mL/h.")
    elif w <= 20:
        value = 40.0 + 2.0 * (w - 10.0)
        s.add(f"Weight {fmt(w)} kg is 10–20 kg: rate = 40 + 2 × ({fmt(w)} − 10) = {fmt(value)} mL/h.")
    else:
        value = 60.0 + (w - 20.0)
        s.add(f"Weight {fmt(w)} kg > 20 kg: rate = 60 + 1 × ({fmt(w)} − 20) = {fmt(value)} mL/h.")
    return s.result(value)


def map_value(systolic: float, diastolic: float) -> float:
    """Mean arterial pressure (mm Hg) = (2 × diastolic + systolic) / 3."""
    return (2.0 * diastolic + systolic) / 3.0


def mean_arterial_pressure(e: Entities):
    """Mean arterial pressure (mm Hg) = (2 × DBP + SBP) / 3, the standard one-third pulse-pressure estimate (Guyton & Hall, Textbook of Medical Physiology)."""
    s = Steps()
    sbp, dbp = e.number("Systolic Blood Pressure"), e.number("Diastolic Blood Pressure")
    value = map_value(sbp, dbp)
    s.add(f"MAP = 2/3 × DBP + 1/3 × SBP = 2/3 × {fmt(dbp)} + 1/3 × {fmt(sbp)} = {fmt(value)} mm Hg.")
    return s.result(value)
