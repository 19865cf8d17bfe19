"""``medcalc-v1.0`` overrides for scores whose v1.0 labels depart from the published definition:
Glasgow Coma Scale, Child-Pugh, RCRI, Charlson, SIRS, Glasgow-Blatchford, PSI and the due date.

Each function reproduces what the benchmark's label code did, as read from the rows' Ground Truth
Explanations (row numbers of test_data_v1.0.csv cited); none of these is the published definition.
"""

from __future__ import annotations

import datetime as dt

from medreasoner.calculators.conventions.v1_common import (TESTFILE_CONVENTION, quirk_steps, quirk_tally, unit_of,
                                                           v1_celsius, v1_to_mg_dl, with_notice)
from medreasoner.calculators.entities import Entities, EntityError, Result, fmt
from medreasoner.calculators.scores_cardio import rcri
from medreasoner.calculators.scores_critical import _EYE, _MOTOR, _VERBAL
from medreasoner.calculators.scores_infection import glasgow_blatchford, psi


# The verbal points table of glasgow_coma_score.py: the published one, except 'not testable' = 4.
V1_GCS_VERBAL = {**_VERBAL, "not testable": 4}


def gcs_v1(e: Entities):
    """GCS as the v1.0 calculator code computes it: eye + verbal + motor, each counted once, with verbal
    'not testable' scored 4 (the code's own explanation says it assumes 'oriented', which is 5).

    Source: MedCalc-Bench ``calculator_implementations/glasgow_coma_score.py``,
    ``compute_glasgow_coma_score_explanation`` (both stored revisions, incl. the one at commit f557a04 that
    produced the v1.0 one-shot exemplar 4 + 5 + 5 = 14): its points table maps verbal 'not testable' to 4
    and eye 'not testable' to 4, and each response is added exactly once. The motor table there has no
    'not testable' entry (the code would raise KeyError); we keep the published 6 for it.
    The test set's labels (rows 848–867) add the verbal response twice; that doubling is in the test file,
    not in this code (docs/medcalc_errata.md, "Rows still disagreeing under medcalc-v1.0").
    ``medcalc-v1.0-testfile`` reproduces that doubling on top of this function
    (:func:`gcs_testfile_verbal_twice`).
    Evidence: one-shot exemplar of calculator 21 (answer 14); rows 856 and 863 show verbal
    'not testable' = 4 (label − eye − motor = 2 × 4)."""
    t = quirk_tally("Glasgow Coma Score", "Verbal 'not testable' scores 4 (code table), not 5.")
    for key, table, default in (("Best eye response", _EYE, "eyes open spontaneously"),
                                ("Best verbal response", V1_GCS_VERBAL, "oriented"),
                                ("Best motor response", _MOTOR, "obeys commands")):
        value, points = e.choice(key, table, default)
        t.add(points, f"{key}: '{value}'")
    return t.result()


def gcs_testfile_verbal_twice(e: Entities):
    """GCS as the v1.0 TEST FILE labels it: :func:`gcs_v1` (the code's eye + verbal + motor, verbal 'not
    testable' = 4) plus the verbal points a second time, i.e. eye + 2 × verbal + motor (up to 20, above the
    scale's maximum of 15). The doubling is not in ``glasgow_coma_score.py`` nor in the one-shot exemplar
    (14 = 4 + 5 + 5); it exists only in the test file's labels, so only ``medcalc-v1.0-testfile`` uses it.
    Evidence: all 20 rows 848–867 (label − medcalc-v1.0 value = verbal points on every row; row 853
    labelled 20, rows 856 and 863 verbal 'not testable' counted 2 × 4)."""
    base = gcs_v1(e)
    value, points = e.choice("Best verbal response", V1_GCS_VERBAL, "oriented")
    total = base.answer + points
    steps = quirk_steps("The verbal response is counted twice, as in the test file's GCS labels (rows 848–867).",
                        TESTFILE_CONVENTION)
    steps.lines.extend(base.explanation.splitlines())
    steps.add(f"Best verbal response: '{value}' counted a second time: +{points} (total {total}).")
    steps.add(f"Glasgow Coma Score (test-file label) = {total}.")
    return steps.result(total)


