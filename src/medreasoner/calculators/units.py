"""Unit conversion for MedCalc-Bench style quantities (``[value, unit]`` pairs).

Concentrations are converted through base units (grams or moles per litre); moles and grams are
bridged by each analyte's molar mass, milliequivalents by its valence. Unknown units raise
:class:`UnitError`, which names the unit, so a typo never silently becomes a wrong number.
"""

from __future__ import annotations

import re


class UnitError(ValueError):
    """A quantity's unit is unknown or cannot be converted to the unit a formula needs."""


# g/mol. Creatinine 113.12 and urea nitrogen 28.02 (2 N atoms: BUN is reported as nitrogen) give the
# usual clinical factors 88.4 µmol/L per mg/dL and 0.357 mmol/L per mg/dL; glucose 180.16 (factor
# 18.016); cholesterol 386.65 (factor 38.67); triglycerides 885.7 (factor 88.57); calcium 40.08
# (factor 4.008); bilirubin 584.66 (factor 17.1).
MOLAR_MASS = {
    "creatinine": 113.12,
    "bun": 28.02,
    "glucose": 180.16,
    "cholesterol": 386.65,
    "triglycerides": 885.7,
    "calcium": 40.08,
    "bilirubin": 584.66,
    "sodium": 22.99,
    "potassium": 39.098,
    "chloride": 35.45,
    "bicarbonate": 61.02,
    "magnesium": 24.305,
}
VALENCE = {"sodium": 1, "potassium": 1, "chloride": 1, "bicarbonate": 1, "calcium": 2, "magnesium": 2}

_GRAMS = {"kg": 1e3, "g": 1.0, "mg": 1e-3, "µg": 1e-6, "ug": 1e-6, "mcg": 1e-6, "ng": 1e-9}
_MOLES = {"mol": 1.0, "mmol": 1e-3, "µmol": 1e-6, "umol": 1e-6, "nmol": 1e-9}
_EQUIVALENTS = {"eq": 1.0, "meq": 1e-3}
_LITRES = {"l": 1.0, "dl": 0.1, "ml": 1e-3, "µl": 1e-6, "ul": 1e-6}

_MASS_KG = {"kg": 1.0, "g": 1e-3, "lb": 0.45359237, "lbs": 0.45359237, "oz": 0.028349523125}
_LENGTH_M = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "inch": 0.0254, "inches": 0.0254,
             "ft": 0.3048, "feet": 0.3048}
_AGE_YEARS = {"years": 1.0, "year": 1.0, "months": 1 / 12, "month": 1 / 12, "weeks": 7 / 365.25,
              "days": 1 / 365.25}
# Cell counts are per volume; the benchmark writes "µL" for "/µL", "L" for "/L" and "m^3" for "/mm³"
# (its WBC values such as 15500 'm^3' are plainly per mm³, i.e. per µL).
_COUNT_PER_UL = {"µl": 1.0, "ul": 1.0, "mm^3": 1.0, "mm3": 1.0, "m^3": 1.0, "l": 1e-6}


def _norm(unit: str) -> str:
    return re.sub(r"\s+", "", str(unit)).replace("μ", "µ").lower()


def _concentration_base(value: float, unit: str, analyte: str | None) -> tuple[float, str]:
    """Return (value, kind) in g/L ('mass'), mol/L ('mol') for a concentration unit."""
    numerator, _, denominator = _norm(unit).partition("/")
    if denominator not in _LITRES:
        raise UnitError(f"unknown concentration unit {unit!r}")
    value = value / _LITRES[denominator]
    if numerator in _GRAMS:
        return value * _GRAMS[numerator], "mass"
    if numerator in _MOLES:
        return value * _MOLES[numerator], "mol"
    if numerator in _EQUIVALENTS:
        if analyte not in VALENCE:
            raise UnitError(f"{unit!r} needs a valence; none known for {analyte!r}")
        return value * _EQUIVALENTS[numerator] / VALENCE[analyte], "mol"
    raise UnitError(f"unknown concentration unit {unit!r}")


def convert_concentration(value: float, unit: str, target: str, analyte: str | None = None) -> float:
    """Convert a concentration between mass (g/dL, mg/dL, g/L), molar (mmol/L, µmol/L) and mEq/L units.

    ``analyte`` (a key of :data:`MOLAR_MASS`) is needed to cross between mass and molar units.

    >>> round(convert_concentration(1.0, "mg/dL", "µmol/L", "creatinine"), 1)
    88.4
    >>> round(convert_concentration(5.0, "mmol/L", "mg/dL", "glucose"), 2)
    90.08
    """
    if _norm(unit) == _norm(target):
        return float(value)
    base, kind = _concentration_base(float(value), unit, analyte)
    one, target_kind = _concentration_base(1.0, target, analyte)
    if kind != target_kind:
        if analyte not in MOLAR_MASS:
            raise UnitError(f"cannot convert {unit!r} to {target!r} without a molar mass for {analyte!r}")
        base = base * MOLAR_MASS[analyte] if kind == "mol" else base / MOLAR_MASS[analyte]
    return base / one


def convert_mass(value: float, unit: str, target: str = "kg") -> float:
    """Body mass between kg, g, lb(s), oz."""
    src, dst = _norm(unit), _norm(target)
    if src not in _MASS_KG or dst not in _MASS_KG:
        raise UnitError(f"unknown mass unit {unit!r} or {target!r}")
    return float(value) * _MASS_KG[src] / _MASS_KG[dst]


def convert_length(value: float, unit: str, target: str = "cm") -> float:
    """Length between m, cm, mm, in, ft."""
    src, dst = _norm(unit), _norm(target)
    if src not in _LENGTH_M or dst not in _LENGTH_M:
        raise UnitError(f"unknown length unit {unit!r} or {target!r}")
    return float(value) * _LENGTH_M[src] / _LENGTH_M[dst]


def convert_temperature(value: float, unit: str, target: str = "°C") -> float:
    """Temperature between Celsius and Fahrenheit (the benchmark's misspellings are accepted)."""
    def scale(u: str) -> str:
        u = _norm(u).replace("degrees", "").replace("degree", "").replace("°", "")
        if u in ("c", "celsius", "celsisus", "celcius"):
            return "C"
        if u in ("f", "fahrenheit", "fahreinheit", "farenheit"):
            return "F"
        raise UnitError(f"unknown temperature unit {u!r}")
    src, dst = scale(unit), scale(target)
    celsius = float(value) if src == "C" else (float(value) - 32.0) * 5.0 / 9.0
    return celsius if dst == "C" else celsius * 9.0 / 5.0 + 32.0


def convert_age(value: float, unit: str) -> float:
    """Age in years from years, months, weeks or days."""
    u = _norm(unit)
    if u not in _AGE_YEARS:
        raise UnitError(f"unknown age unit {unit!r}")
    return float(value) * _AGE_YEARS[u]


def convert_count_per_ul(value: float, unit: str) -> float:
    """A cell count (per µL, per mm³ or per L) as cells per µL."""
    u = _norm(unit).lstrip("/").replace("count/", "").replace("cells/", "")
    if u not in _COUNT_PER_UL:
        raise UnitError(f"unknown cell-count unit {unit!r}")
    return float(value) * _COUNT_PER_UL[u]
