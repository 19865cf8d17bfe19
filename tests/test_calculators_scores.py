"""Hand-worked examples for the rule-based scores (one described patient each, points in comments)."""

from __future__ import annotations

import pytest

from medreasoner.calculators import compute


def test_cha2ds2_vasc():
    # 76-year-old woman with hypertension and diabetes: age ≥ 75 (2) + female (1) + HTN (1) + DM (1) = 5.
    patient = {"sex": "Female", "age": [76, "years"], "Hypertension history": True, "Diabetes history": True}
    assert compute(4, patient).answer == 5
    # A prior TIA adds 2.
    assert compute(4, {**patient, "Transient Ischemic Attacks History": True}).answer == 7


def test_has_bled_rcri_heart():
    # Age 70 (1) + hypertension (1) + 10 drinks/week (1) + antiplatelet (1) = 4.
    hb = {"age": [70, "years"], "Hypertension history": True, "Number of Alcoholic Drinks Per Week": 10,
          "Medication usage predisposing to bleeding": True}
    assert compute(25, hb).answer == 4
    # High-risk surgery (1) + insulin (1) + creatinine 2.5 > 2 (1) = 3.
    rcri = {"Elevated-risk surgery": True, "Pre-operative treatment with insulin": True,
            "Pre-operative creatinine": [2.5, "mg/dL"]}
    assert compute(17, rcri).answer == 3
    # History moderately suspicious (1) + normal ECG (0) + age 50 (1) + 2 risk factors (1) + normal troponin (0) = 3.
    heart = {"age": [50, "years"], "Suspicion History": "Moderately suspicious", "Electrocardiogram Test": "Normal",
             "Hypertension history": True, "smoking": True, "Initial troponin": "less than or equal to normal limit"}
    assert compute(18, heart).answer == 3
    # Known atherosclerotic disease makes the risk-factor item 2 -> 4.
    assert compute(18, {**heart, "atherosclerotic disease": True}).answer == 4


def test_framingham_hard_chd():
    # Man 55, TC 213, HDL 50, SBP 120 untreated, non-smoker:
    # L = 52.00961 ln55 (208.420) + 20.014077 ln213 (107.301) − 0.905964 ln50 (3.544) + 1.305784 ln120 (6.251)
    #     − 4.605038 ln55 ln213 (98.937) − 2.93323 (ln55)² (47.104) − 172.300168 = 0.087;
    # risk = 1 − 0.9402^exp(0.087) = 6.5 %.
    patient = {"sex": "Male", "age": [55, "years"], "Total cholesterol": [213, "mg/dL"],
               "high-density lipoprotein cholesterol": [50, "mg/dL"], "Systolic Blood Pressure": [120, "mm Hg"]}
    assert compute(46, patient).answer == pytest.approx(6.5, abs=0.15)
    # Smoking raises the risk.
    assert compute(46, {**patient, "Smoker": True}).answer > compute(46, patient).answer


def test_thrombosis_scores():
    # Wells PE: HR 110 (1.5) + hemoptysis (1) + DVT signs (3) = 5.5.
    pe = {"Heart Rate or Pulse": [110, "beats per minute"], "Hemoptysis": True,
          "Clinical signs and symptoms of Deep Vein Thrombosis": True}
    assert compute(8, pe).answer == pytest.approx(5.5)
    # Wells DVT: active cancer (1) + entire leg swollen (1) + alternative diagnosis (−2) = 0.
    dvt = {"Active cancer": True, "Entire Leg Swollen": True,
           "Alternative diagnosis to Deep Vein Thrombosis as likely or more likely": True}
    assert compute(16, dvt).answer == 0
    # PERC: age 55, HR 105, SaO2 93 %, hormone use -> 4 criteria.
    perc = {"age": [55, "years"], "Heart Rate or Pulse": [105, "beats per minute"],
            "O₂ saturation percentage": [93, "%"], "Hormone use": True}
    assert compute(48, perc).answer == 4
    # Caprini: age 65 (2) + major surgery (2) + BMI 28 (1) + varicose veins (1) + prior DVT (3) + bed rest (1) = 10.
    caprini = {"age": [65, "years"], "sex": "Male", "Surgery Type": "major", "Body Mass Index (BMI)": [28, "kg/m^2"],
               "Varicose veins": True, "Previously documented Deep Vein Thrombosis": True, "Mobility": "on bed rest"}
    assert compute(36, caprini).answer == 10