_V1_ENCEPHALOPATHY = {"no encephalopathy": 1, "grade 1-2": 2, "grade 3-4": 3}


def child_pugh_without_ascites(e: Entities):
    """Child-Pugh where a given ascites grade scores 0 (only a missing ascites entity scores 1, 'absent'),
    bilirubin exactly 2.0 mg/dL scores 0 (no band matches), 3.0 mg/dL scores 3 and albumin 2.8 g/dL
    scores 3, encephalopathy 'Grade 0' scores 0; µmol/L bilirubin is converted with molar mass 548.66 and
    step rounding. Evidence: rows 200–218 (label = published − ascites points; row 214 bilirubin 2.0;
    row 209 albumin 2.8; row 203 'Grade 0')."""
    t = quirk_tally("Child-Pugh score", "Ascites is not scored when given; band edges as the label code.")
    inr = e.number("international normalized ratio")
    t.add(1 if inr < 1.7 else 2 if inr <= 2.3 else 3, f"INR {fmt(inr)}")
    bili = v1_to_mg_dl(e, "Bilirubin", "bilirubin")
    t.add(1 if bili < 2 else 2 if 2 < bili < 3 else 3 if bili >= 3 else 0, f"Bilirubin {fmt(bili)} mg/dL")
    alb = e.conc("Albumin", "g/dL")
    t.add(1 if alb > 3.5 else 2 if alb > 2.8 else 3, f"Albumin {fmt(alb)} g/dL")
    t.add(0 if e.has("Ascites") else 1, "Ascites (scored only when not given, as 'absent')")
    enceph = e.text("Encephalopathy", "No Encephalopathy").lower()
    t.add(_V1_ENCEPHALOPATHY.get(enceph, 0), f"Encephalopathy '{enceph}' (an unlisted grade scores 0)")
    return t.result()


def rcri_second_cerebrovascular_key(e: Entities):
    """RCRI reading only 'Cerebrovascular disease history' and ignoring 'History of cerebrovascular
    disease'. Evidence: rows 240–259 (13 rows carry True under the first key and False under the second;
    each label is one point short)."""
    kept = {k: v for k, v in e.raw.items() if k != "History of cerebrovascular disease"}
    return with_notice(rcri(Entities(kept)), "Only the 'Cerebrovascular disease history' key is read.")


def _present(e: Entities, key: str) -> bool:
    """v1.0 Charlson: any given value other than False/'none' counts (so 'None or diet-controlled',
    'Mild', 'Localized', 'Metastatic' all count as present)."""
    value = e.raw.get(key, False)
    return value is not False and str(value).strip().lower() not in ("false", "none")


def charlson_graded_items_as_one(e: Entities):
    """Charlson with every graded item scored 1 (liver disease, diabetes, solid tumour) and any given
    diabetes value counted, 'None or diet-controlled' included. Evidence: rows 427–446 (e.g. row 428
    metastatic tumour +1, row 433 moderate-to-severe liver +1, row 427 'None or Diet-controlled' +1)."""
    t = quirk_tally("Charlson Comorbidity Index", "Graded items score 1 point whatever their grade.")
    age = e.age_years()
    t.add(4 if age >= 80 else 3 if age >= 70 else 2 if age >= 60 else 1 if age >= 50 else 0, f"Age {fmt(age)} y")
    for key in ("Myocardial infarction", "Congestive Heart Faliure", "Peripheral vascular disease", "Dementia",
                "Chronic Obstructive Pulmonary Disease", "Connective tissue disease", "Peptic ulcer disease"):
        t.add(1 if e.flag(key) else 0, key)
    cva = e.flag("Cerebrovascular Accident") or e.flag("Transient Ischemic Attacks History")
    t.add(1 if cva else 0, "Cerebrovascular accident or TIA")
    for key in ("Liver disease severity", "Diabetes mellitus criteria for CCI rule", "Solid tumor"):
        t.add(1 if _present(e, key) else 0, f"{key} (any grade: 1)")
    for key in ("Hemiplegia", "Leukemia", "Lymphoma", "Moderate to severe Chronic Kidney Disease"):
        t.add(2 if _present(e, key) else 0, key)
    t.add(6 if e.flag("AIDS") else 0, "AIDS")
    return t.result()


