"""``medcalc-v1.0`` overrides for critical-care and VTE scores: SOFA, APACHE II and Caprini, as the
MedCalc-Bench v1.0 label code computed them (read from the rows' Ground Truth Explanations). None of these
is the published definition; docs/medcalc_errata.md lists what each one changes.
"""

from __future__ import annotations

from medreasoner.calculators.body import map_value
from medreasoner.calculators.conventions.v1_common import quirk_tally, v1_celsius, v1_to_mg_dl
from medreasoner.calculators.entities import Entities, fmt
from medreasoner.calculators.scores_critical import _band
from medreasoner.calculators.scores_thrombo import _CAPRINI_MOBILITY, _CAPRINI_SURGERY


def caprini_without_risk_factors(e: Entities):
    """Caprini where only age, surgery type and mobility reach the total: every yes/no risk factor's
    points are computed but not carried forward, and BMI is never read.
    Evidence: all 20 rows 908–927 (label = age + surgery + mobility points in each)."""
    t = quirk_tally("Caprini score", "Risk-factor points are not carried into the total.")
    age = e.age_years()
    t.add(3 if age >= 75 else 2 if age >= 61 else 1 if age >= 41 else 0, f"Age {fmt(age)} y")
    surgery, points = e.choice("Surgery Type", _CAPRINI_SURGERY, "none")
    t.add(points, f"Surgery type '{surgery}'")
    mobility, points = e.choice("Mobility", _CAPRINI_MOBILITY, "normal")
    t.add(points, f"Mobility '{mobility}'")
    return t.result()


def _sofa_respiration(e: Entities) -> tuple[int, str]:
    """PaO2 divided by FiO2 in percent (ratios ≈ 1–2); ventilation gives 4, CPAP alone matches no branch."""
    pao2 = e.number("Partial pressure of oxygen (PaO₂) for Apache II", 100)
    ratio = pao2 / e.number("FiO₂", 21)
    vent, cpap = e.flag("On mechanical ventilation"), e.flag("Continous positive airway pressure")
    if vent:
        points = 4 if ratio < 100 else 3 if ratio < 200 else 2 if ratio < 300 else 1 if ratio < 400 else 0
    elif cpap:
        points = 0
    else:
        points = 2 if ratio < 300 else 1 if ratio < 400 else 0
    return points, f"PaO2/FiO2(%) = {fmt(ratio)}, ventilated {vent}, CPAP {cpap}"


def _sofa_cardiovascular(e: Entities) -> tuple[int, str]:
    """The 2-point rule (dopamine ≤ 5, missing counting as 0, or any dobutamine) is tested first, then
    the 3-point rule (dopamine > 5 or epinephrine/norepinephrine ≤ 0.1), so 4 points are unreachable."""
    dop, dob = e.number("DOPamine", 0), e.number("DOBUTamine", 0)
    epi, norepi = e.number("EPINEPHrine", 0), e.number("norEPINEPHrine", 0)
    # When the 2-point rule fails, dopamine is > 5, which already meets the 3-point rule.
    points = 2 if dop <= 5 or dob > 0 else 3
    return points, f"Cardiovascular (dopamine {fmt(dop)}, dobutamine {fmt(dob)}, epinephrine {fmt(epi)}, " \
                    f"norepinephrine {fmt(norepi)})"


def _sofa_renal(e: Entities) -> tuple[int, str]:
    """Urine output, when given, replaces creatinine and scores 3 below 500 mL/day (never 4)."""
    if e.has("Urine Output"):
        urine = e.number("Urine Output")
        return (3 if urine < 500 else 0), f"Urine output {fmt(urine)} mL/day (creatinine not read)"
    cr = v1_to_mg_dl(e, "creatinine", "creatinine", 1.0)
    return _band(cr, [(5, 4), (3.5, 3), (2, 2), (1.2, 1)], 0), f"Creatinine {fmt(cr)} mg/dL"


def sofa_v1(e: Entities):
    """SOFA as labelled by v1.0: PaO2 / FiO2 in percent; CPAP without ventilation scores no respiratory
    points; cardiovascular rules tested in the order 2 then 3 points; urine output replaces creatinine.
    Evidence: rows 888–907 (e.g. row 888 ratio 1.267 -> 4; row 890 epinephrine 0.33 -> 3; rows 896, 904,
    906 CPAP -> 0; row 891 urine 132 mL/day -> 3; row 892 creatinine 1.5 ignored)."""
    t = quirk_tally("SOFA score", "FiO2 in percent, rule order and renal input as the label code.")
    for points, why in (_sofa_respiration(e), _sofa_cardiovascular(e)):
        t.add(points, why)
    gcs = e.number("Glasgow Coma Score", 15)
    t.add(0 if gcs >= 15 else 1 if gcs >= 13 else 2 if gcs >= 10 else 3 if gcs >= 6 else 4, f"GCS {fmt(gcs)}")
    bili = v1_to_mg_dl(e, "Bilirubin", "bilirubin_sofa", 1.0)
    t.add(_band(bili, [(12, 4), (6, 3), (2, 2), (1.2, 1)], 0), f"Bilirubin {fmt(bili)} mg/dL")
    platelets = e.count_per_ul("Platelet count", 150000) / 1000.0
    t.add(4 if platelets < 20 else 3 if platelets < 50 else 2 if platelets < 100 else 1 if platelets < 150 else 0,
          f"Platelets {fmt(platelets)} ×10³/µL")
    t.add(*_sofa_renal(e))
    return t.result()


