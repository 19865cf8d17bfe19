"""Infection and GI-bleeding scores: Centor (McIsaac), FeverPAIN, CURB-65, PSI, Glasgow-Blatchford."""

from __future__ import annotations

from medreasoner.calculators.entities import Entities, fmt
from medreasoner.calculators.scores_cardio import Tally


def centor_mcisaac(e: Entities):
    """Modified Centor (McIsaac et al., CMAJ 1998;158:75): age 3–14 +1 / 15–44 0 / ≥ 45 −1, exudate or
    tonsillar swelling 1, tender/swollen anterior cervical nodes 1, temperature > 38 °C 1, cough absent 1."""
    t = Tally("Centor score")
    age = e.age_years()
    t.add(1 if 3 <= age < 15 else -1 if age >= 45 else 0, f"Age {fmt(age)} y")
    t.add(1 if e.flag("Exudate or swelling on tonsils") else 0, "Exudate or swelling on tonsils")
    t.add(1 if e.flag("Tender/swollen anterior cervical lymph nodes") else 0, "Tender/swollen anterior cervical nodes")
    temp = e.celsius("Temperature", 37.0)
    t.add(1 if temp > 38 else 0, f"Temperature {fmt(temp)} °C (> 38)")
    t.add(1 if e.flag("Cough Absent") else 0, "Cough absent")
    return t.result()


def feverpain(e: Entities):
    """FeverPAIN (Little et al., BMJ 2013;347:f5806): fever in past 24 h, purulence, attend rapidly
    (≤ 3 days), severely inflamed tonsils, no cough or coryza: 1 point each."""
    t = Tally("FeverPAIN score")
    t.add(1 if e.flag("Fever in past 24 hours") else 0, "Fever in past 24 hours")
    t.add(1 if e.flag("Purulent tonsils") else 0, "Purulence")
    t.add(1 if e.flag("Symptom onset ≤3 days") else 0, "Attend rapidly (≤ 3 days)")
    t.add(1 if e.flag("Severe tonsil inflammation") else 0, "Severely inflamed tonsils")
    t.add(1 if e.flag("Absence of cough or coryza") else 0, "No cough or coryza")
    return t.result()


def curb65(e: Entities):
    """CURB-65 (Lim et al., Thorax 2003;58:377): confusion, BUN > 19 mg/dL (urea > 7 mmol/L),
    RR ≥ 30, SBP < 90 or DBP ≤ 60, age ≥ 65."""
    t = Tally("CURB-65 score")
    t.add(1 if e.flag("Confusion") else 0, "Confusion")
    bun = e.conc("Blood Urea Nitrogen (BUN)", "mg/dL", "bun", 0)
    t.add(1 if bun > 19 else 0, f"BUN {fmt(bun)} mg/dL (> 19)")
    rr = e.number("respiratory rate", 16)
    t.add(1 if rr >= 30 else 0, f"Respiratory rate {fmt(rr)} (≥ 30)")
    sbp, dbp = e.number("Systolic Blood Pressure", 120), e.number("Diastolic Blood Pressure", 80)
    t.add(1 if sbp < 90 or dbp <= 60 else 0, f"Blood pressure {fmt(sbp)}/{fmt(dbp)}")
    age = e.age_years()
    t.add(1 if age >= 65 else 0, f"Age {fmt(age)} (≥ 65)")
    return t.result()


_PSI_FLAGS = {"Nursing home resident": 10, "Neoplastic disease": 30, "Liver disease severity": 20,
              "Congestive Heart Faliure": 10, "Cerebrovascular disease history": 10, "Renal disease": 10,
              "Altered mental status": 20, "Pleural effusion on x-ray": 10}


