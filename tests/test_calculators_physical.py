"""Hand-worked examples for body-size, QTc, date and dosage calculators."""

from __future__ import annotations

import datetime as dt

import pytest

from medreasoner.calculators import EntityError, compute


def test_body_size():
    assert compute(6, {"weight": [70.0, "kg"], "height": [175.0, "cm"]}).answer == pytest.approx(22.857, rel=1e-4)
    # Devine IBW, woman 165 cm = 64.961 in: 45.5 + 2.3 × 4.961 = 56.91 kg.
    assert compute(10, {"sex": "Female", "height": [165, "cm"]}).answer == pytest.approx(56.91, rel=1e-3)
    # ABW, man 180 cm / 100 kg: IBW 74.992; 74.992 + 0.4 × 25.008 = 84.995 kg.
    assert compute(62, {"sex": "Male", "height": [180, "cm"], "weight": [100, "kg"]}).answer == pytest.approx(84.995, rel=1e-3)
    # Mosteller: √(180 × 80 / 3600) = 2.0 m².
    assert compute(60, {"weight": [80, "kg"], "height": [180, "cm"]}).answer == pytest.approx(2.0)
    # Target weight: 22 × 1.8² = 71.28 kg.
    assert compute(61, {"Body Mass Index (BMI)": [22, "kg/m^2"], "height": [1.8, "m"]}).answer == pytest.approx(71.28)
    # MAP 120/80: (2 × 80 + 120) / 3 = 93.33.
    assert compute(5, {"Systolic Blood Pressure": [120, "mm hg"], "Diastolic Blood Pressure": [80, "mm hg"]}).answer == \
        pytest.approx(93.333, rel=1e-4)


@pytest.mark.parametrize("kg, rate", [(8, 32.0), (15, 50.0), (25, 65.0)])
def test_maintenance_fluids_4_2_1(kg, rate):
    # 8 kg: 4 × 8; 15 kg: 40 + 2 × 5; 25 kg: 60 + 5 (mL/h).
    assert compute(22, {"weight": [kg, "kg"]}).answer == pytest.approx(rate)


def test_qtc_formulas():
    hr90 = {"QT interval": [400, "msec"], "Heart Rate or Pulse": [90, "beats per minute"]}
    # RR = 60/90 = 0.6667 s.
    assert compute(11, hr90).answer == pytest.approx(489.9, rel=1e-3)    # 400 / √0.6667
    assert compute(56, hr90).answer == pytest.approx(457.9, rel=1e-3)    # 400 / 0.6667^(1/3)
    assert compute(57, hr90).answer == pytest.approx(451.33, rel=1e-4)   # 400 + 154 × (1 − 0.6667)
    assert compute(58, hr90).answer == pytest.approx(452.5)              # 400 + 1.75 × (90 − 60)
    assert compute(59, hr90).answer == pytest.approx(466.67, rel=1e-4)   # 400 × 210 / 180
    hr60 = {"QT interval": [400, "msec"], "Heart Rate or Pulse": [60, "beats per minute"]}
    assert {round(compute(cid, hr60).answer, 6) for cid in (11, 56, 57, 58, 59)} == {400.0}  # RR = 1 s: no correction


def test_pregnancy_dates():
    # 2020 is a leap year: Jan 1 + 280 days = Oct 7; a 30-day cycle adds 2 days.
    assert compute(13, {"Last menstrual date": "01/01/2020", "cycle length": 28}).answer == dt.date(2020, 10, 7)
    assert compute(13, {"Last menstrual date": "01/01/2020", "cycle length": 30}).answer == dt.date(2020, 10, 9)
    assert compute(13, {"Last menstrual date": "01/01/2020", "cycle length": 25}).answer == dt.date(2020, 10, 4)
    assert compute(68, {"Last menstrual date": "03/01/2021", "cycle length": 28}).answer == dt.date(2021, 3, 15)
    # Jan 1 -> Mar 1 2021 = 31 + 28 = 59 days = 8 weeks 3 days.
    assert compute(69, {"Last menstrual date": "01/01/2021", "Current Date": "03/01/2021"}).answer == (8, 3)


def test_dosage():
    # Prednisone 10 mg ≡ dexamethasone 10 / 5 × 0.75 = 1.5 mg.
    steroid = {"input steroid": ["PredniSONE PO", 10, "mg"], "target steroid": "Dexamethasone PO"}
    assert compute(24, steroid).answer == pytest.approx(1.5)
    # Oxycodone 10 mg × 4/day × 1.5 = 60 MME + fentanyl patch 25 µg/h × 2.4 = 60 MME -> 120 MME/day.
    mme = {"OxyCODONE Dose": [10, "mg"], "OxyCODONE Dose Per Day": [4, "per day"],
           "FentANYL patch Dose": [25, "µg/hr"], "FentANYL patch Dose Per Day": [1, "per day"]}
    assert compute(49, mme).answer == pytest.approx(120.0)
    with pytest.raises(EntityError):
        compute(49, {"Morphine Dose": [0.5, "g"], "Morphine Dose Per Day": [1, "per day"]})


def test_every_calculator_explains_itself():
    # A cheap guard that explanations exist and end with the answer for a few representative calculators.
    result = compute(6, {"weight": [70.0, "kg"], "height": [175.0, "cm"]})
    assert "22.857" in result.explanation.splitlines()[-1]
    result = compute(4, {"sex": "Female", "age": [76, "years"]})
    assert result.explanation.splitlines()[-1].endswith("= 3.")
