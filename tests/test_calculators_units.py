"""Unit conversions and entity access of medreasoner.calculators."""

from __future__ import annotations

import pytest

from medreasoner.calculators import EntityError, compute
from medreasoner.calculators.units import (UnitError, convert_age, convert_concentration, convert_count_per_ul,
                                           convert_length, convert_mass, convert_temperature)


@pytest.mark.parametrize("analyte, value, unit, target, expected", [
    ("creatinine", 1.0, "mg/dL", "µmol/L", 88.4),        # 10 mg/L / 113.12 g/mol = 88.40 µmol/L
    ("glucose", 1.0, "mmol/L", "mg/dL", 18.016),         # 180.16 g/mol / 10
    ("cholesterol", 1.0, "mmol/L", "mg/dL", 38.665),     # 386.65 g/mol / 10
    ("calcium", 1.0, "mmol/L", "mg/dL", 4.008),          # 40.08 g/mol / 10
    ("bilirubin", 1.0, "mg/dL", "µmol/L", 17.104),       # 10 mg/L / 584.66 g/mol
    ("bun", 1.0, "mg/dL", "mmol/L", 0.3569),             # 10 mg/L / 28.02 g/mol
    ("sodium", 140.0, "mEq/L", "mmol/L", 140.0),         # valence 1
    ("calcium", 2.0, "mEq/L", "mmol/L", 1.0),            # valence 2
    (None, 35.0, "g/L", "g/dL", 3.5),
    (None, 3500.0, "mg/dL", "g/dL", 3.5),
])
def test_concentration_conversions(analyte, value, unit, target, expected):
    assert convert_concentration(value, unit, target, analyte) == pytest.approx(expected, rel=1e-3)


def test_round_trip_and_errors():
    there = convert_concentration(2.3, "mg/dL", "µmol/L", "creatinine")
    assert convert_concentration(there, "µmol/L", "mg/dL", "creatinine") == pytest.approx(2.3)
    with pytest.raises(UnitError, match="furlongs"):
        convert_concentration(1.0, "furlongs/L", "mg/dL", "glucose")
    with pytest.raises(UnitError, match="molar mass"):
        convert_concentration(1.0, "mmol/L", "mg/dL", "unobtainium")


def test_body_and_vital_units():
    assert convert_mass(154.0, "lbs") == pytest.approx(69.853, rel=1e-4)  # 154 × 0.45359237
    assert convert_mass(3500, "g") == pytest.approx(3.5)
    assert convert_length(70, "in") == pytest.approx(177.8)
    assert convert_length(6, "ft") == pytest.approx(182.88)
    assert convert_length(1.75, "m") == pytest.approx(175.0)
    assert convert_temperature(100.4, "degrees fahreinheit") == pytest.approx(38.0)  # (100.4 − 32) × 5/9
    assert convert_temperature(37.0, "degrees celsius", "F") == pytest.approx(98.6)
    assert convert_age(18, "months") == pytest.approx(1.5)
    assert convert_count_per_ul(9.0e9, "L") == pytest.approx(9000.0)
    for bad in (lambda: convert_mass(1, "stone"), lambda: convert_length(1, "cubit"),
                lambda: convert_temperature(1, "kelvin"), lambda: convert_age(1, "decades")):
        with pytest.raises(UnitError):
            bad()


def test_calculators_accept_alternative_units():
    # BMI: 154.32 lb = 70.0 kg; 68.9 in = 175.0 cm -> 22.86 kg/m² either way.
    metric = compute(6, {"weight": [70.0, "kg"], "height": [175.0, "cm"]}).answer
    imperial = compute(6, {"weight": [154.324, "lbs"], "height": [68.898, "in"]}).answer
    assert imperial == pytest.approx(metric, rel=1e-4)
    # MDRD with creatinine 88.4 µmol/L equals creatinine 1.0 mg/dL.
    base = {"age": [60, "years"], "sex": "Male"}
    assert compute(9, {**base, "creatinine": [88.4, "µmol/L"]}).answer == pytest.approx(
        compute(9, {**base, "creatinine": [1.0, "mg/dL"]}).answer, rel=1e-3)


def test_missing_and_malformed_entities_name_the_field():
    with pytest.raises(EntityError) as error:
        compute(6, {"weight": [70.0, "kg"]})
    assert error.value.field == "height"
    with pytest.raises(EntityError) as error:
        compute(6, {"weight": [70.0, "stone"], "height": [175, "cm"]})
    assert error.value.field == "weight" and "stone" in str(error.value)
    with pytest.raises(EntityError) as error:
        compute(21, {"Best eye response": "winks"})
    assert error.value.field == "Best eye response"
    with pytest.raises(EntityError):
        compute(2, {"sex": "Unknown", "age": [50, "years"], "weight": [70, "kg"], "height": [170, "cm"],
                    "creatinine": [1, "mg/dL"]})
