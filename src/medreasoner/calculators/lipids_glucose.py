"""Lipid and glucose calculators: Friedewald LDL, HOMA-IR."""

from __future__ import annotations

from medreasoner.calculators.entities import Entities, Steps, fmt


def ldl_friedewald(e: Entities):
    """LDL cholesterol (mg/dL) = TC − HDL − TG/5 (Friedewald et al., Clin Chem 1972;18:499)."""
    s = Steps()
    tc = e.conc("Total cholesterol", "mg/dL", "cholesterol")
    hdl = e.conc("high-density lipoprotein cholesterol", "mg/dL", "cholesterol")
    tg = e.conc("Triglycerides", "mg/dL", "triglycerides")
    value = tc - hdl - tg / 5.0
    s.add(f"LDL = TC − HDL − TG/5 = {fmt(tc)} − {fmt(hdl)} − {fmt(tg)}/5 = {fmt(value)} mg/dL.")
    return s.result(value)


def homa_ir(e: Entities):
    """HOMA-IR = insulin (µIU/mL) × glucose (mg/dL) / 405 (Matthews et al., Diabetologia 1985;28:412)."""
    s = Steps()
    insulin = e.number("Insulin")
    if e.has("Insulin") and str(e.raw["Insulin"][1]).lower().replace(" ", "") == "pmol/l":
        insulin = insulin / 6.0  # 1 µIU/mL = 6 pmol/L (insulin international unit)
    glucose = e.conc("Glucose", "mg/dL", "glucose")
    value = insulin * glucose / 405.0
    s.add(f"HOMA-IR = insulin × glucose / 405 = {fmt(insulin)} × {fmt(glucose)} / 405 = {fmt(value)}.")
    return s.result(value)
