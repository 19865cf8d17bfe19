"""``medcalc-v1.0`` overrides for critical-care and VTE scores: SOFA, APACHE II and Caprini, as the
MedCalc-Bench v1.0 label code computed them. None of these is the published definition;
docs/medcalc_errata.md lists what each one changes.

SOFA and APACHE II follow the branch structure of the benchmark's own calculator code
(``calculator_implementations/sofa.py`` ``compute_sofa_explanation`` and
``calculator_implementations/apache_ii.py`` ``apache_ii_explanation``), re-expressed here in our own words
from reading it (no code copied); each quirk below names the branch it comes from. They are checked on the
20 test rows each and, held out, on the v1.0 one-shot exemplars (tests/test_calculators_conventions.py).
"""

from __future__ import annotations

from medreasoner.calculators.conventions.v1_common import quirk_tally, v1_code_celsius, v1_round, v1_to_mg_dl
from medreasoner.calculators.entities import Entities, fmt
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
    """``compute_sofa_explanation``, PaO2/FiO2 branch. The ratio divides PaO2 by FiO2 *in percent* (so it is
    ≈ 1–2), and the branches are tested in this order: 300–399 -> 1; 200–299 -> 2; ≤ 199 with neither
    ventilation nor CPAP -> 2; 100–198.99 with ventilation or CPAP -> 3; < 100 with ventilation -> 4;
    anything else (e.g. < 100 on CPAP alone, or ≥ 400) -> 0. Missing ventilation/CPAP flags count as False."""
    pao2 = e.number("Partial pressure of oxygen (PaO₂) for Apache II", 100)
    ratio = v1_round(pao2 / e.number("FiO₂", 21))
    vent, cpap = e.flag("On mechanical ventilation"), e.flag("Continous positive airway pressure")
    if 300 <= ratio < 400:
        points = 1
    elif 200 <= ratio < 300 or (ratio <= 199 and not vent and not cpap):
        points = 2
    elif 100 <= ratio < 199 and (vent or cpap):
        points = 3
    elif ratio < 100 and vent:
        points = 4
    else:
        points = 0
    return points, f"PaO2/FiO2(%) = {fmt(ratio)}, ventilated {vent}, CPAP {cpap}"


def _sofa_cardiovascular(e: Entities) -> tuple[int, str]:
    """``compute_sofa_explanation``, cardiovascular branch. A missing drug counts as dose 0. First rule: both
    blood pressures given, MAP = SBP/3 + 2·DBP/3 below 70 and no dobutamine, epinephrine or norepinephrine
    -> 1 (dopamine is not looked at). Else dopamine ≤ 5 or any dobutamine -> 2 (so a patient on no drug
    with a normal or unknown MAP still gets 2). Else (dopamine is then > 5, which meets it) -> 3; the 4-point
    rule comes after and is unreachable. The 'Hypotension' entity is never read."""
    dop, dob = e.number("DOPamine", 0), e.number("DOBUTamine", 0)
    epi, norepi = e.number("EPINEPHrine", 0), e.number("norEPINEPHrine", 0)
    drugs = f"dopamine {fmt(dop)}, dobutamine {fmt(dob)}, epinephrine {fmt(epi)}, norepinephrine {fmt(norepi)}"
    if e.has("Systolic Blood Pressure") and e.has("Diastolic Blood Pressure"):
        mean_ap = e.number("Systolic Blood Pressure") / 3 + 2 * e.number("Diastolic Blood Pressure") / 3
        if mean_ap < 70 and not (dob or epi or norepi):
            return 1, f"Cardiovascular: MAP {fmt(v1_round(mean_ap))} < 70 mm Hg ({drugs})"
    points = 2 if dop <= 5 or dob else 3
    return points, f"Cardiovascular ({drugs})"


def _sofa_gcs(gcs: float) -> int:
    """``compute_sofa_explanation``, GCS branch: closed integer bands < 6, 6–9, 10–12, 13–14, so a value
    between bands (e.g. 9.5) falls through to 0 points."""
    if gcs < 6:
        return 4
    if 6 <= gcs <= 9:
        return 3
    if 10 <= gcs <= 12:
        return 2
    return 1 if 13 <= gcs <= 14 else 0


