"""Dose conversions: corticosteroid equivalence, morphine milligram equivalents (MME)."""

from __future__ import annotations

from medreasoner.calculators.entities import Entities, EntityError, Steps, fmt

# mg equivalent to 20 mg hydrocortisone (anti-inflammatory potency), the table of
# Liu et al., Allergy Asthma Clin Immunol 2013;9:30 (Table 1), also used by MDCalc.
STEROID_EQUIVALENT_MG = {
    "betamethasone iv": 0.75,
    "cortisone po": 25.0,
    "dexamethasone iv": 0.75,
    "dexamethasone po": 0.75,
    "hydrocortisone iv": 20.0,
    "hydrocortisone po": 20.0,
    "methylprednisolone iv": 4.0,
    "methylprednisolone po": 4.0,
    "prednisolone po": 5.0,
    "prednisone po": 5.0,
    "triamcinolone iv": 4.0,
}

# MME conversion factors, CDC Clinical Practice Guideline for Prescribing Opioids for Pain 2022
# (MMWR Recomm Rep 2022;71(3), Table): per mg, fentanyl buccal per µg, fentanyl patch per µg/h.
MME_FACTOR = {
    "codeine": 0.15,
    "fentanyl buccal": 0.13,
    "fentanyl patch": 2.4,
    "hydrocodone": 1.0,
    "hydromorphone": 5.0,
    "methadone": 4.7,
    "morphine": 1.0,
    "oxycodone": 1.5,
    "oxymorphone": 3.0,
    "tapentadol": 0.4,
    "tramadol": 0.2,
}


# Dose units accepted per opioid; MedCalc-Bench labels fentanyl patch rates "mg" although they are µg/h.
_MICROGRAMS = {"µg", "mcg", "ug"}
_PATCH_RATE = {"µg/hr", "µg/h", "mcg/hr", "mcg/h", "ug/hr", "mg"}


def _dose_units(drug: str) -> set[str]:
    if drug == "fentanyl buccal":
        return _MICROGRAMS
    if drug == "fentanyl patch":
        return _PATCH_RATE
    return {"mg"}


def _steroid(name: str, field: str) -> float:
    key = " ".join(name.lower().split())
    if key not in STEROID_EQUIVALENT_MG:
        raise EntityError(field, f"unknown steroid {name!r}; known: {sorted(STEROID_EQUIVALENT_MG)}")
    return STEROID_EQUIVALENT_MG[key]


def steroid_conversion(e: Entities):
    """Equivalent dose (mg) of 'target steroid' for 'input steroid' ``[name, dose, 'mg']``, using the
    equivalence table of Liu et al., Allergy Asthma Clin Immunol 2013;9:30."""
    s = Steps()
    raw = e.raw.get("input steroid")
    if not (isinstance(raw, (list, tuple)) and len(raw) == 3):
        raise EntityError("input steroid", f"expected [name, dose, unit], got {raw!r}")
    name, dose, unit = str(raw[0]), float(raw[1]), str(raw[2]).lower()
    if unit != "mg":
        raise EntityError("input steroid", f"dose unit must be mg, got {unit!r}")
    target = e.text("target steroid")
    eq_in, eq_out = _steroid(name, "input steroid"), _steroid(target, "target steroid")
    value = dose / eq_in * eq_out
    s.add(f"Equivalent doses: {eq_in} mg {name} ≈ {eq_out} mg {target}.")
    s.add(f"{fmt(dose)} mg {name} × ({eq_out} / {eq_in}) = {fmt(value)} mg {target}.")
    return s.result(value)


def morphine_milligram_equivalents(e: Entities):
    """Total MME per day = Σ dose × doses per day × factor over '<Drug> Dose' / '<Drug> Dose Per Day' keys,
    factors of the CDC 2022 opioid prescribing guideline (MMWR Recomm Rep 2022;71(3))."""
    s = Steps()
    total = 0.0
    for key in e.raw:
        if not key.endswith(" Dose"):
            continue
        drug = key[: -len(" Dose")]
        factor = MME_FACTOR.get(drug.lower())
        if factor is None:
            raise EntityError(key, f"unknown opioid {drug!r}; known: {sorted(MME_FACTOR)}")
        dose = e.number(key)
        unit = str(e.raw[key][1]).strip() if isinstance(e.raw[key], (list, tuple)) else ""
        if unit not in _dose_units(drug.lower()):
            raise EntityError(key, f"dose unit {unit!r} not accepted; expected one of {sorted(_dose_units(drug.lower()))}")
        per_day = e.number(f"{drug} Dose Per Day", 1.0)
        mme = dose * per_day * factor
        total += mme
        s.add(f"{drug}: {fmt(dose)} × {fmt(per_day)}/day × {factor} = {fmt(mme)} MME/day (total {fmt(total)}).")
    s.add(f"Total = {fmt(total)} MME/day.")
    return s.result(total)
