"""The 55 MedCalc-Bench v1.0 medical calculators, from their published definitions.

>>> from medreasoner.calculators import CALCULATORS, compute
>>> round(compute(6, {"weight": [70.0, "kg"], "height": [175.0, "cm"]}).answer, 2)
22.86
"""

from __future__ import annotations

from medreasoner.calculators.conventions import CONVENTIONS, DEFAULT_CONVENTION, compute_with
from medreasoner.calculators.entities import EntityError, Result
from medreasoner.calculators.registry import CALCULATORS, CalculatorSpec


def compute(calculator_id: int, entities: dict, convention: str = DEFAULT_CONVENTION) -> Result:
    """Run calculator ``calculator_id`` on a ``Relevant Entities`` dict under the label ``convention``
    (``"published"``, the default, or ``"medcalc-v1.0"``, which reproduces the benchmark's v1.0 label
    quirks); raises KeyError for unknown ids or conventions and :class:`EntityError` for missing or
    malformed entities."""
    return compute_with(calculator_id, entities, convention)


__all__ = ["CALCULATORS", "CONVENTIONS", "CalculatorSpec", "EntityError", "Result", "compute"]