# v1.0 chronic-health points: only these exact surgery types score; 'Nonoperative' (with or without the
# benchmark's trailing space) and 'None' score nothing although the patient has organ failure.
_V1_SURGERY_POINTS = {"Elective": 2, "Emergency": 5}


def _apache_ph(ph: float) -> int:
    """APACHE II pH points with the 7.25–7.32 band missing (scores 0), as the v1.0 label code."""
    if 7.25 <= ph < 7.33:
        return 0
    return _band(ph, [(7.7, 4), (7.6, 3), (7.5, 1), (7.33, 0), (7.15, 3)], 4)


def _apache_creatinine(e: Entities) -> tuple[int, str]:
    """Doubled bands with acute renal failure, plain bands with chronic renal failure; with neither
    flag only the < 1.5 mg/dL bands are reached (1.5 mg/dL and above score 0)."""
    cr = v1_to_mg_dl(e, "creatinine", "creatinine", 1.0)
    points = _band(cr, [(3.5, 4), (2.0, 3), (1.5, 2), (0.6, 0)], 2)
    if e.flag("Acute renal failure"):
        return 2 * points, f"Creatinine {fmt(cr)} mg/dL, acute renal failure (doubled)"
    if e.flag("Chronic Renal Failure"):
        return points, f"Creatinine {fmt(cr)} mg/dL, chronic renal failure"
    return (points if cr < 1.5 else 0), f"Creatinine {fmt(cr)} mg/dL, no renal-failure flag"


def apache_ii_v1(e: Entities):
    """APACHE II as labelled by v1.0: GCS added instead of 15 − GCS; temperatures in the misspelt unit
    'degrees celsisus' read as Fahrenheit; the WBC count per µL compared with bands in 10⁹/L (always 4);
    pH 7.25–7.32 unscored; chronic-health points only for 'Elective' (2) or 'Emergency' (5); creatinine
    scored only with a renal-failure flag above 1.4 mg/dL. Evidence: rows 868–887 (e.g. row 868
    34.9 'degrees celsisus' -> 1.6 °C +4, WBC 9103 -> +4, GCS 12 -> +12; row 870 pH 7.29 and
    'Nonoperative ' unscored; row 882 creatinine 1.5 without flags unscored)."""
    t = quirk_tally("APACHE II score", "GCS added as is; unit bugs in temperature and WBC.")
    age = e.age_years()
    if e.flag("History of severe organ failure or immunocompromise"):
        surgery = e.text("Surgery Type", "None")
        t.add(_V1_SURGERY_POINTS.get(surgery, 0), f"Chronic health, surgery type '{surgery}'")
    t.add(_band(age, [(75, 6), (65, 5), (55, 3), (45, 2)], 0), f"Age {fmt(age)} y")
    fio2 = e.number("FiO₂", 49)
    if fio2 >= 50 and e.has("A-a gradient"):
        aa = e.number("A-a gradient")
        t.add(_band(aa, [(500, 4), (350, 3), (200, 2)], 0), f"FiO2 {fmt(fio2)} %: A-a gradient {fmt(aa)}")
    else:
        pao2 = e.number("Partial pressure of oxygen (PaO₂) for Apache II", 80)
        t.add(0 if pao2 > 70 else 1 if pao2 >= 61 else 3 if pao2 >= 55 else 4, f"FiO2 {fmt(fio2)} %: PaO2 {fmt(pao2)}")
    temp = v1_celsius(e)
    t.add(_band(temp, [(41, 4), (39, 3), (38.5, 1), (36, 0), (34, 1), (32, 2), (30, 3)], 4),
          f"Temperature read as {fmt(temp)} °C")
    mean_ap = map_value(e.number("Systolic Blood Pressure", 120), e.number("Diastolic Blood Pressure", 80))
    t.add(_band(mean_ap, [(160, 4), (130, 3), (110, 2), (70, 0), (50, 2)], 4), f"MAP {fmt(mean_ap)} mm Hg")
    hr = e.number("Heart Rate or Pulse", 80)
    t.add(_band(hr, [(180, 4), (140, 3), (110, 2), (70, 0), (55, 2), (40, 3)], 4), f"Heart rate {fmt(hr)}")
    rr = e.number("respiratory rate", 16)
    t.add(_band(rr, [(50, 4), (35, 3), (25, 1), (12, 0), (10, 1), (6, 2)], 4), f"Respiratory rate {fmt(rr)}")
    ph = e.number("pH", 7.4)
    t.add(_apache_ph(ph), f"pH {fmt(ph)}")
    na = e.conc("Sodium", "mmol/L", "sodium", 140)
    t.add(_band(na, [(180, 4), (160, 3), (155, 2), (150, 1), (130, 0), (120, 2), (111, 3)], 4), f"Sodium {fmt(na)}")
    k = e.conc("Potassium", "mmol/L", "potassium", 4)
    t.add(_band(k, [(7, 4), (6, 3), (5.5, 1), (3.5, 0), (3, 1), (2.5, 2)], 4), f"Potassium {fmt(k)}")
    t.add(*_apache_creatinine(e))
    hct = e.number("Hematocrit", 40)
    t.add(_band(hct, [(60, 4), (50, 2), (46, 1), (30, 0), (20, 2)], 4), f"Hematocrit {fmt(hct)} %")
    wbc = e.number("White blood cell count", 8)
    t.add(_band(wbc, [(40, 4), (20, 2), (15, 1), (3, 0), (1, 2)], 4), f"WBC {fmt(wbc)} read as ×10⁹/L")
    gcs = e.number("Glasgow Coma Score", 15)
    t.add(gcs, f"GCS {fmt(gcs)} added as is (published: 15 − GCS)")
    return t.result()
