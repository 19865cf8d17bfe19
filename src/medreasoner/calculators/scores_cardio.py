"""Cardiovascular risk scores: CHA2DS2-VASc, HAS-BLED, RCRI, HEART, Framingham hard CHD."""

from __future__ import annotations

import math

from medreasoner.calculators.entities import Entities, Steps, fmt
from medreasoner.calculators.renal import creatinine_mg_dl


class Tally:
    """Adds points one criterion at a time and records each step."""

    def __init__(self, name: str):
        self.steps = Steps()
        self.total = 0
        self.name = name

    def add(self, points: float, why: str) -> None:
        """Add ``points`` (0 allowed) for the reason ``why``."""
        self.total += points
        self.steps.add(f"{why}: {'+' if points >= 0 else ''}{fmt(points)} (total {fmt(self.total)}).")

    def result(self):
        """Finish with the total."""
        self.steps.add(f"{self.name} = {fmt(self.total)}.")
        return self.steps.result(self.total)


def cha2ds2_vasc(e: Entities):
    """CHA2DS2-VASc (Lip et al., Chest 2010;137:263): CHF 1, hypertension 1, age ≥ 75 2 / 65–74 1,
    diabetes 1, stroke/TIA/thromboembolism 2, vascular disease 1, female 1."""
    t = Tally("CHA2DS2-VASc")
    age = e.age_years()
    t.add(2 if age >= 75 else 1 if age >= 65 else 0, f"Age {fmt(age)} y")
    t.add(1 if e.female() else 0, "Sex category (female)")
    t.add(1 if e.flag("Congestive Heart Faliure") else 0, "Congestive heart failure")
    t.add(1 if e.flag("Hypertension history") else 0, "Hypertension")
    stroke = e.flag("Stroke") or e.flag("Transient Ischemic Attacks History") or e.flag("Thromboembolism history")
    t.add(2 if stroke else 0, "Prior stroke, TIA or thromboembolism")
    t.add(1 if e.flag("Vascular disease history") else 0, "Vascular disease")
    t.add(1 if e.flag("Diabetes history") else 0, "Diabetes")
    return t.result()


def has_bled(e: Entities):
    """HAS-BLED (Pisters et al., Chest 2010;138:1093): hypertension, abnormal renal, abnormal liver,
    stroke, bleeding, labile INR, elderly (> 65), drugs, alcohol (≥ 8 drinks/week): 1 point each."""
    t = Tally("HAS-BLED")
    age = e.age_years()
    t.add(1 if age > 65 else 0, f"Age {fmt(age)} y (> 65)")
    t.add(1 if e.flag("Hypertension history") else 0, "Hypertension")
    t.add(1 if e.flag("Renal disease criteria for the HAS-BLED rule") else 0, "Renal disease")
    t.add(1 if e.flag("Liver disease criteria for the HAS-BLED rule") else 0, "Liver disease")
    t.add(1 if e.flag("Stroke") else 0, "Stroke history")
    t.add(1 if e.flag("Prior major bleeding or predisposition to bleeding") else 0, "Prior bleeding")
    t.add(1 if e.flag("Labile international normalized ratio") else 0, "Labile INR")
    t.add(1 if e.flag("Medication usage predisposing to bleeding") else 0, "Antiplatelet/NSAID use")
    drinks = e.number("Number of Alcoholic Drinks Per Week", 0)
    t.add(1 if drinks >= 8 else 0, f"Alcohol {fmt(drinks)} drinks/week (≥ 8)")
    return t.result()


def rcri(e: Entities):
    """Revised Cardiac Risk Index (Lee et al., Circulation 1999;100:1043): elevated-risk surgery,
    ischaemic heart disease, heart failure, cerebrovascular disease, insulin, creatinine > 2 mg/dL."""
    t = Tally("RCRI")
    t.add(1 if e.flag("Elevated-risk surgery") else 0, "Elevated-risk surgery")
    t.add(1 if e.flag("History of ischemic heart disease") else 0, "Ischemic heart disease")
    t.add(1 if e.flag("Congestive Heart Failure criteria for the Cardiac Risk Index rule") else 0, "Heart failure")
    cvd = e.flag("History of cerebrovascular disease") or e.flag("Cerebrovascular disease history")
    t.add(1 if cvd else 0, "Cerebrovascular disease")
    t.add(1 if e.flag("Pre-operative treatment with insulin") else 0, "Insulin treatment")
    cr = creatinine_mg_dl(e, "Pre-operative creatinine", 0.0)
    t.add(1 if cr > 2.0 else 0, f"Creatinine {fmt(cr)} mg/dL (> 2)")
    return t.result()


_HISTORY = {"slightly suspicious": 0, "moderately suspicious": 1, "highly suspicious": 2}
_ECG = {"normal": 0, "non-specific repolarization disturbance": 1, "significant st deviation": 2}
_TROPONIN = {"less than or equal to normal limit": 0,
             "between the normal limit or up to three times the normal limit": 1,
             "greater than three times normal limit": 2}
