"""Critical-care scores: Glasgow Coma Scale, APACHE II, SOFA, SIRS."""

from __future__ import annotations

from medreasoner.calculators.body import map_value
from medreasoner.calculators.entities import Entities, fmt
from medreasoner.calculators.renal import creatinine_mg_dl
from medreasoner.calculators.scores_cardio import Tally

# Teasdale & Jennett, Lancet 1974;2:81 (6-point motor scale of 1977). "not testable" components are
# scored as normal, the convention MedCalc-Bench states in its explanations (the GCS itself reports NT).
_EYE = {"eyes open spontaneously": 4, "eye opening to verbal command": 3, "eye opening to pain": 2,
        "no eye opening": 1, "not testable": 4}
_VERBAL = {"oriented": 5, "confused": 4, "inappropriate words": 3, "incomprehensible sounds": 2,
           "no verbal response": 1, "not testable": 5}
_MOTOR = {"obeys commands": 6, "localizes pain": 5, "withdrawal from pain": 4, "flexion to pain": 3,
          "extension to pain": 2, "no motor response": 1, "not testable": 6}


def glasgow_coma_scale(e: Entities):
    """Glasgow Coma Scale 3–15 (Teasdale & Jennett, Lancet 1974;2:81): eye 1–4 + verbal 1–5 + motor 1–6."""
    t = Tally("Glasgow Coma Score")
    for key, table, default in (("Best eye response", _EYE, "eyes open spontaneously"),
                                ("Best verbal response", _VERBAL, "oriented"),
                                ("Best motor response", _MOTOR, "obeys commands")):
        value, points = e.choice(key, table, default)
        t.add(points, f"{key}: '{value}'")
    return t.result()


def _fio2_percent(e: Entities) -> float:
    """FiO2 in percent; a value ≤ 1 is read as a fraction (0.5 -> 50 %). Room air (21 %) if not given."""
    fio2 = e.number("FiO₂", 21)
    return fio2 * 100.0 if fio2 <= 1.0 else fio2


def _band(value: float, bands: list[tuple[float, int]], otherwise: int) -> int:
    """Points of the first band whose lower bound ``value`` reaches (bands in descending order)."""
    for lower, points in bands:
        if value >= lower:
            return points
    return otherwise


def apache_ii(e: Entities):
    """APACHE II (Knaus et al., Crit Care Med 1985;13:818): acute physiology points + age points +
    chronic health points; GCS contributes 15 − GCS; creatinine points double in acute renal failure;
    oxygenation uses the A-a gradient when FiO2 ≥ 50 %, else PaO2."""
    t = Tally("APACHE II score")
    age = e.age_years()
    t.add(_band(age, [(75, 6), (65, 5), (55, 3), (45, 2)], 0), f"Age {fmt(age)} y")
    temp = e.celsius("Temperature", 37.0)
    t.add(_band(temp, [(41, 4), (39, 3), (38.5, 1), (36, 0), (34, 1), (32, 2), (30, 3)], 4), f"Temperature {fmt(temp)} °C")
    mean_ap = map_value(e.number("Systolic Blood Pressure", 120), e.number("Diastolic Blood Pressure", 80))
    t.add(_band(mean_ap, [(160, 4), (130, 3), (110, 2), (70, 0), (50, 2)], 4), f"MAP {fmt(mean_ap)} mm Hg")
    hr = e.number("Heart Rate or Pulse", 80)
    t.add(_band(hr, [(180, 4), (140, 3), (110, 2), (70, 0), (55, 2), (40, 3)], 4), f"Heart rate {fmt(hr)}")
    rr = e.number("respiratory rate", 16)
    t.add(_band(rr, [(50, 4), (35, 3), (25, 1), (12, 0), (10, 1), (6, 2)], 4), f"Respiratory rate {fmt(rr)}")
    fio2 = _fio2_percent(e)
    if fio2 >= 50 and e.has("A-a gradient"):
        aa = e.number("A-a gradient")
        t.add(_band(aa, [(500, 4), (350, 3), (200, 2)], 0), f"FiO2 {fmt(fio2)} % ≥ 50 %: A-a gradient {fmt(aa)}")
    else:
        pao2 = e.number("Partial pressure of oxygen (PaO₂) for Apache II", 80)
        points = 0 if pao2 > 70 else 1 if pao2 >= 61 else 3 if pao2 >= 55 else 4
        t.add(points, f"FiO2 {fmt(fio2)} % < 50 %: PaO2 {fmt(pao2)} mm Hg")
    ph = e.number("pH", 7.4)
    t.add(_band(ph, [(7.7, 4), (7.6, 3), (7.5, 1), (7.33, 0), (7.25, 2), (7.15, 3)], 4), f"Arterial pH {fmt(ph)}")
    na = e.conc("Sodium", "mmol/L", "sodium", 140)
    t.add(_band(na, [(180, 4), (160, 3), (155, 2), (150, 1), (130, 0), (120, 2), (111, 3)], 4), f"Sodium {fmt(na)}")
    k = e.conc("Potassium", "mmol/L", "potassium", 4)
    t.add(_band(k, [(7, 4), (6, 3), (5.5, 1), (3.5, 0), (3, 1), (2.5, 2)], 4), f"Potassium {fmt(k)}")
    cr = creatinine_mg_dl(e, "creatinine", 1.0)
    cr_points = _band(cr, [(3.5, 4), (2.0, 3), (1.5, 2), (0.6, 0)], 2)
    arf = e.flag("Acute renal failure")
    t.add(cr_points * (2 if arf else 1), f"Creatinine {fmt(cr)} mg/dL{' (doubled: acute renal failure)' if arf else ''}")
    hct = e.number("Hematocrit", 40)
    t.add(_band(hct, [(60, 4), (50, 2), (46, 1), (30, 0), (20, 2)], 4), f"Hematocrit {fmt(hct)} %")
    wbc = e.count_per_ul("White blood cell count", 8000) / 1000.0
    t.add(_band(wbc, [(40, 4), (20, 2), (15, 1), (3, 0), (1, 2)], 4), f"WBC {fmt(wbc)} ×10³/µL")
    gcs = e.number("Glasgow Coma Score", 15)
    t.add(15 - gcs, f"15 − GCS ({fmt(gcs)})")
    if e.flag("History of severe organ failure or immunocompromise"):
        surgery = e.text("Surgery Type", "Nonoperative").lower()
        t.add(2 if surgery == "elective" else 5, f"Chronic health with surgery type '{surgery}'")
    return t.result()


