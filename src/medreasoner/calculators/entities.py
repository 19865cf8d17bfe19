"""Typed access to a MedCalc-Bench ``Relevant Entities`` dict, and the calculator result type.

Entities look like ``{"age": [87, "years"], "weight": [48.0, "kg"], "sex": "Male", "Stroke": True}``.
Missing flags mean "absent" and missing optional measurements fall back to the calculator's stated
default (the convention of MDCalc and MedCalc-Bench: what a note does not mention is taken as normal);
each calculator says so in its explanation. A missing required value raises :class:`EntityError`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from medreasoner.calculators import units


class EntityError(ValueError):
    """A required entity is missing or malformed; ``field`` names the entity key."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        self.message = message
        super().__init__(f"{field_name!r}: {message}")


@dataclass(frozen=True)
class Result:
    """A calculator's typed answer (float, int, datetime.date or (weeks, days)) and its derivation."""

    answer: Any
    explanation: str


@dataclass
class Steps:
    """Accumulates the lines of a step-by-step explanation."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        """Append one explanation sentence."""
        self.lines.append(line)

    def result(self, answer: Any) -> Result:
        """Finish with ``answer``."""
        return Result(answer, "\n".join(self.lines))


def fmt(x: float) -> str:
    """A number as the explanations print it: at most 3 decimals, no trailing zeros."""
    return f"{round(float(x), 3):g}" if abs(x) < 1e6 else f"{x:.4g}"


class Entities:
    """Read-only accessor over one ``Relevant Entities`` dict."""

    def __init__(self, raw: dict[str, Any]):
        if not isinstance(raw, dict):
            raise EntityError("<entities>", f"expected a dict, got {type(raw).__name__}")
        self.raw = raw

    def has(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return key in self.raw

    def _pair(self, key: str) -> tuple[float, str]:
        value = self.raw[key]
        if isinstance(value, (list, tuple)) and len(value) == 2:
            try:
                return float(value[0]), str(value[1])
            except (TypeError, ValueError):
                raise EntityError(key, f"expected [number, unit], got {value!r}") from None
        raise EntityError(key, f"expected [number, unit], got {value!r}")

    def _get(self, key: str, convert, default, *, positive: bool = False):
        # Measurements are physical quantities: a negative mass or concentration (or a zero height,
        # which BMI divides by) is a typo, not a value; `positive` marks those that must be > 0.
        if key not in self.raw:
            if default is None:
                raise EntityError(key, "missing")
            return float(default)
        value, unit = self._pair(key)
        if value != value or (value <= 0 if positive else value < 0):  # NaN fails both
            raise EntityError(key, f"must be {'> 0' if positive else '>= 0'}, got {value:g} {unit}")
        try:
            return convert(value, unit)
        except units.UnitError as error:
            raise EntityError(key, str(error)) from None

    def number(self, key: str, default: float | None = None) -> float:
        """A plain number (``2.1``, ``'13.0'``) or the number of a ``[value, unit]`` pair, unit ignored."""
        if key not in self.raw:
            if default is None:
                raise EntityError(key, "missing")
            return float(default)
        value = self.raw[key]
        if isinstance(value, (list, tuple)):
            value = value[0]
        try:
            return float(value)
        except (TypeError, ValueError):
            raise EntityError(key, f"expected a number, got {value!r}") from None

    def conc(self, key: str, target: str, analyte: str | None = None, default: float | None = None) -> float:
        """A concentration converted to ``target`` (e.g. 'mg/dL'); ``analyte`` keys the molar mass."""
        return self._get(key, lambda v, u: units.convert_concentration(v, u, target, analyte), default)

    def mass_kg(self, key: str = "weight", default: float | None = None) -> float:
        """Body mass in kg."""
        return self._get(key, lambda v, u: units.convert_mass(v, u, "kg"), default, positive=True)

    def length_cm(self, key: str = "height", default: float | None = None) -> float:
        """Length in cm."""
        return self._get(key, lambda v, u: units.convert_length(v, u, "cm"), default, positive=True)

    def celsius(self, key: str = "Temperature", default: float | None = None) -> float:
        """Temperature in °C."""
        return self._get(key, lambda v, u: units.convert_temperature(v, u, "C"), default)

    def age_years(self, key: str = "age", default: float | None = None) -> float:
        """Age in years."""
        return self._get(key, units.convert_age, default)

    def count_per_ul(self, key: str, default: float | None = None) -> float:
        """A cell count per µL (= per mm³)."""
        return self._get(key, units.convert_count_per_ul, default)

    def flag(self, key: str) -> bool:
        """A yes/no finding; missing means absent."""
        value = self.raw.get(key, False)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "yes", "present")
        return bool(value)

    def text(self, key: str, default: str | None = None) -> str:
        """A categorical value such as ``'Male'`` or ``'Grade 1-2'``."""
        if key not in self.raw:
            if default is None:
                raise EntityError(key, "missing")
            return default
        return str(self.raw[key]).strip()

    def choice(self, key: str, table: dict[str, Any], default: str) -> tuple[str, Any]:
        """A categorical value (case-insensitive) looked up in ``table``; returns (value, table[value])."""
        value = self.text(key, default).lower()
        if value not in table:
            raise EntityError(key, f"unknown value {value!r}; expected one of {sorted(table)}")
        return value, table[value]

    def female(self) -> bool:
        """True for 'Female'; 'sex' is required."""
        sex = self.text("sex").lower()
        if sex not in ("male", "female"):
            raise EntityError("sex", f"expected 'Male' or 'Female', got {sex!r}")
        return sex == "female"

    def date(self, key: str) -> dt.date:
        """A 'MM/DD/YYYY' date."""
        value = self.text(key)
        try:
            return dt.datetime.strptime(value, "%m/%d/%Y").date()
        except ValueError:
            raise EntityError(key, f"expected a MM/DD/YYYY date, got {value!r}") from None
