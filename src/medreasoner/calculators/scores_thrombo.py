"""Venous thromboembolism scores: Wells (PE, DVT), PERC, Caprini."""

from __future__ import annotations

from medreasoner.calculators.entities import Entities, fmt
from medreasoner.calculators.scores_cardio import Tally


def wells_pe(e: Entities):
    """Wells' criteria for PE (Wells et al., Thromb Haemost 2000;83:416): DVT signs 3, PE most likely 3,
    HR > 100 1.5, immobilisation ≥ 3 d or surgery in 4 weeks 1.5, previous PE/DVT 1.5, haemoptysis 1,
    malignancy 1."""
    t = Tally("Wells' PE score")
    t.add(3 if e.flag("Clinical signs and symptoms of Deep Vein Thrombosis") else 0, "Clinical signs of DVT")
    t.add(3 if e.flag("Pulmonary Embolism is #1 diagnosis OR equally likely") else 0, "PE #1 diagnosis or equally likely")
    hr = e.number("Heart Rate or Pulse", 0)
    t.add(1.5 if hr > 100 else 0, f"Heart rate {fmt(hr)} (> 100)")
    immob = e.flag("Immobilization for at least 3 days") or e.flag("Surgery in the previous 4 weeks")
    t.add(1.5 if immob else 0, "Immobilisation ≥ 3 days or surgery in previous 4 weeks")
    prior = e.flag("Previously Documented Pulmonary Embolism") or e.flag("Previously documented Deep Vein Thrombosis")
    t.add(1.5 if prior else 0, "Previous PE or DVT")
    t.add(1 if e.flag("Hemoptysis") else 0, "Hemoptysis")
    t.add(1 if e.flag("Malignancy with treatment within 6 months or palliative") else 0, "Malignancy")
    return t.result()


_DVT_ITEMS = ("Active cancer", "Calf swelling >3 centimeters compared to the other leg",
              "Collateral (nonvaricose) superficial veins present", "Entire Leg Swollen",
              "Localized tenderness along the deep venous system", "Pitting edema, confined to symptomatic leg",
              "Paralysis, paresis, or recent plaster immobilization of the lower extremity",
              "Previously documented Deep Vein Thrombosis")


def wells_dvt(e: Entities):
    """Wells' criteria for DVT (Wells et al., NEJM 2003;349:1227): 1 point per item, bedridden > 3 d or
    major surgery within 12 weeks 1, alternative diagnosis as likely −2."""
    t = Tally("Wells' DVT score")
    for item in _DVT_ITEMS:
        t.add(1 if e.flag(item) else 0, item)
    bedridden = e.flag("Bedridden recently >3 days or major surgery within 12 weeks") or e.flag(
        "Major surgery within 12 weeks")
    t.add(1 if bedridden else 0, "Bedridden > 3 days or major surgery within 12 weeks")
    t.add(-2 if e.flag("Alternative diagnosis to Deep Vein Thrombosis as likely or more likely") else 0,
          "Alternative diagnosis as likely or more likely")
    return t.result()


def perc(e: Entities):
    """PERC rule (Kline et al., J Thromb Haemost 2004;2:1247): number of criteria met among age ≥ 50,
    HR ≥ 100, SaO2 < 95 %, unilateral leg swelling, haemoptysis, recent surgery/trauma, prior PE/DVT,
    hormone use."""
    t = Tally("PERC criteria met")
    age = e.age_years()
    t.add(1 if age >= 50 else 0, f"Age {fmt(age)} (≥ 50)")
    hr = e.number("Heart Rate or Pulse", 0)
    t.add(1 if hr >= 100 else 0, f"Heart rate {fmt(hr)} (≥ 100)")
    sat = e.number("O₂ saturation percentage", 100)
    t.add(1 if sat < 95 else 0, f"O2 saturation {fmt(sat)} % (< 95)")
    t.add(1 if e.flag("Unilateral Leg Swelling") else 0, "Unilateral leg swelling")
    t.add(1 if e.flag("Hemoptysis") else 0, "Hemoptysis")
    t.add(1 if e.flag("Recent surgery or trauma") else 0, "Recent surgery or trauma")
    prior = e.flag("Previously Documented Pulmonary Embolism") or e.flag("Previously documented Deep Vein Thrombosis")
    t.add(1 if prior else 0, "Prior PE or DVT")
    t.add(1 if e.flag("Hormone use") else 0, "Hormone use")
    return t.result()


# Caprini 2005 (Caprini, Dis Mon 2005;51:70) point values for yes/no items.
_CAPRINI_FLAGS = {
    "Major Surgery in the last month": 1,
    "Congestive Heart Failure in the last month": 1,
    "Sepsis in the last month": 1,
    "Pneumonia in the last month": 1,
    "Immobilizing plaster cast in the last month": 2,
    "Hip, pelvis, or leg fracture in the last month": 5,
    "Stroke in the last month": 5,
    "Multiple trauma in the last month": 5,
    "Acute spinal cord injury causing paralysis in the last month": 5,
    "Varicose veins": 1,
    "Current swollen legs": 1,
    "Current central venous access": 2,
    "Previously documented Deep Vein Thrombosis": 3,
    "Previously Documented Pulmonary Embolism": 3,
    "Family history of thrombosis": 3,
    "Positive Factor V Leiden": 3,
    "Positive prothrombin 20210A": 3,
    "Elevated serum homocysteine": 3,
    "Positive lupus anticoagulant": 3,
    "Elevated anticardiolipin antibody": 3,
    "Heparin-induced thrombocytopenia": 3,
    "Other congenital or acquired thrombophilia": 3,
    "History of inflammatory bowel disease": 1,
    "Acute Myocardial infarction": 1,
    "Chronic Obstructive Pulmonary Disease": 1,
    "Present or previous malignancy": 2,
}
_CAPRINI_SURGERY = {"none": 0, "minor": 1, "major": 2, "laparoscopic": 2, "arthroscopic": 2,
                    "elective major lower extremity arthroplasty": 5}
_CAPRINI_MOBILITY = {"normal": 0, "on bed rest": 1, "confined to bed >72 hours": 2}


def caprini(e: Entities):
    """Caprini VTE risk score (2005 version): age 41–60 1 / 61–74 2 / ≥ 75 3, surgery type, recent
    events, thrombophilia, mobility, BMI > 25 1, and the item weights of ``_CAPRINI_FLAGS``."""
    t = Tally("Caprini score")
    age = e.age_years()
    t.add(3 if age >= 75 else 2 if age >= 61 else 1 if age >= 41 else 0, f"Age {fmt(age)} y")
    surgery, points = e.choice("Surgery Type", _CAPRINI_SURGERY, "none")
    t.add(points, f"Surgery type '{surgery}'")
    for key, points in _CAPRINI_FLAGS.items():
        t.add(points if e.flag(key) else 0, key)
    mobility, points = e.choice("Mobility", _CAPRINI_MOBILITY, "normal")
    t.add(points, f"Mobility '{mobility}'")
    bmi = e.number("Body Mass Index (BMI)", 0)
    t.add(1 if bmi > 25 else 0, f"BMI {fmt(bmi)} (> 25)")
    return t.result()