def sofa(e: Entities):
    """SOFA score (Vincent et al., Intensive Care Med 1996;22:707): respiration (PaO2/FiO2),
    coagulation (platelets), liver (bilirubin), cardiovascular (MAP / vasopressors), CNS (GCS),
    renal (creatinine or urine output), 0–4 points each."""
    t = Tally("SOFA score")
    pao2 = e.number("Partial pressure of oxygen (PaO₂) for Apache II", 100)
    fio2 = _fio2_percent(e) / 100.0
    ratio = pao2 / fio2
    ventilated = e.flag("On mechanical ventilation") or e.flag("Continous positive airway pressure")
    if ratio < 100 and ventilated:
        resp = 4
    elif ratio < 200 and ventilated:
        resp = 3
    else:
        resp = 2 if ratio < 300 else 1 if ratio < 400 else 0
    t.add(resp, f"PaO2/FiO2 {fmt(ratio)} mm Hg{', ventilated' if ventilated else ''}")
    platelets = e.count_per_ul("Platelet count", 150000) / 1000.0
    t.add(4 if platelets < 20 else 3 if platelets < 50 else 2 if platelets < 100 else 1 if platelets < 150 else 0,
          f"Platelets {fmt(platelets)} ×10³/µL")
    gcs = e.number("Glasgow Coma Score", 15)
    t.add(0 if gcs >= 15 else 1 if gcs >= 13 else 2 if gcs >= 10 else 3 if gcs >= 6 else 4, f"GCS {fmt(gcs)}")
    bili = e.conc("Bilirubin", "mg/dL", "bilirubin", 1.0)
    t.add(_band(bili, [(12, 4), (6, 3), (2, 2), (1.2, 1)], 0), f"Bilirubin {fmt(bili)} mg/dL")
    dop = e.number("DOPamine", 0)
    dob = e.number("DOBUTamine", 0)
    epi = e.number("EPINEPHrine", 0)
    norepi = e.number("norEPINEPHrine", 0)
    if dop > 15 or epi > 0.1 or norepi > 0.1:
        cv = 4
    elif dop > 5 or epi > 0 or norepi > 0:
        cv = 3
    elif dop > 0 or dob > 0:
        cv = 2
    else:
        mean_ap = map_value(e.number("Systolic Blood Pressure", 120), e.number("Diastolic Blood Pressure", 80))
        cv = 1 if mean_ap < 70 or e.flag("Hypotension") else 0
    t.add(cv, f"Cardiovascular (dopamine {fmt(dop)}, dobutamine {fmt(dob)}, epinephrine {fmt(epi)}, "
              f"norepinephrine {fmt(norepi)} µg/kg/min)")
    cr = creatinine_mg_dl(e, "creatinine", 1.0)
    renal = _band(cr, [(5, 4), (3.5, 3), (2, 2), (1.2, 1)], 0)
    if e.has("Urine Output"):
        urine = e.number("Urine Output")
        renal = max(renal, 4 if urine < 200 else 3 if urine < 500 else 0)
    t.add(renal, f"Renal (creatinine {fmt(cr)} mg/dL, urine output)")
    return t.result()


def sirs(e: Entities):
    """SIRS criteria met (Bone et al., Chest 1992;101:1644): temperature > 38 or < 36 °C; HR > 90;
    RR > 20 or PaCO2 < 32 mm Hg; WBC > 12 000 or < 4 000 /µL."""
    t = Tally("SIRS criteria met")
    temp = e.celsius("Temperature", 37.0)
    t.add(1 if temp > 38 or temp < 36 else 0, f"Temperature {fmt(temp)} °C")
    hr = e.number("Heart Rate or Pulse", 80)
    t.add(1 if hr > 90 else 0, f"Heart rate {fmt(hr)}")
    rr = e.number("respiratory rate", 16)
    paco2 = e.number("PaCO₂", 40)
    t.add(1 if rr > 20 or paco2 < 32 else 0, f"Respiratory rate {fmt(rr)}, PaCO2 {fmt(paco2)}")
    wbc = e.count_per_ul("White blood cell count", 8000)
    t.add(1 if wbc > 12000 or wbc < 4000 else 0, f"WBC {fmt(wbc)} /µL")
    return t.result()