_HEART_RISK_FACTORS = ("Hypertension history", "hypercholesterolemia", "Diabetes mellitus criteria for CCI rule",
                       "obesity", "smoking", "parent or sibling with Cardiovascular disease before age 65")


def heart_score(e: Entities):
    """HEART score (Six et al., Neth Heart J 2008;16:191): History, ECG, Age (< 45 / 45–64 / ≥ 65),
    Risk factors (0 / 1–2 / ≥ 3 or known atherosclerotic disease incl. prior TIA/stroke), Troponin
    (≤ normal / 1–3× / > 3×), 0–2 points each."""
    t = Tally("HEART score")
    history, points = e.choice("Suspicion History", _HISTORY, "slightly suspicious")
    t.add(points, f"History '{history}'")
    ecg, points = e.choice("Electrocardiogram Test", _ECG, "normal")
    t.add(points, f"ECG '{ecg}'")
    age = e.age_years()
    t.add(2 if age >= 65 else 1 if age >= 45 else 0, f"Age {fmt(age)} y")
    n = sum(e.flag(k) for k in _HEART_RISK_FACTORS)
    athero = e.flag("atherosclerotic disease") or e.flag("Transient Ischemic Attacks History")
    t.add(2 if n >= 3 or athero else 1 if n >= 1 else 0,
          f"{n} risk factor(s){', known atherosclerotic disease' if athero else ''}")
    troponin, points = e.choice("Initial troponin", _TROPONIN, "less than or equal to normal limit")
    t.add(points, f"Troponin '{troponin}'")
    return t.result()


def framingham_linear_score(female: bool, age: float, tc: float, hdl: float, sbp: float,
                            treated: int, smoker: int) -> tuple[float, float]:
    """ATP III hard-CHD linear predictor L and the baseline survival S (risk = 1 − S^exp(L)).

    NCEP ATP III (Circulation 2002;106:3143), Appendix risk equations; ``tc`` and ``hdl`` are meant
    in mg/dL, ``sbp`` in mm Hg; the age in the smoking term is capped at 78 (women) / 70 (men).
    """
    la, ltc, lhdl, lsbp = math.log(age), math.log(tc), math.log(hdl), math.log(sbp)
    if female:
        las = math.log(min(age, 78.0))
        score = (31.764001 * la + 22.465206 * ltc - 1.187731 * lhdl + 2.552905 * lsbp + 0.420251 * treated
                 + 13.07543 * smoker - 5.060998 * la * ltc - 2.996945 * las * smoker - 146.5933061)
        return score, 0.98767
    las = math.log(min(age, 70.0))
    score = (52.00961 * la + 20.014077 * ltc - 0.905964 * lhdl + 1.305784 * lsbp + 0.241549 * treated
             + 12.096316 * smoker - 4.605038 * la * ltc - 2.84367 * las * smoker - 2.93323 * la * la
             - 172.300168)
    return score, 0.9402


def framingham_hard_chd(e: Entities):
    """10-year risk (%) of hard CHD (MI or coronary death), ATP III Framingham model (NCEP ATP III,
    Circulation 2002;106:3143, risk equations of its Appendix), TC and HDL in mg/dL.
    Men: 1 − 0.9402^exp(L − 172.300168 offsets); women: 1 − 0.98767^exp(L); age in the smoking term
    is capped at 70 (men) / 78 (women)."""
    s = Steps()
    female, age = e.female(), e.age_years()
    tc = e.conc("Total cholesterol", "mg/dL", "cholesterol")
    hdl = e.conc("high-density lipoprotein cholesterol", "mg/dL", "cholesterol")
    sbp = e.number("Systolic Blood Pressure")
    treated = 1 if e.flag("Blood pressure being treated with medicines") else 0
    smoker = 1 if e.flag("Smoker") else 0
    score, baseline = framingham_linear_score(female, age, tc, hdl, sbp, treated, smoker)
    risk = 1.0 - baseline ** math.exp(score)
    if female:
        s.add("Women: L = 31.764001 ln(age) + 22.465206 ln(TC) − 1.187731 ln(HDL) + 2.552905 ln(SBP) "
              "+ 0.420251 BPtx + 13.07543 smoker − 5.060998 ln(age) ln(TC) − 2.996945 ln(min(age,78)) smoker "
              "− 146.5933061; risk = 1 − 0.98767^exp(L).")
    else:
        s.add("Men: L = 52.00961 ln(age) + 20.014077 ln(TC) − 0.905964 ln(HDL) + 1.305784 ln(SBP) "
              "+ 0.241549 BPtx + 12.096316 smoker − 4.605038 ln(age) ln(TC) − 2.84367 ln(min(age,70)) smoker "
              "− 2.93323 ln(age)² − 172.300168; risk = 1 − 0.9402^exp(L).")
    s.add(f"Age {fmt(age)}, TC {fmt(tc)} mg/dL, HDL {fmt(hdl)} mg/dL, SBP {fmt(sbp)}, treated {treated}, smoker {smoker}.")
    value = 100.0 * risk
    s.add(f"L = {fmt(score)}; 10-year risk = {fmt(value)} %.")
    return s.result(value)
