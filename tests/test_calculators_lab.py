"""Hand-worked examples for the laboratory calculators (renal, electrolytes, liver, lipids)."""

from __future__ import annotations

import pytest

from medreasoner.calculators import compute


def approx(x, rel=2e-3):
    return pytest.approx(x, rel=rel)


def test_cockcroft_gault_weight_rules():
    # Normal BMI (72 kg, 175 cm -> 23.5): IBW = 50 + 2.3 × (175/2.54 − 60) = 70.465 kg < 72 kg, so
    # CrCl = (140 − 60) × 70.465 / (72 × 1.0) = 78.29 mL/min.
    male = {"sex": "Male", "age": [60, "years"], "weight": [72.0, "kg"], "height": [175.0, "cm"],
            "creatinine": [1.0, "mg/dL"]}
    assert compute(2, male).answer == approx(78.29)
    # Underweight (45 kg, 160 cm -> BMI 17.6): actual weight, female factor 0.85:
    # (140 − 80) × 45 × 0.85 / (72 × 1.2) = 2295 / 86.4 = 26.56 mL/min.
    female = {"sex": "Female", "age": [80, "years"], "weight": [45.0, "kg"], "height": [160.0, "cm"],
              "creatinine": [1.2, "mg/dL"]}
    assert compute(2, female).answer == approx(26.5625)
    # Obese (120 kg, 180 cm -> BMI 37): IBW 74.992, ABW = 74.992 + 0.4 × 45.008 = 92.995 kg;
    # (140 − 50) × 92.995 / 72 = 116.24 mL/min.
    obese = {"sex": "Male", "age": [50, "years"], "weight": [120.0, "kg"], "height": [180.0, "cm"],
             "creatinine": [1.0, "mg/dL"]}
    assert compute(2, obese).answer == approx(116.24)


def test_ckd_epi_2021():
    # Female, 50 y, Scr 0.7 (= κ): 142 × 1 × 1 × 0.9938^50 (0.73274) × 1.012 = 105.30.
    assert compute(3, {"sex": "Female", "age": [50, "years"], "creatinine": [0.7, "mg/dL"]}).answer == approx(105.30)
    # Male, 60 y, Scr 1.8: 142 × (1.8/0.9)^−1.2 (0.43528) × 0.9938^60 (0.68858) = 42.56.
    assert compute(3, {"sex": "Male", "age": [60, "years"], "creatinine": [1.8, "mg/dL"]}).answer == approx(42.56)


def test_mdrd():
    # 175 × 1.0^−1.154 × 60^−0.203 (0.43558) × 1.212 (Black) = 92.39.
    entities = {"sex": "Male", "age": [60, "years"], "creatinine": [1.0, "mg/dL"], "Race": "Black"}
    assert compute(9, entities).answer == approx(92.39)
    # Same woman, not Black: 175 × 0.43558 × 0.742 = 56.56.
    assert compute(9, {**entities, "sex": "Female", "Race": "White"}).answer == approx(56.56)


def test_fena_and_free_water_deficit():
    # FENa = 100 × (20 × 2.0) / (140 × 100) = 0.2857 %.
    fena = {"Sodium": [140, "mEq/L"], "creatinine": [2.0, "mg/dL"], "Urine sodium": [20, "mEq/L"],
            "Urine creatinine": [100, "mg/dL"]}
    assert compute(40, fena).answer == approx(0.2857)
    # Adult man: TBW 0.6; 0.6 × 70 × (160/140 − 1) = 6.0 L. Elderly woman: 0.45 × 70 × ... = 4.5 L.
    fwd = {"sex": "Male", "age": [40, "years"], "weight": [70, "kg"], "Sodium": [160, "mmol/L"]}
    assert compute(38, fwd).answer == approx(6.0)
    assert compute(38, {**fwd, "sex": "Female", "age": [80, "years"]}).answer == approx(4.5)