def _sofa_renal(e: Entities) -> tuple[int, str]:
    """``compute_sofa_explanation``, renal branch. Without creatinine, urine output scores 3 below
    500 mL/day (its < 200 -> 4 rule is tested second and so unreachable); without urine output, creatinine
    scores by its bands (µmol/L converted step-rounded with 113.12 g/mol); with BOTH given neither branch runs
    and the renal score is 0. With neither given the code raises (KeyError); we score 0."""
    has_cr, has_urine = e.has("creatinine"), e.has("Urine Output")
    if has_urine and not has_cr:
        urine = e.number("Urine Output")
        return (3 if urine < 500 else 0), f"Urine output {fmt(urine)} mL/day"
    if has_cr and not has_urine:
        cr = v1_to_mg_dl(e, "creatinine", "creatinine")
        points = 4 if cr >= 5 else 3 if cr >= 3.5 else 2 if cr >= 2 else 1 if cr >= 1.2 else 0
        return points, f"Creatinine {fmt(cr)} mg/dL"
    return 0, "Renal: creatinine and urine output both given (or both missing): not scored"


def sofa_v1(e: Entities):
    """SOFA as the v1.0 code (``calculator_implementations/sofa.py``, ``compute_sofa_explanation``) computes
    it: PaO2 / FiO2 in percent; CPAP without ventilation and a ratio < 100 scores no respiratory points;
    a MAP < 70 mm Hg without dobutamine/epinephrine/norepinephrine scores 1, otherwise the cardiovascular
    2-point rule (dopamine ≤ 5, missing = 0) is tested before the 3-point rule and 4 is unreachable;
    GCS between integer bands scores 0; creatinine and urine output are each read only when the other is
    absent. Evidence: rows 888–907 (e.g. row 888 ratio 1.267 -> 4; row 890 epinephrine 0.33 -> 3; rows 896,
    904, 906 CPAP -> 0; row 891 urine 132 mL/day -> 3; rows 892–907 creatinine and urine both given -> 0);
    held out: one-shot exemplar of calculator 43 (MAP 48.7 mm Hg, no drugs -> 1; total 3)."""
    t = quirk_tally("SOFA score", "FiO2 in percent, rule order and renal input as the label code.")
    for points, why in (_sofa_respiration(e), _sofa_cardiovascular(e)):
        t.add(points, why)
    gcs = e.number("Glasgow Coma Score", 15)
    t.add(_sofa_gcs(gcs), f"GCS {fmt(gcs)}")
    bili = v1_to_mg_dl(e, "Bilirubin", "bilirubin_sofa", 1.0)
    t.add(4 if bili >= 12 else 3 if bili >= 6 else 2 if bili >= 2 else 1 if bili >= 1.2 else 0,
          f"Bilirubin {fmt(bili)} mg/dL")
    platelets = e.count_per_ul("Platelet count", 150000) / 1000.0
    t.add(4 if platelets < 20 else 3 if platelets < 50 else 2 if platelets < 100 else 1 if platelets < 150 else 0,
          f"Platelets {fmt(platelets)} ×10³/µL")
    t.add(*_sofa_renal(e))
    return t.result()


# ``apache_ii_explanation``: chronic-health points only for these exact surgery types ('Nonelective' is
# matched explicitly for 0); 'Nonoperative' (with or without the benchmark's trailing space) and 'None'
# match no branch and score nothing although the patient has organ failure.
_V1_SURGERY_POINTS = {"Elective": 2, "Emergency": 5}


def _first(value: float, bands) -> int:
    """Points of the first ``(low, high, points)`` band with low ≤ value < high; 0 when none matches.
    The v1.0 APACHE II code lists only the bands at and above normal for most variables and has no final
    else, so a value below the lowest listed band scores 0."""
    return next((points for low, high, points in bands if low <= value < high), 0)


