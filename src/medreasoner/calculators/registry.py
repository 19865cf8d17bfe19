"""The 55 MedCalc-Bench v1.0 calculators: a literal registry keyed by the benchmark's Calculator ID.

Each spec names the calculator as the benchmark does, its category and output type as the benchmark
labels them (ID 69 is labelled ``integer`` although its answer is a (weeks, days) tuple), the
answer's Python type, and ``compute(entities_dict) -> Result`` (typed answer + explanation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from medreasoner.calculators import (body, cardiac_qtc, dosage, electrolytes, lipids_glucose, liver,
                                     obstetrics_dates, renal, scores_cardio, scores_comorbidity,
                                     scores_critical, scores_infection, scores_thrombo)
from medreasoner.calculators.entities import Entities, Result


@dataclass(frozen=True)
class CalculatorSpec:
    """One calculator: benchmark name, category, benchmark output type, answer kind, and the function."""

    name: str
    category: str
    output_type: str  # "decimal" | "integer" | "date", as the benchmark's Output Type column says
    answer_kind: str  # "float" | "int" | "date" | "weeks_days"
    function: Callable[[Entities], Result]

    def compute(self, entities: dict) -> Result:
        """Typed answer and step-by-step explanation for a ``Relevant Entities`` dict."""
        return self.function(Entities(entities))

    def explain(self, entities: dict) -> str:
        """The step-by-step explanation only."""
        return self.compute(entities).explanation


def _spec(name, category, output_type, kind, fn) -> CalculatorSpec:
    return CalculatorSpec(name, category, output_type, kind, fn)


CALCULATORS: dict[int, CalculatorSpec] = {
    2: _spec("Creatinine Clearance (Cockcroft-Gault Equation)", "lab", "decimal", "float", renal.cockcroft_gault),
    3: _spec("CKD-EPI Equations for Glomerular Filtration Rate", "lab", "decimal", "float", renal.ckd_epi_2021),
    4: _spec("CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk", "risk", "integer", "int", scores_cardio.cha2ds2_vasc),
    5: _spec("Mean Arterial Pressure (MAP)", "physical", "decimal", "float", body.mean_arterial_pressure),
    6: _spec("Body Mass Index (BMI)", "physical", "decimal", "float", body.bmi),
    7: _spec("Calcium Correction for Hypoalbuminemia", "lab", "decimal", "float", electrolytes.calcium_correction),
    8: _spec("Wells' Criteria for Pulmonary Embolism", "risk", "decimal", "float", scores_thrombo.wells_pe),
    9: _spec("MDRD GFR Equation", "lab", "decimal", "float", renal.mdrd),
    10: _spec("Ideal Body Weight", "physical", "decimal", "float", body.ideal_body_weight),
    11: _spec("QTc Bazett Calculator", "physical", "decimal", "float", cardiac_qtc.bazett),
    13: _spec("Estimated Due Date", "date", "date", "date", obstetrics_dates.due_date),
    15: _spec("Child-Pugh Score for Cirrhosis Mortality", "severity", "integer", "int", liver.child_pugh),
    16: _spec("Wells' Criteria for DVT", "risk", "integer", "int", scores_thrombo.wells_dvt),
    17: _spec("Revised Cardiac Risk Index for Pre-Operative Risk", "risk", "integer", "int", scores_cardio.rcri),
    18: _spec("HEART Score for Major Cardiac Events", "risk", "integer", "int", scores_cardio.heart_score),
    19: _spec("Fibrosis-4 (FIB-4) Index for Liver Fibrosis", "lab", "decimal", "float", liver.fib4),
    20: _spec("Centor Score (Modified/McIsaac) for Strep Pharyngitis", "severity", "integer", "int",
              scores_infection.centor_mcisaac),
    21: _spec("Glasgow Coma Score (GCS)", "severity", "integer", "int", scores_critical.glasgow_coma_scale),
    22: _spec("Maintenance Fluids Calculations", "physical", "decimal", "float", body.maintenance_fluids),
    23: _spec("MELD Na (UNOS/OPTN)", "lab", "decimal", "float", liver.meld_na),
    24: _spec("Steroid Conversion Calculator", "dosage", "decimal", "float", dosage.steroid_conversion),
    25: _spec("HAS-BLED Score for Major Bleeding Risk", "risk", "integer", "int", scores_cardio.has_bled),
    26: _spec("Sodium Correction for Hyperglycemia", "lab", "decimal", "float", electrolytes.sodium_correction),
    27: _spec("Glasgow-Blatchford Bleeding Score (GBS)", "risk", "integer", "int", scores_infection.glasgow_blatchford),
    28: _spec("APACHE II Score", "risk", "integer", "int", scores_critical.apache_ii),
    29: _spec("PSI Score: Pneumonia Severity Index for CAP", "severity", "integer", "int", scores_infection.psi),
    30: _spec("Serum Osmolality", "lab", "decimal", "float", electrolytes.serum_osmolality),
    31: _spec("HOMA-IR (Homeostatic Model Assessment for Insulin Resistance)", "lab", "decimal", "float",
              lipids_glucose.homa_ir),
    32: _spec("Charlson Comorbidity Index (CCI)", "risk", "integer", "int", scores_comorbidity.charlson),
    33: _spec("FeverPAIN Score for Strep Pharyngitis", "diagnosis", "integer", "int", scores_infection.feverpain),
    36: _spec("Caprini Score for Venous Thromboembolism (2005)", "risk", "integer", "int", scores_thrombo.caprini),
    38: _spec("Free Water Deficit", "lab", "decimal", "float", renal.free_water_deficit),
    39: _spec("Anion Gap", "lab", "decimal", "float", electrolytes.anion_gap),
    40: _spec("Fractional Excretion of Sodium (FENa)", "lab", "decimal", "float", renal.fena),
    43: _spec("Sequential Organ Failure Assessment (SOFA) Score", "risk", "integer", "int", scores_critical.sofa),
    44: _spec("LDL Calculated", "lab", "decimal", "float", lipids_glucose.ldl_friedewald),
    45: _spec("CURB-65 Score for Pneumonia Severity", "risk", "integer", "int", scores_infection.curb65),
    46: _spec("Framingham Risk Score for Hard Coronary Heart Disease", "lab", "decimal", "float",
              scores_cardio.framingham_hard_chd),
    48: _spec("PERC Rule for Pulmonary Embolism", "diagnosis", "integer", "int", scores_thrombo.perc),
    49: _spec("Morphine Milligram Equivalents (MME) Calculator", "dosage", "decimal", "float",
              dosage.morphine_milligram_equivalents),
    51: _spec("SIRS Criteria", "diagnosis", "integer", "int", scores_critical.sirs),
    56: _spec("QTc Fridericia Calculator", "physical", "decimal", "float", cardiac_qtc.fridericia),
    57: _spec("QTc Framingham Calculator", "physical", "decimal", "float", cardiac_qtc.framingham),
    58: _spec("QTc Hodges Calculator", "physical", "decimal", "float", cardiac_qtc.hodges),
    59: _spec("QTc Rautaharju Calculator", "physical", "decimal", "float", cardiac_qtc.rautaharju),
    60: _spec("Body Surface Area Calculator", "physical", "decimal", "float", body.body_surface_area),
    61: _spec("Target weight", "physical", "decimal", "float", body.target_weight),
    62: _spec("Adjusted Body Weight", "physical", "decimal", "float", body.adjusted_body_weight),
    63: _spec("Delta Gap", "lab", "decimal", "float", electrolytes.delta_gap),
    64: _spec("Delta Ratio", "lab", "decimal", "float", electrolytes.delta_ratio),
    65: _spec("Albumin Corrected Anion Gap", "lab", "decimal", "float", electrolytes.albumin_corrected_anion_gap),
    66: _spec("Albumin Corrected Delta Gap", "lab", "decimal", "float", electrolytes.albumin_corrected_delta_gap),
    67: _spec("Albumin Corrected Delta Ratio", "lab", "decimal", "float", electrolytes.albumin_corrected_delta_ratio),
    68: _spec("Estimated of Conception", "date", "date", "date", obstetrics_dates.conception_date),
    69: _spec("Estimated Gestational Age", "date", "integer", "weeks_days", obstetrics_dates.gestational_age),
}