def test_anion_gap_family():
    base = {"Sodium": [140, "mEq/L"], "Chloride": [100, "mEq/L"], "Bicarbonate": [24, "mEq/L"]}
    assert compute(39, base).answer == approx(16.0)          # 140 − (100 + 24)
    assert compute(63, base).answer == approx(4.0)           # 16 − 12
    low_bicarb = {**base, "Bicarbonate": [14, "mmol/L"]}
    assert compute(64, low_bicarb).answer == approx(1.4)     # (26 − 12) / (24 − 14)
    with_alb = {**base, "Albumin": [2.0, "g/dL"]}
    assert compute(65, with_alb).answer == approx(21.0)      # 16 + 2.5 × (4 − 2)
    assert compute(66, {**base, "Albumin": [20.0, "g/L"]}).answer == approx(9.0)  # 21 − 12
    # HCO3 18: AG 22, corrected 27, delta 15, ratio 15 / 6 = 2.5.
    assert compute(67, {**with_alb, "Bicarbonate": [18, "mEq/L"]}).answer == approx(2.5)


def test_corrections_and_osmolality():
    assert compute(7, {"Calcium": [8.0, "mg/dL"], "Albumin": [2.5, "g/dL"]}).answer == approx(9.2)  # 8 + 0.8 × 1.5
    # 2.0 mmol/L calcium = 8.016 mg/dL; + 0.8 × (4 − 2.5) = 9.216.
    assert compute(7, {"Calcium": [2.0, "mmol/L"], "Albumin": [25, "g/L"]}).answer == approx(9.216)
    assert compute(26, {"Sodium": [130, "mEq/L"], "Glucose": [500, "mg/dL"]}).answer == approx(139.6)  # 130 + 0.024 × 400
    # 2 × 140 + 28/2.8 + 180/18 = 300.
    osm = {"Sodium": [140, "mmol/L"], "Blood Urea Nitrogen (BUN)": [28, "mg/dL"], "Glucose": [180, "mg/dL"]}
    assert compute(30, osm).answer == approx(300.0)


def test_lipids_and_glucose():
    # Friedewald: 200 − 50 − 150/5 = 120 mg/dL.
    lipids = {"Total cholesterol": [200, "mg/dL"], "high-density lipoprotein cholesterol": [50, "mg/dL"],
              "Triglycerides": [150, "mg/dL"]}
    assert compute(44, lipids).answer == approx(120.0)
    assert compute(31, {"Insulin": [10, "µIU/mL"], "Glucose": [100, "mg/dL"]}).answer == approx(2.469)  # 1000/405


def test_liver():
    # FIB-4 = 50 × 40 / (200 × √25) = 2.0 (platelets 200 000/µL = 200 × 10⁹/L).
    fib4 = {"age": [50, "years"], "Aspartate aminotransferase": [40, "U/L"], "Alanine aminotransferase": [25, "U/L"],
            "Platelet count": [200000, "µL"]}
    assert compute(19, fib4).answer == approx(2.0)
    # Child-Pugh: bilirubin 1.5 (1) + albumin 3.0 (2) + INR 1.8 (2) + slight ascites (2) + no encephalopathy (1) = 8.
    cp = {"Bilirubin": [1.5, "mg/dL"], "Albumin": [3.0, "g/dL"], "international normalized ratio": 1.8,
          "Ascites": "slight", "Encephalopathy": "No Encephalopathy"}
    assert compute(15, cp).answer == 8
    # MELD-Na: MELD(i) = 0.957 ln 1.5 + 0.378 ln 2 + 1.12 ln 1.5 + 0.643 = 1.747 -> 1.7 -> 17;
    # 17 + 1.32 × 7 − 0.033 × 17 × 7 = 22.31 -> 22.
    meld = {"creatinine": [1.5, "mg/dL"], "Bilirubin": [2.0, "mg/dL"], "international normalized ratio": 1.5,
            "Sodium": [130, "mEq/L"]}
    assert compute(23, meld).answer == 22
    # Dialysis sets creatinine to 4.0: 0.957 ln 4 + 0.378 ln 2 + 1.12 ln 1.5 + 0.643 = 2.68 -> 27;
    # 27 + 9.24 − 0.033 × 27 × 7 = 30.0 -> 30.
    assert compute(23, {**meld, "Dialysis at least twice in the past week": True}).answer == 30
