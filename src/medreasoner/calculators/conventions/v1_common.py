"""Shared pieces of the ``medcalc-v1.0`` label convention: the notice every override's explanation
opens with, and the benchmark's step-rounded unit conversions.

MedCalc-Bench v1.0 converts a concentration step by step (mmol -> mol -> g -> mg, then per volume) and
rounds every intermediate to 3 decimals (numbers below 0.001 keep 3 significant digits), with its own
molar masses. For 2.26 mmol/L calcium that gives 0.002 mol -> 8.0 mg/dL instead of 9.06 mg/dL (rows
114, 117 of test_data_v1.0.csv). Only the overrides of this convention use these helpers.
"""

from __future__ import annotations

import re

from medreasoner.calculators.entities import Entities, EntityError, Result, Steps
from medreasoner.calculators.scores_cardio import Tally

CONVENTION = "medcalc-v1.0"
# medcalc-v1.0 plus the quirks found only in the v1.0 test file's labels (not in the calculator code).
TESTFILE_CONVENTION = "medcalc-v1.0-testfile"

# g/mol as printed in the v1.0 explanations; they differ between calculators (cholesterol 386.654 for LDL but
# 386.65 for Framingham; bilirubin 548.66 for Child-Pugh but 584.66 for SOFA) and from units.MOLAR_MASS.
V1_MOLAR_MASS = {"calcium": 40.08, "cholesterol": 386.654, "cholesterol_framingham": 386.65,
                 "triglycerides": 861.338, "bilirubin": 548.66, "bilirubin_sofa": 584.66, "creatinine": 113.12}

_AMOUNT = {"mol": 1.0, "mmol": 1e-3, "µmol": 1e-6, "umol": 1e-6}
_DL_PER_VOLUME = {"l": 10.0, "dl": 1.0}


def with_notice(result: Result, what: str) -> Result:
    """``result`` (from a published calculator run on adjusted entities) with the quirk notice prepended."""
    return Result(result.answer, quirk_steps(what).lines[0] + "\n" + result.explanation)


def unit_of(e: Entities, key: str, default: str) -> str:
    """The unit of a ``[value, unit]`` entity, lower-cased without spaces (``default`` for a bare number)."""
    raw = e.raw[key]
    unit = str(raw[1]) if isinstance(raw, (list, tuple)) and len(raw) == 2 else default
    return re.sub(r"\s+", "", unit).replace("μ", "µ").lower()


def quirk_steps(what: str, convention: str = CONVENTION) -> Steps:
    """A :class:`Steps` whose first line states that this result reproduces a v1.0 label quirk (of the label
    code for ``medcalc-v1.0``, of the test file's labels for ``medcalc-v1.0-testfile``)."""
    source = "test file's labels" if convention == TESTFILE_CONVENTION else "label code"
    steps = Steps()
    steps.add(f"[{convention} label convention] {what} This reproduces a quirk of the MedCalc-Bench v1.0 "
              f"{source} and is NOT the published definition (see docs/medcalc_errata.md).")
    return steps


def quirk_tally(name: str, what: str) -> Tally:
    """A published-style points :class:`Tally` whose explanation opens with the quirk notice."""
    tally = Tally(name)
    tally.steps = quirk_steps(what)
    return tally


def v1_round(x: float) -> float:
    """The benchmark's display rounding: 3 decimals, or 3 significant digits below 0.001."""
    if x == 0 or abs(x) >= 1e-3:
        return round(x, 3)
    return float(f"{x:.3g}")


def v1_to_mg_dl(e: Entities, key: str, analyte: str, default: float | None = None) -> float:
    """A concentration in mg/dL by the v1.0 step-rounded conversion (mmol/L or µmol/L -> mg/dL)."""
    if key not in e.raw:
        if default is None:
            raise EntityError(key, "missing")
        return default
    value, unit = e.number(key), unit_of(e, key, "mg/dL")
    amount, _, volume = unit.partition("/")
    if unit == "mg/dl":
        return value
    if amount not in _AMOUNT or volume not in _DL_PER_VOLUME:
        raise EntityError(key, f"unit {unit!r} not handled by the {CONVENTION} conversion")
    mol = v1_round(value * _AMOUNT[amount])
    grams = v1_round(mol * V1_MOLAR_MASS[analyte])
    milligrams = v1_round(grams * 1000.0)
    return v1_round(milligrams / _DL_PER_VOLUME[volume])


def v1_to_mmol_l(e: Entities, key: str, analyte: str) -> float:
    """A mg/dL concentration in mmol/L by the v1.0 step-rounded conversion (mmol/L passes through)."""
    value, unit = e.number(key), unit_of(e, key, "mg/dL")
    if unit == "mmol/l":
        return value
    if unit != "mg/dl":
        raise EntityError(key, f"unit {unit!r} not handled by the {CONVENTION} conversion")
    grams = v1_round(value * 0.001)
    mol = v1_round(grams / V1_MOLAR_MASS[analyte])
    mmol = v1_round(mol * 1000.0)
    return v1_round(mmol / 0.1)


def v1_celsius(e: Entities, key: str = "Temperature", default: float = 37.0) -> float:
    """Temperature in °C as v1.0 reads it: the benchmark's own misspelling 'degrees celsisus' is taken as
    Fahrenheit (so 37.0 becomes 2.8 °C); every other unit converts normally."""
    if key in e.raw and "celsisus" in unit_of(e, key, "°C"):
        return (e.number(key) - 32.0) * 5.0 / 9.0
    return e.celsius(key, default)


def v1_code_celsius(e: Entities, key: str = "Temperature", default: float = 37.0) -> float:
    """Temperature in °C as the v1.0 code's ``convert_temperature.fahrenheit_to_celsius_explanation`` reads
    it: a value whose unit is exactly 'degrees celsius' is kept; ANY other unit (the misspelt
    'degrees celsisus', '°C', 'degrees fahrenheit', ...) is converted as Fahrenheit, (t − 32) × 5/9,
    rounded for display. Used by APACHE II, which calls that function; a bare number counts as Celsius."""
    if key not in e.raw:
        return default
    raw = e.raw[key]
    if not (isinstance(raw, (list, tuple)) and len(raw) == 2) or raw[1] == "degrees celsius":
        return e.number(key)
    return v1_round((e.number(key) - 32.0) * 5.0 / 9.0)