_INF = float("inf")
_APACHE_TEMP = ((41, _INF, 4), (39, 41, 3), (38.5, 39, 1), (34, 36, 1), (32, 34, 2), (30, 32, 3), (-_INF, 30, 4))
_APACHE_HR = ((180, _INF, 4), (140, 180, 3), (110, 140, 2))
_APACHE_RR = ((50, _INF, 4), (35, 50, 3), (25, 35, 1))
_APACHE_PH = ((7.7, _INF, 4), (7.6, 7.7, 3), (7.5, 7.6, 1))
_APACHE_NA = ((180, _INF, 4), (160, 180, 3), (155, 160, 2), (150, 155, 1))
_APACHE_K = ((7, _INF, 4), (6, 7, 3), (5.5, 6, 1))
_APACHE_HCT = ((60, _INF, 4), (50, 60, 2), (46, 50, 1))
_APACHE_WBC = ((40, _INF, 4), (20, 40, 2), (15, 20, 1))


def _apache_age(age: float) -> int:
    """``apache_ii_explanation`` age branch: < 45 -> 0; 45 < age ≤ 54 -> 2 (so exactly 45 scores 0);
    55–64 -> 3; 65–74 -> 5; > 75 -> 6 (so exactly 75 scores 0); non-integer ages between bands score 0."""
    if 45 < age <= 54:
        return 2
    if 55 <= age <= 64:
        return 3
    if 65 <= age <= 74:
        return 5
    return 6 if age > 75 else 0


def _apache_oxygenation(e: Entities) -> tuple[int, str]:
    """``apache_ii_explanation`` oxygenation branch: FiO2 ≥ 50 % reads the A-a gradient (> 499 -> 4,
    350–499 -> 3, 200–349 -> 2, < 200 -> 0; non-integer values between 349 and 350 or 499 and 500 score 0);
    else PaO2 (> 70 -> 0, 61–70 -> 1, 55–60 -> 3, < 55 -> 4; values between 60 and 61 score 0). The code
    raises when FiO2 ≥ 50 % and no A-a gradient is given; we fall back to the PaO2 branch."""
    fio2 = e.number("FiO₂", 49)
    if fio2 >= 50 and e.has("A-a gradient"):
        aa = e.number("A-a gradient")
        points = 4 if aa > 499 else 3 if 350 <= aa <= 499 else 2 if 200 <= aa <= 349 else 0
        return points, f"FiO2 {fmt(fio2)} %: A-a gradient {fmt(aa)}"
    pao2 = e.number("Partial pressure of oxygen (PaO₂) for Apache II", 80)
    points = 0 if pao2 > 70 else 1 if 61 <= pao2 <= 70 else 3 if 55 <= pao2 <= 60 else 4 if pao2 < 55 else 0
    return points, f"FiO2 {fmt(fio2)} %: PaO2 {fmt(pao2)}"


def _apache_map(mean_ap: float) -> int:
    """``apache_ii_explanation`` MAP branch: > 159 -> 4; 130–159 -> 3; 110–129 -> 2; anything lower
    (including < 70 mm Hg, 2 or 4 points published) -> 0."""
    return 4 if mean_ap > 159 else 3 if mean_ap > 129 else 2 if mean_ap > 109 else 0


def _apache_creatinine(e: Entities) -> tuple[int, str]:
    """``apache_ii_explanation`` creatinine branch: with acute renal failure ≥ 3.5 -> 8, 2.0–3.4 -> 6,
    1.5–1.9 -> 4; with chronic renal failure (and no acute) ≥ 3.5 -> 4, 2.0–3.4 -> 3, 1.5–1.9 -> 2;
    0.6–1.4 -> 0 and < 0.6 -> 2 whatever the flags; ≥ 1.5 mg/dL without either flag matches no branch -> 0."""
    cr = v1_to_mg_dl(e, "creatinine", "creatinine", 1.0)
    acute, chronic = e.flag("Acute renal failure"), e.flag("Chronic Renal Failure")
    if cr < 0.6:
        return 2, f"Creatinine {fmt(cr)} mg/dL"
    if cr < 1.5:
        return 0, f"Creatinine {fmt(cr)} mg/dL"
    points = 4 if cr >= 3.5 else 3 if cr >= 2.0 else 2
    if acute:
        return 2 * points, f"Creatinine {fmt(cr)} mg/dL, acute renal failure (doubled)"
    if chronic:
        return points, f"Creatinine {fmt(cr)} mg/dL, chronic renal failure"
    return 0, f"Creatinine {fmt(cr)} mg/dL, no renal-failure flag: no branch matches"


