"""The ``medcalc-v1.0`` label convention: overrides that reproduce how MedCalc-Bench v1.0 computed its
ground-truth labels where that departs from the published definitions (docs/medcalc_errata.md).

``medcalc-v1.0`` follows the benchmark's v1.0 calculator code (16 / 16 one-shot exemplars; 1027 / 1047 test
rows). ``medcalc-v1.0-testfile`` is ``medcalc-v1.0`` plus the one quirk found only in the test file's labels,
the GCS verbal response counted twice (rows 848–867), and reproduces all 1047 test labels.

Use it only to compare with or score against the v1.0 labels; the project's default convention is
``published``, and synthetic training tasks are always labelled with ``published`` (never with label bugs).
"""

from __future__ import annotations

from medreasoner.calculators.conventions import v1_critical, v1_lab, v1_scores

MEDCALC_V1_OVERRIDES = {
    3: v1_lab.ckd_epi_male_kappa_07,
    7: v1_lab.calcium_step_rounded,
    13: v1_scores.due_date_adds_short_cycle,
    15: v1_scores.child_pugh_without_ascites,
    17: v1_scores.rcri_second_cerebrovascular_key,
    21: v1_scores.gcs_v1,
    23: v1_lab.meld_na_integer_meld_i,
    27: v1_scores.blatchford_inclusive_hb_edges,
    28: v1_critical.apache_ii_v1,
    29: v1_scores.psi_misspelt_celsius_as_fahrenheit,
    32: v1_scores.charlson_graded_items_as_one,
    36: v1_critical.caprini_without_risk_factors,
    43: v1_critical.sofa_v1,
    44: v1_lab.ldl_step_rounded,
    46: v1_lab.framingham_mmol_in_mg_equation,
    51: v1_scores.sirs_wbc_unit_and_heart_rate,
}

# medcalc-v1.0 composed with the test file's own quirk: every v1.0 override is reused as is; only GCS changes.
MEDCALC_V1_TESTFILE_OVERRIDES = {**MEDCALC_V1_OVERRIDES, 21: v1_scores.gcs_testfile_verbal_twice}