_V1_WBC_FACTOR = {"µl": 1e9, "ul": 1e9, "l": 1e3, "m^3": 1.0}


def sirs_wbc_unit_and_heart_rate(e: Entities):
    """SIRS where (i) a WBC given per µL is multiplied by 10⁹ and per L by 10³ ('-> m³') before the
    comparison with 4 000–12 000, so it always meets the criterion, and (ii) the heart-rate step adds a
    point also when HR ≤ 90. Evidence: rows 588–607 (e.g. row 593 WBC 830 /µL -> 8.3e11; row 596
    HR 68 and normal WBC still counted 2)."""
    t = quirk_tally("SIRS criteria met", "WBC unit scaled to 'm³'; the heart-rate step always adds 1.")
    temp = v1_celsius(e)
    t.add(1 if temp > 38 or temp < 36 else 0, f"Temperature {fmt(temp)} °C")
    hr = e.number("Heart Rate or Pulse", 80)
    t.add(1, f"Heart rate {fmt(hr)} (the label code counts this step in both branches)")
    wbc = e.number("White blood cell count", 8000)
    unit = unit_of(e, "White blood cell count", "m^3") if e.has("White blood cell count") else "m^3"
    if unit not in _V1_WBC_FACTOR:
        raise EntityError("White blood cell count", f"unit {unit!r} not handled by the medcalc-v1.0 convention")
    scaled = wbc * _V1_WBC_FACTOR[unit]
    t.add(1 if scaled > 12000 or scaled < 4000 else 0, f"WBC {fmt(wbc)} /{unit} -> {scaled:.4g} per 'm³'")
    rr, paco2 = e.number("respiratory rate", 16), e.number("PaCO₂", 40)
    t.add(1 if rr > 20 or paco2 < 32 else 0, f"Respiratory rate {fmt(rr)}, PaCO2 {fmt(paco2)}")
    return t.result()


def blatchford_inclusive_hb_edges(e: Entities):
    """Glasgow-Blatchford with inclusive haemoglobin band edges: men 12–13 g/dL and women 10–12 g/dL
    score 1 including Hb exactly 13.0 (men) / 12.0 (women). Evidence: rows 389 (man, 13.0), 390 and
    399 (women, 12.0)."""
    hb = e.conc("Hemoglobin", "g/dL", None, 15)
    result = glasgow_blatchford(e)
    if hb == (12.0 if e.female() else 13.0):
        total = result.answer + 1
        result = Result(total, result.explanation + f"\nHb {fmt(hb)} g/dL at the band edge: +1 (total {fmt(total)}).")
    return with_notice(result, "Haemoglobin band edges are inclusive.")


def psi_misspelt_celsius_as_fahrenheit(e: Entities):
    """PSI reading a temperature in the misspelt unit 'degrees celsisus' as Fahrenheit.
    Evidence: rows 829 (38.0) and 831 (36.0), +15 points each."""
    adjusted = dict(e.raw)
    if e.has("Temperature"):
        adjusted["Temperature"] = [v1_celsius(e), "degrees celsius"]
    return with_notice(psi(Entities(adjusted)), "Misspelt Celsius units are read as Fahrenheit.")


def due_date_adds_short_cycle(e: Entities):
    """Due date = LMP + 280 days + |cycle − 28| days: short cycles are added, not subtracted.
    Evidence: all 15 rows 928–947 with a cycle of 20–25 days."""
    s = quirk_steps("Short-cycle adjustments are added instead of subtracted.")
    lmp = e.date("Last menstrual date")
    cycle = int(e.number("cycle length", 28))
    value = lmp + dt.timedelta(days=280 + abs(cycle - 28))
    s.add(f"LMP {lmp:%m/%d/%Y} + 280 days + |{cycle} − 28| days = {value:%m/%d/%Y}.")
    return s.result(value)