def psi(e: Entities):
    """Pneumonia Severity Index (Fine et al., NEJM 1997;336:243): age (women −10) plus points for
    comorbidities, examination and laboratory findings."""
    t = Tally("PSI score")
    age = e.age_years()
    t.add(age, "Age in years")
    if e.female():
        t.add(-10, "Female")
    for key, points in _PSI_FLAGS.items():
        t.add(points if e.flag(key) else 0, key)
    rr = e.number("respiratory rate", 16)
    t.add(20 if rr >= 30 else 0, f"Respiratory rate {fmt(rr)} (≥ 30)")
    sbp = e.number("Systolic Blood Pressure", 120)
    t.add(20 if sbp < 90 else 0, f"Systolic BP {fmt(sbp)} (< 90)")
    temp = e.celsius("Temperature", 37.0)
    t.add(15 if temp < 35 or temp >= 40 else 0, f"Temperature {fmt(temp)} °C (< 35 or ≥ 40)")
    hr = e.number("Heart Rate or Pulse", 80)
    t.add(10 if hr >= 125 else 0, f"Pulse {fmt(hr)} (≥ 125)")
    ph = e.number("pH", 7.4)
    t.add(30 if ph < 7.35 else 0, f"pH {fmt(ph)} (< 7.35)")
    bun = e.conc("Blood Urea Nitrogen (BUN)", "mg/dL", "bun", 10)
    t.add(20 if bun >= 30 else 0, f"BUN {fmt(bun)} mg/dL (≥ 30)")
    na = e.conc("Sodium", "mmol/L", "sodium", 140)
    t.add(20 if na < 130 else 0, f"Sodium {fmt(na)} (< 130)")
    glucose = e.conc("Glucose", "mg/dL", "glucose", 100)
    t.add(10 if glucose >= 250 else 0, f"Glucose {fmt(glucose)} mg/dL (≥ 250)")
    hct = e.number("Hematocrit", 40)
    t.add(10 if hct < 30 else 0, f"Hematocrit {fmt(hct)} % (< 30)")
    pao2 = e.number("Partial pressure of oxygen (PaO₂) for Apache II", 80)
    t.add(10 if pao2 < 60 else 0, f"PaO2 {fmt(pao2)} mm Hg (< 60)")
    return t.result()


def glasgow_blatchford(e: Entities):
    """Glasgow-Blatchford score (Blatchford et al., Lancet 2000;356:1318), BUN in mg/dL (urea bands
    6.5/8/10/25 mmol/L = BUN 18.2/22.4/28/70 mg/dL)."""
    t = Tally("Glasgow-Blatchford score")
    bun = e.conc("Blood Urea Nitrogen (BUN)", "mg/dL", "bun", 0)
    t.add(_band_bun(bun), f"BUN {fmt(bun)} mg/dL")
    hb = e.conc("Hemoglobin", "g/dL", None, 15)
    if e.female():
        points = 6 if hb < 10 else 1 if hb < 12 else 0
    else:
        points = 6 if hb < 10 else 3 if hb < 12 else 1 if hb < 13 else 0
    t.add(points, f"Hemoglobin {fmt(hb)} g/dL")
    sbp = e.number("Systolic Blood Pressure", 120)
    t.add(3 if sbp < 90 else 2 if sbp < 100 else 1 if sbp < 110 else 0, f"Systolic BP {fmt(sbp)}")
    hr = e.number("Heart Rate or Pulse", 80)
    t.add(1 if hr >= 100 else 0, f"Heart rate {fmt(hr)} (≥ 100)")
    t.add(1 if e.flag("Melena present") else 0, "Melena")
    t.add(2 if e.flag("Recent syncope") else 0, "Syncope")
    t.add(2 if e.flag("Hepatic disease history") else 0, "Hepatic disease")
    t.add(2 if e.flag("Cardiac failure present") else 0, "Cardiac failure")
    return t.result()


def _band_bun(bun: float) -> int:
    if bun >= 70:
        return 6
    if bun >= 28:
        return 4
    if bun >= 22.4:
        return 3
    if bun >= 18.2:
        return 2
    return 0
