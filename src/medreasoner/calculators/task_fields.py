"""What the synthetic task generator samples for each calculator, and how each entity is phrased.

Ranges are adult (or stated paediatric) physiological ranges wide enough to cross every score band.
``Q`` quantities may be rendered in an alternative unit (e.g. creatinine in µmol/L) so generated
tasks exercise the unit conversions, as real notes do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Q:
    """A ``[value, unit]`` quantity drawn uniformly from [lo, hi], rounded to ``digits``;
    with probability 0.3 expressed in ``alt`` = (unit, factor from ``unit``, digits)."""

    key: str
    lo: float
    hi: float
    unit: str
    digits: int = 1
    alt: tuple[str, float, int] | None = None


@dataclass(frozen=True)
class P:
    """A plain number (INR, GCS, pH, cycle length) from [lo, hi] rounded to ``digits`` (0 -> int)."""

    key: str
    lo: float
    hi: float
    digits: int = 1


@dataclass(frozen=True)
class F:
    """A yes/no finding, present with probability ``p``."""

    key: str
    p: float = 0.3


@dataclass(frozen=True)
class C:
    """A categorical finding drawn from ``options``."""

    key: str
    options: tuple[str, ...]


SEX = C("sex", ("Male", "Female"))
AGE = Q("age", 18, 90, "years", 0)
CREATININE = Q("creatinine", 0.5, 4.0, "mg/dL", 2, ("µmol/L", 88.4, 0))
SODIUM = Q("Sodium", 120, 160, "mEq/L", 0, ("mmol/L", 1.0, 0))
CHLORIDE = Q("Chloride", 85, 120, "mEq/L", 0, ("mmol/L", 1.0, 0))
BICARB = Q("Bicarbonate", 8, 32, "mEq/L", 0, ("mmol/L", 1.0, 0))
ALBUMIN = Q("Albumin", 1.8, 4.8, "g/dL", 1, ("g/L", 10.0, 0))
GLUCOSE = Q("Glucose", 70, 600, "mg/dL", 0, ("mmol/L", 1 / 18.016, 1))
BUN = Q("Blood Urea Nitrogen (BUN)", 6, 90, "mg/dL", 0, ("mmol/L", 0.357, 1))
HR = Q("Heart Rate or Pulse", 45, 150, "beats per minute", 0)
SBP = Q("Systolic Blood Pressure", 80, 190, "mm Hg", 0)
DBP = Q("Diastolic Blood Pressure", 40, 110, "mm Hg", 0)
RR = Q("respiratory rate", 10, 40, "breaths per minute", 0)
TEMP = Q("Temperature", 35.0, 40.5, "degrees celsius", 1, ("degrees fahrenheit", 1.8, 1))
WEIGHT = Q("weight", 45, 130, "kg", 1, ("lbs", 2.20462, 1))
HEIGHT = Q("height", 150, 195, "cm", 0, ("in", 1 / 2.54, 1))
QT = Q("QT interval", 300, 480, "msec", 0)
BILI = Q("Bilirubin", 0.3, 8.0, "mg/dL", 1, ("µmol/L", 17.1, 0))
INR = P("international normalized ratio", 0.9, 3.0, 1)
PAO2 = Q("Partial pressure of oxygen (PaO₂) for Apache II", 50, 110, "mm Hg", 0)
FIO2 = Q("FiO₂", 21, 80, "%", 0)
GCS = P("Glasgow Coma Score", 6, 15, 0)
PLATELETS = Q("Platelet count", 15000, 400000, "µL", -3)
WBC = Q("White blood cell count", 1500, 30000, "µL", -2)
LMP = "Last menstrual date"

SAMPLERS: dict[int, tuple] = {
    2: (SEX, AGE, WEIGHT, HEIGHT, CREATININE),
    3: (SEX, AGE, CREATININE),
    4: (SEX, AGE, F("Congestive Heart Faliure"), F("Hypertension history", 0.5), F("Stroke", 0.2),
        F("Transient Ischemic Attacks History", 0.1), F("Thromboembolism history", 0.1),
        F("Vascular disease history", 0.3), F("Diabetes history", 0.3)),
    5: (SBP, DBP),
    6: (WEIGHT, HEIGHT),
    7: (Q("Calcium", 6.5, 11.5, "mg/dL", 1, ("mmol/L", 1 / 4.008, 2)), ALBUMIN),
    8: (HR, F("Clinical signs and symptoms of Deep Vein Thrombosis"), F("Pulmonary Embolism is #1 diagnosis OR equally likely"),
        F("Immobilization for at least 3 days"), F("Surgery in the previous 4 weeks"),
        F("Previously Documented Pulmonary Embolism", 0.2), F("Previously documented Deep Vein Thrombosis", 0.2),
        F("Hemoptysis", 0.2), F("Malignancy with treatment within 6 months or palliative", 0.2)),
    9: (SEX, AGE, CREATININE, C("Race", ("White", "Black", "Asian"))),
    10: (SEX, HEIGHT),
    11: (HR, QT),
    13: (P("cycle length", 21, 35, 0), LMP),
    15: (BILI, Q("Albumin", 1.8, 4.8, "g/dL", 1), INR, C("Ascites", ("absent", "slight", "moderate")),
         C("Encephalopathy", ("No Encephalopathy", "Grade 1-2", "Grade 3-4"))),
    16: (F("Active cancer"), F("Bedridden recently >3 days or major surgery within 12 weeks"),
         F("Calf swelling >3 centimeters compared to the other leg"), F("Collateral (nonvaricose) superficial veins present"),
         F("Entire Leg Swollen"), F("Localized tenderness along the deep venous system"),
         F("Pitting edema, confined to symptomatic leg"),
         F("Paralysis, paresis, or recent plaster immobilization of the lower extremity", 0.15),
         F("Previously documented Deep Vein Thrombosis", 0.2),
         F("Alternative diagnosis to Deep Vein Thrombosis as likely or more likely", 0.4)),
    17: (F("Elevated-risk surgery", 0.4), F("History of ischemic heart disease"),
         F("Congestive Heart Failure criteria for the Cardiac Risk Index rule"), F("History of cerebrovascular disease", 0.2),
         F("Pre-operative treatment with insulin", 0.2), Q("Pre-operative creatinine", 0.6, 3.5, "mg/dL", 1)),
    18: (AGE, C("Suspicion History", ("Slightly suspicious", "Moderately suspicious", "Highly suspicious")),
         C("Electrocardiogram Test", ("Normal", "Non-specific repolarization disturbance", "Significant ST deviation")),
         F("Hypertension history", 0.4), F("hypercholesterolemia", 0.3), F("Diabetes mellitus criteria for CCI rule", 0.3),
         F("obesity", 0.3), F("smoking", 0.3), F("parent or sibling with Cardiovascular disease before age 65", 0.2),
         F("atherosclerotic disease", 0.2),
         C("Initial troponin", ("less than or equal to normal limit",
                                "between the normal limit or up to three times the normal limit",
                                "greater than three times normal limit"))),
    19: (AGE, Q("Aspartate aminotransferase", 12, 300, "U/L", 0), Q("Alanine aminotransferase", 8, 300, "U/L", 0),
         Q("Platelet count", 40000, 400000, "µL", -3)),
    20: (Q("age", 3, 70, "years", 0), TEMP, F("Cough Absent", 0.5), F("Tender/swollen anterior cervical lymph nodes", 0.5),
         F("Exudate or swelling on tonsils", 0.5)),
    21: (C("Best eye response", ("eyes open spontaneously", "eye opening to verbal command", "eye opening to pain",
                                 "no eye opening")),
         C("Best verbal response", ("oriented", "confused", "inappropriate words", "incomprehensible sounds",
                                    "no verbal response")),
         C("Best motor response", ("obeys commands", "localizes pain", "withdrawal from pain", "flexion to pain",
                                   "extension to pain", "no motor response"))),
    22: (Q("weight", 3, 90, "kg", 1, ("lbs", 2.20462, 1)),),
    23: (Q("creatinine", 0.6, 5.0, "mg/dL", 2), Q("Bilirubin", 0.4, 15.0, "mg/dL", 1), P("international normalized ratio", 0.9, 3.5, 2),
         Q("Sodium", 120, 145, "mEq/L", 0), F("Dialysis at least twice in the past week", 0.15),
         F("Continuous veno-venous hemodialysis for ≥24 hours in the past week", 0.1)),
    25: (AGE, F("Hypertension history", 0.4), F("Renal disease criteria for the HAS-BLED rule", 0.2),
         F("Liver disease criteria for the HAS-BLED rule", 0.2), F("Stroke", 0.2),
         F("Prior major bleeding or predisposition to bleeding", 0.2), F("Labile international normalized ratio", 0.2),
         F("Medication usage predisposing to bleeding", 0.3), P("Number of Alcoholic Drinks Per Week", 0, 14, 0)),
    26: (SODIUM, GLUCOSE),
    27: (SEX, BUN, Q("Hemoglobin", 6.0, 16.0, "g/dL", 1), SBP, HR, F("Melena present", 0.4), F("Recent syncope", 0.2),
         F("Hepatic disease history", 0.2), F("Cardiac failure present", 0.2)),
    28: (AGE, TEMP, SBP, DBP, HR, RR, FIO2, PAO2, P("A-a gradient", 100, 550, 0), P("pH", 7.1, 7.6, 2), SODIUM,
         Q("Potassium", 2.8, 6.8, "mEq/L", 1), Q("creatinine", 0.5, 4.0, "mg/dL", 1), F("Acute renal failure", 0.2),
         Q("Hematocrit", 22, 55, "%", 0), WBC, GCS, F("History of severe organ failure or immunocompromise", 0.2),
         C("Surgery Type", ("Nonoperative", "Elective", "Emergency"))),
    29: (SEX, AGE, F("Nursing home resident", 0.2), F("Neoplastic disease", 0.2), F("Liver disease severity", 0.2),
         F("Congestive Heart Faliure", 0.2), F("Cerebrovascular disease history", 0.2), F("Renal disease", 0.2),
         F("Altered mental status", 0.2), RR, SBP, TEMP, HR, P("pH", 7.2, 7.5, 2), BUN, SODIUM, GLUCOSE,
         Q("Hematocrit", 22, 50, "%", 0), PAO2, F("Pleural effusion on x-ray", 0.2)),
    30: (SODIUM, BUN, GLUCOSE),
    31: (Q("Insulin", 2, 40, "µIU/mL", 1), Q("Glucose", 70, 250, "mg/dL", 0)),
    32: (AGE, F("Myocardial infarction", 0.2), F("Congestive Heart Faliure", 0.2), F("Peripheral vascular disease", 0.2),
         F("Cerebrovascular Accident", 0.2), F("Transient Ischemic Attacks History", 0.1), F("Dementia", 0.1),
         F("Chronic Obstructive Pulmonary Disease", 0.2), F("Connective tissue disease", 0.1), F("Peptic ulcer disease", 0.1),
         C("Liver disease severity", ("none", "Mild", "Moderate to Severe")),
         C("Diabetes mellitus criteria for CCI rule", ("None or diet-controlled", "Uncomplicated", "End-organ damage")),
         F("Hemiplegia", 0.1), F("Moderate to severe Chronic Kidney Disease", 0.2),
         C("Solid tumor", ("none", "Localized", "Metastatic")), F("Leukemia", 0.05), F("Lymphoma", 0.05), F("AIDS", 0.05)),
    33: (F("Fever in past 24 hours", 0.5), F("Purulent tonsils", 0.4), F("Symptom onset ≤3 days", 0.5),
         F("Severe tonsil inflammation", 0.4), F("Absence of cough or coryza", 0.5)),
    36: (SEX, AGE, C("Surgery Type", ("none", "minor", "major", "laparoscopic", "elective major lower extremity arthroplasty")),
         F("Major Surgery in the last month", 0.2), F("Congestive Heart Failure in the last month", 0.1),
         F("Sepsis in the last month", 0.1), F("Pneumonia in the last month", 0.1),
         F("Immobilizing plaster cast in the last month", 0.1), F("Hip, pelvis, or leg fracture in the last month", 0.1),
         F("Stroke in the last month", 0.05), F("Multiple trauma in the last month", 0.05),
         F("Acute spinal cord injury causing paralysis in the last month", 0.05), F("Varicose veins", 0.2),
         F("Current swollen legs", 0.2), F("Current central venous access", 0.1),
         F("Previously documented Deep Vein Thrombosis", 0.1), F("Previously Documented Pulmonary Embolism", 0.1),
         F("Family history of thrombosis", 0.1), F("Positive Factor V Leiden", 0.05), F("Positive prothrombin 20210A", 0.05),
         F("Elevated serum homocysteine", 0.05), F("Positive lupus anticoagulant", 0.05),
         F("Elevated anticardiolipin antibody", 0.05), F("Heparin-induced thrombocytopenia", 0.05),
         F("Other congenital or acquired thrombophilia", 0.05),
         C("Mobility", ("normal", "on bed rest", "confined to bed >72 hours")),
         F("History of inflammatory bowel disease", 0.1), Q("Body Mass Index (BMI)", 18, 40, "kg/m^2", 1),
         F("Acute Myocardial infarction", 0.05), F("Chronic Obstructive Pulmonary Disease", 0.1),
         F("Present or previous malignancy", 0.15)),
    38: (SEX, Q("age", 2, 90, "years", 0), WEIGHT, Q("Sodium", 140, 170, "mEq/L", 0, ("mmol/L", 1.0, 0))),
    39: (SODIUM, CHLORIDE, BICARB),
    40: (SODIUM, CREATININE, Q("Urine sodium", 5, 150, "mEq/L", 0, ("mmol/L", 1.0, 0)),
         Q("Urine creatinine", 20, 250, "mg/dL", 0)),
    43: (PAO2, FIO2, F("On mechanical ventilation", 0.4), F("Continous positive airway pressure", 0.1), PLATELETS, GCS,
         BILI, SBP, DBP, Q("DOPamine", 0, 18, "mcg/kg/min", 1), Q("DOBUTamine", 0, 10, "mcg/kg/min", 1),
         Q("EPINEPHrine", 0, 0.3, "mcg/kg/min", 2), Q("norEPINEPHrine", 0, 0.3, "mcg/kg/min", 2), CREATININE,
         Q("Urine Output", 100, 2500, "mL/day", 0)),
    44: (Q("Total cholesterol", 120, 320, "mg/dL", 0, ("mmol/L", 1 / 38.67, 2)),
         Q("high-density lipoprotein cholesterol", 25, 90, "mg/dL", 0, ("mmol/L", 1 / 38.67, 2)),
         Q("Triglycerides", 50, 390, "mg/dL", 0, ("mmol/L", 1 / 88.57, 2))),
    45: (AGE, F("Confusion", 0.3), BUN, RR, SBP, DBP),
    46: (SEX, Q("age", 30, 79, "years", 0), Q("Systolic Blood Pressure", 100, 190, "mm Hg", 0), F("Smoker", 0.3),
         Q("Total cholesterol", 130, 320, "mg/dL", 0), Q("high-density lipoprotein cholesterol", 25, 90, "mg/dL", 0),
         F("Blood pressure being treated with medicines", 0.4)),
    48: (AGE, HR, Q("O₂ saturation percentage", 85, 100, "%", 0), F("Unilateral Leg Swelling", 0.2), F("Hemoptysis", 0.1),
         F("Recent surgery or trauma", 0.2), F("Previously Documented Pulmonary Embolism", 0.1),
         F("Previously documented Deep Vein Thrombosis", 0.1), F("Hormone use", 0.2)),
    51: (TEMP, HR, RR, WBC, Q("PaCO₂", 25, 45, "mm Hg", 0)),
    56: (HR, QT), 57: (HR, QT), 58: (HR, QT), 59: (HR, QT),
    60: (WEIGHT, HEIGHT),
    61: (Q("Body Mass Index (BMI)", 18.5, 30, "kg/m^2", 1), HEIGHT),
    62: (SEX, WEIGHT, HEIGHT),
    63: (SODIUM, CHLORIDE, BICARB), 64: (SODIUM, CHLORIDE, BICARB),
    65: (SODIUM, CHLORIDE, BICARB, ALBUMIN), 66: (SODIUM, CHLORIDE, BICARB, ALBUMIN),
    67: (SODIUM, CHLORIDE, BICARB, ALBUMIN),
    68: (P("cycle length", 21, 35, 0), LMP),
    69: (LMP, "Current Date"),
}
# 24 (steroid conversion) and 49 (MME) have structured entities; tasks.py samples them directly.
