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
    (``"published"``, the default; ``"medcalc-v1.0"``, the benchmark's v1.0 calculator code; or
    ``"medcalc-v1.0-testfile"``, its test-file labels); raises KeyError for unknown ids or conventions and :class:`EntityError` for missing or
    malformed entities."""
    try:
        return compute_with(calculator_id, entities, convention)
    except EntityError:
        raise
    except (ZeroDivisionError, OverflowError, ValueError) as error:  # ValueError: math domain errors
        # An input the range checks let through that the formula cannot take (e.g. a zero creatinine
        # under a negative power): still a named input error, never a traceback.
        raise EntityError("<entities>", f"values outside the formula's domain ({error})") from None


__all__ = ["CALCULATORS", "CONVENTIONS", "CalculatorSpec", "EntityError", "Result", "compute"]
