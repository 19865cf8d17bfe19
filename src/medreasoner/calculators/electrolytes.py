"""Electrolyte and acid-base calculators: anion gap family, corrected calcium and sodium, osmolality."""

from __future__ import annotations

from medreasoner.calculators.entities import Entities, Steps, fmt

NORMAL_ANION_GAP = 12.0  # mEq/L, the reference gap the delta gap subtracts
NORMAL_BICARBONATE = 24.0  # mEq/L
NORMAL_ALBUMIN = 4.0  # g/dL


def _anion_gap(e: Entities, s: Steps) -> tuple[float, float]:
    """Anion gap = Na − (Cl + HCO3) in mEq/L (Emmett & Narins, Medicine 1977;56:38); returns (gap, HCO3)."""
    na = e.conc("Sodium", "mEq/L", "sodium")
    cl = e.conc("Chloride", "mEq/L", "chloride")
    hco3 = e.conc("Bicarbonate", "mEq/L", "bicarbonate")
    gap = na - (cl + hco3)
    s.add(f"Anion gap = Na − (Cl + HCO3) = {fmt(na)} − ({fmt(cl)} + {fmt(hco3)}) = {fmt(gap)} mEq/L.")
    return gap, hco3


def _albumin_correction(e: Entities, s: Steps, gap: float) -> float:
    """Albumin-corrected anion gap = AG + 2.5 × (4 − albumin g/dL) (Figge et al., Crit Care Med 1998;26:1807)."""
    alb = e.conc("Albumin", "g/dL")
    corrected = gap + 2.5 * (NORMAL_ALBUMIN - alb)
    s.add(f"Albumin-corrected AG = AG + 2.5 × (4 − albumin) = {fmt(gap)} + 2.5 × (4 − {fmt(alb)}) = {fmt(corrected)} mEq/L.")
    return corrected


def anion_gap(e: Entities):
    """Serum anion gap (mEq/L) = Na − (Cl + HCO3) (Emmett & Narins, Medicine 1977;56:38)."""
    s = Steps()
    gap, _ = _anion_gap(e, s)
    return s.result(gap)


def delta_gap(e: Entities):
    """Delta gap (mEq/L) = anion gap − 12 (Wrenn, Ann Emerg Med 1990;19:1310)."""
    s = Steps()
    gap, _ = _anion_gap(e, s)
    value = gap - NORMAL_ANION_GAP
    s.add(f"Delta gap = AG − 12 = {fmt(value)} mEq/L.")
    return s.result(value)


def delta_ratio(e: Entities):
    """Delta ratio = (AG − 12) / (24 − HCO3) (Wrenn, Ann Emerg Med 1990;19:1310)."""
    s = Steps()
    gap, hco3 = _anion_gap(e, s)
    value = (gap - NORMAL_ANION_GAP) / (NORMAL_BICARBONATE - hco3)
    s.add(f"Delta ratio = (AG − 12) / (24 − HCO3) = {fmt(gap - 12)} / {fmt(24 - hco3)} = {fmt(value)}.")
    return s.result(value)


def albumin_corrected_anion_gap(e: Entities):
    """Albumin-corrected anion gap (mEq/L) = AG + 2.5 × (4 − albumin g/dL) (Figge et al., Crit Care Med 1998;26:1807)."""
    s = Steps()
    gap, _ = _anion_gap(e, s)
    return s.result(_albumin_correction(e, s, gap))


def albumin_corrected_delta_gap(e: Entities):
    """Albumin-corrected delta gap (mEq/L) = corrected AG − 12 (Figge 1998; Wrenn 1990)."""
    s = Steps()
    gap, _ = _anion_gap(e, s)
    value = _albumin_correction(e, s, gap) - NORMAL_ANION_GAP
    s.add(f"Albumin-corrected delta gap = corrected AG − 12 = {fmt(value)} mEq/L.")
    return s.result(value)


def albumin_corrected_delta_ratio(e: Entities):
    """Albumin-corrected delta ratio = (corrected AG − 12) / (24 − HCO3) (Figge 1998; Wrenn 1990)."""
    s = Steps()
    gap, hco3 = _anion_gap(e, s)
    corrected_delta = _albumin_correction(e, s, gap) - NORMAL_ANION_GAP
    value = corrected_delta / (NORMAL_BICARBONATE - hco3)
    s.add(f"Albumin-corrected delta ratio = {fmt(corrected_delta)} / (24 − {fmt(hco3)}) = {fmt(value)}.")
    return s.result(value)


def calcium_correction(e: Entities):
    """Corrected calcium (mg/dL) = Ca + 0.8 × (4 − albumin g/dL) (Payne et al., BMJ 1973;4:643)."""
    s = Steps()
    ca = e.conc("Calcium", "mg/dL", "calcium")
    alb = e.conc("Albumin", "g/dL")
    value = ca + 0.8 * (NORMAL_ALBUMIN - alb)
    s.add(f"Corrected Ca = Ca + 0.8 × (4 − albumin) = {fmt(ca)} + 0.8 × (4 − {fmt(alb)}) = {fmt(value)} mg/dL.")
    return s.result(value)


def sodium_correction(e: Entities):
    """Sodium corrected for hyperglycaemia (mEq/L) = Na + 0.024 × (glucose mg/dL − 100)
    (Hillier et al., Am J Med 1999;106:399)."""
    s = Steps()
    na = e.conc("Sodium", "mEq/L", "sodium")
    glucose = e.conc("Glucose", "mg/dL", "glucose")
    value = na + 0.024 * (glucose - 100.0)
    s.add(f"Corrected Na = Na + 0.024 × (glucose − 100) = {fmt(na)} + 0.024 × ({fmt(glucose)} − 100) = {fmt(value)} mEq/L.")
    return s.result(value)


def serum_osmolality(e: Entities):
    """Calculated serum osmolality (mOsm/kg) = 2 × Na + BUN/2.8 + glucose/18 (Dorwart & Chalmers,
    Clin Chem 1975;21:190), BUN and glucose in mg/dL."""
    s = Steps()
    na = e.conc("Sodium", "mmol/L", "sodium")
    bun = e.conc("Blood Urea Nitrogen (BUN)", "mg/dL", "bun")
    glucose = e.conc("Glucose", "mg/dL", "glucose")
    value = 2.0 * na + bun / 2.8 + glucose / 18.0
    s.add(f"Osmolality = 2 × Na + BUN/2.8 + glucose/18 = 2 × {fmt(na)} + {fmt(bun)}/2.8 + {fmt(glucose)}/18 = {fmt(value)} mOsm/kg.")
    return s.result(value)
