"""Heart-rate corrected QT interval (msec); RR interval in seconds = 60 / heart rate."""

from __future__ import annotations

from medreasoner.calculators.entities import Entities, Steps, fmt


def _inputs(e: Entities) -> tuple[float, float, float]:
    qt = e.number("QT interval")
    hr = e.number("Heart Rate or Pulse")
    return qt, hr, 60.0 / hr


def _qtc(e: Entities, name: str, formula: str, fn):
    s = Steps()
    qt, hr, rr = _inputs(e)
    value = fn(qt, hr, rr)
    s.add(f"{name}: {formula}, RR = 60 / heart rate (s).")
    s.add(f"QT {fmt(qt)} msec, heart rate {fmt(hr)} bpm, RR = 60/{fmt(hr)} = {fmt(rr)} s.")
    s.add(f"QTc = {fmt(value)} msec.")
    return s.result(value)


def bazett(e: Entities):
    """QTc = QT / √RR (Bazett, Heart 1920;7:353)."""
    return _qtc(e, "Bazett", "QTc = QT / √RR", lambda qt, hr, rr: qt / rr ** 0.5)


def fridericia(e: Entities):
    """QTc = QT / RR^(1/3) (Fridericia, Acta Med Scand 1920;53:469)."""
    return _qtc(e, "Fridericia", "QTc = QT / RR^(1/3)", lambda qt, hr, rr: qt / rr ** (1.0 / 3.0))


def framingham(e: Entities):
    """QTc = QT + 154 × (1 − RR) (Sagie et al., Am J Cardiol 1992;70:797)."""
    return _qtc(e, "Framingham", "QTc = QT + 154 × (1 − RR)", lambda qt, hr, rr: qt + 154.0 * (1.0 - rr))


def hodges(e: Entities):
    """QTc = QT + 1.75 × (HR − 60) (Hodges et al., J Am Coll Cardiol 1983;1:694)."""
    return _qtc(e, "Hodges", "QTc = QT + 1.75 × (heart rate − 60)", lambda qt, hr, rr: qt + 1.75 * (hr - 60.0))


def rautaharju(e: Entities):
    """QTc = QT × (120 + HR) / 180 (Rautaharju et al., Can J Cardiol 1993;9:483)."""
    return _qtc(e, "Rautaharju", "QTc = QT × (120 + heart rate) / 180", lambda qt, hr, rr: qt * (120.0 + hr) / 180.0)