def apache_ii_v1(e: Entities):
    """APACHE II as the v1.0 code (``calculator_implementations/apache_ii.py``, ``apache_ii_explanation``)
    computes it: GCS added instead of 15 − GCS; any temperature unit other than exactly 'degrees celsius'
    (incl. the misspelt 'degrees celsisus') converted as Fahrenheit; WBC converted to per mm³ and compared
    with bands in 10⁹/L (always 4 for a real count); heart rate, respiratory rate, MAP, pH, sodium, potassium,
    hematocrit and WBC score only at and above their normal band (no points below it); age bands with gaps
    at 45 and 75; chronic-health points only for 'Elective' (2) or 'Emergency' (5); creatinine ≥ 1.5 mg/dL
    scored only with a renal-failure flag. Evidence: rows 868–887 (e.g. row 868 34.9 'degrees celsisus' ->
    1.6 °C +4, WBC 9103 -> +4, GCS 12 -> +12; row 870 pH 7.29 and 'Nonoperative ' unscored; row 882
    creatinine 1.5 without flags unscored); held out: one-shot exemplar of calculator 28 (heart rate 63 and
    pH 7.29 unscored; total 32)."""
    t = quirk_tally("APACHE II score", "GCS added as is; unit bugs in temperature and WBC; no low bands.")
    if e.flag("History of severe organ failure or immunocompromise"):
        surgery = e.text("Surgery Type", "None")
        t.add(_V1_SURGERY_POINTS.get(surgery, 0), f"Chronic health, surgery type '{surgery}'")
    age = e.age_years()
    t.add(_apache_age(age), f"Age {fmt(age)} y")
    t.add(*_apache_oxygenation(e))
    temp = v1_code_celsius(e)
    t.add(_first(temp, _APACHE_TEMP), f"Temperature read as {fmt(temp)} °C")
    sbp, dbp = e.number("Systolic Blood Pressure", 120), e.number("Diastolic Blood Pressure", 80)
    mean_ap = v1_round(2 * dbp / 3 + sbp / 3)
    t.add(_apache_map(mean_ap), f"MAP {fmt(mean_ap)} mm Hg")
    hr = e.number("Heart Rate or Pulse", 80)
    t.add(_first(hr, _APACHE_HR), f"Heart rate {fmt(hr)}")
    rr = e.number("respiratory rate", 16)
    t.add(_first(rr, _APACHE_RR), f"Respiratory rate {fmt(rr)}")
    ph = e.number("pH", 7.4)
    t.add(_first(ph, _APACHE_PH), f"pH {fmt(ph)}")
    na = e.conc("Sodium", "mmol/L", "sodium", 140)
    t.add(_first(na, _APACHE_NA), f"Sodium {fmt(na)}")
    k = e.conc("Potassium", "mmol/L", "potassium", 4)
    t.add(_first(k, _APACHE_K), f"Potassium {fmt(k)}")
    t.add(*_apache_creatinine(e))
    hct = e.number("Hematocrit", 40)
    t.add(_first(hct, _APACHE_HCT), f"Hematocrit {fmt(hct)} %")
    wbc = e.count_per_ul("White blood cell count", 8000)
    t.add(_first(wbc, _APACHE_WBC), f"WBC {fmt(wbc)} per mm³ compared with bands in ×10⁹/L")
    gcs = e.number("Glasgow Coma Score", 15)
    t.add(gcs, f"GCS {fmt(gcs)} added as is (published: 15 − GCS)")
    return t.result()