def test_critical_care_scores():
    # GCS: eyes to voice (3) + confused (4) + obeys (6) = 13.
    gcs = {"Best eye response": "eye opening to verbal command", "Best verbal response": "confused",
           "Best motor response": "obeys commands"}
    assert compute(21, gcs).answer == 13
    # APACHE II: age 70 (5), 39.5 °C (3), MAP 63.3 (2), HR 120 (2), RR 30 (1), FiO2 30 % with PaO2 65 (1),
    # pH 7.30 (2), Na 150 (1), K 3.2 (1), creatinine 2.0 (3), Hct 28 (2), WBC 18 000 (1), GCS 13 (15 − 13 = 2) = 26.
    apache = {"age": [70, "years"], "Temperature": [39.5, "degrees celsius"], "Systolic Blood Pressure": [90, "mm Hg"],
              "Diastolic Blood Pressure": [50, "mm Hg"], "Heart Rate or Pulse": [120, "beats per minute"],
              "respiratory rate": [30, "breaths per minute"], "FiO₂": [30, "%"],
              "Partial pressure of oxygen (PaO₂) for Apache II": [65, "mm Hg"], "pH": 7.30, "Sodium": [150, "mmol/L"],
              "Potassium": [3.2, "mmol/L"], "creatinine": [2.0, "mg/dL"], "Hematocrit": [28, "%"],
              "White blood cell count": [18000, "µL"], "Glasgow Coma Score": 13}
    assert compute(28, apache).answer == 26
    # Acute renal failure doubles the creatinine points (3 -> 6); chronic health after elective surgery adds 2.
    assert compute(28, {**apache, "Acute renal failure": True}).answer == 29
    assert compute(28, {**apache, "History of severe organ failure or immunocompromise": True,
                        "Surgery Type": "Elective"}).answer == 28
    # SOFA: PaO2/FiO2 80/0.5 = 160 ventilated (3), platelets 90k (2), GCS 14 (1), bilirubin 2.5 (2),
    # norepinephrine 0.05 (3), creatinine 1.5 (1) = 12.
    sofa = {"Partial pressure of oxygen (PaO₂) for Apache II": [80, "mm Hg"], "FiO₂": [50, "%"],
            "On mechanical ventilation": True, "Platelet count": [90000, "µL"], "Glasgow Coma Score": 14,
            "Bilirubin": [2.5, "mg/dL"], "norEPINEPHrine": [0.05, "mcg/kg/min"], "creatinine": [1.5, "mg/dL"]}
    assert compute(43, sofa).answer == 12
    assert compute(43, {**sofa, "FiO₂": 0.5}).answer == 12  # FiO2 as a fraction
    # SIRS: 38.5 °C, HR 95, WBC 3000 -> 3 (RR 18 and PaCO2 40 do not count).
    sirs = {"Temperature": [38.5, "degrees celsius"], "Heart Rate or Pulse": [95, "beats per minute"],
            "respiratory rate": [18, "breaths per minute"], "PaCO₂": [40, "mm hg"], "White blood cell count": [3000, "µL"]}
    assert compute(51, sirs).answer == 3


def test_infection_and_bleeding_scores():
    # McIsaac: age 10 (+1), 38.5 °C (+1), no cough (+1), exudate (+1) = 4; at 50 years the age item is −1 -> 2.
    centor = {"age": [10, "years"], "Temperature": [101.3, "degrees fahrenheit"], "Cough Absent": True,
              "Exudate or swelling on tonsils": True}
    assert compute(20, centor).answer == 4
    assert compute(20, {**centor, "age": [50, "years"]}).answer == 2
    # FeverPAIN: fever, purulence, no cough/coryza = 3.
    assert compute(33, {"Fever in past 24 hours": True, "Purulent tonsils": True, "Absence of cough or coryza": True}).answer == 3
    # CURB-65: confusion, BUN 25 > 19, RR 25 (no), DBP 55 ≤ 60, age 70 -> 4.
    curb = {"Confusion": True, "Blood Urea Nitrogen (BUN)": [25, "mg/dL"], "respiratory rate": [25, "breaths per minute"],
            "Systolic Blood Pressure": [100, "mm hg"], "Diastolic Blood Pressure": [55, "mm hg"], "age": [70, "years"]}
    assert compute(45, curb).answer == 4
    # PSI: man 70 (70) + nursing home (10) + CHF (10) + RR 32 (20) + HR 130 (10) + BUN 35 (20) + PaO2 55 (10) = 150.
    psi = {"sex": "Male", "age": [70, "years"], "Nursing home resident": True, "Congestive Heart Faliure": True,
           "respiratory rate": [32, "breaths per minute"], "Heart Rate or Pulse": [130, "beats per minute"],
           "Blood Urea Nitrogen (BUN)": [35, "mg/dL"], "Partial pressure of oxygen (PaO₂) for Apache II": [55, "mm Hg"],
           "Temperature": [36.8, "degrees celsius"]}
    assert compute(29, psi).answer == 150
    # Glasgow-Blatchford: man, BUN 30 mg/dL (4) + Hb 11 (3) + SBP 95 (2) + HR 105 (1) + melena (1) = 11.
    gbs = {"sex": "Male", "Blood Urea Nitrogen (BUN)": [30, "mg/dL"], "Hemoglobin": [11, "g/dL"],
           "Systolic Blood Pressure": [95, "mm Hg"], "Heart Rate or Pulse": [105, "beats per minute"], "Melena present": True}
    assert compute(27, gbs).answer == 11


def test_charlson():
    # Age 72 (3) + CHF (1) + diabetes with end-organ damage (2) + metastatic solid tumour (6) = 12.
    cci = {"age": [72, "years"], "Congestive Heart Faliure": True, "Diabetes mellitus criteria for CCI rule": "End-organ damage",
           "Solid tumor": "Metastatic", "Liver disease severity": False}
    assert compute(32, cci).answer == 12
    # "None or Diet-controlled" diabetes scores 0 whatever its capitalisation.
    assert compute(32, {**cci, "Diabetes mellitus criteria for CCI rule": "None or Diet-controlled"}).answer == 10
