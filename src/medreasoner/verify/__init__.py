"""Answer extraction and checking: one library for RL rewards and eval scorers.

``grade(text, item, mode)`` reads the answer a completion commits to and checks it against the
item's typed gold with the rule named by ``item.verifier``. Every verifier is total (no exception
for any text; 1 MB of adversarial text grades in well under a second) and never evaluates model
text as code.

>>> from medreasoner.benchmarks.item import Item
>>> item = Item("1", "Which?", {"A": "x", "B": "y", "C": "z", "D": "w"}, frozenset("B"), "mcq")
>>> grade("<think>A or B...</think>The answer is (B).", item)
Grade(extracted=frozenset({'B'}), correct=True, score=1.0, counts=None)
>>> grade(r"\\boxed{ABCD}", item).correct
False

Adding a verifier: write ``verify/<name>.py`` with ``MODES``, ``extract(text, item, mode)``,
``check(answer, item)`` and ``grade(text, item, mode) -> Grade``, add it to :data:`VERIFIERS`,
and give it a table test (see docs/verifiers.md).
"""

from __future__ import annotations

from types import ModuleType

from medreasoner.benchmarks.item import Item
from medreasoner.verify import boxed, diagnosis, igakuqa, mcq, medcalc, multiselect
from medreasoner.verify.result import Grade
from medreasoner.verify.text import last_boxed

__all__ = ["MODES", "VERIFIERS", "Grade", "grade", "last_boxed"]

MODES = ("normalized", "official")

VERIFIERS: dict[str, ModuleType] = {
    "mcq": mcq,
    "igakuqa": igakuqa,
    "medcalc": medcalc,
    "diagnosis": diagnosis,
    "multiselect": multiselect,
    "boxed": boxed,
}


def grade(text: str, item: Item, mode: str = "normalized") -> Grade:
    """Grade one completion against one item with the verifier ``item.verifier`` names.

    Args:
        text: the raw completion (any string; non-strings grade as "no answer").
        item: the benchmark item (typed gold, ``verifier``, meta).
        mode: ``"normalized"`` (free-form output, the RL default) or ``"official"`` (the
            benchmark's published extraction rule, to reproduce official numbers).

    Returns:
        A :class:`Grade`; ``extracted`` is None when the text commits to no answer.

    Raises:
        ValueError: unknown ``mode`` or unknown ``item.verifier`` (a configuration error, never
            caused by model text).
    """
    if mode not in MODES:
        raise ValueError(f"unknown verify mode {mode!r}; expected one of {MODES}")
    verifier = VERIFIERS.get(item.verifier)
    if verifier is None:
        raise ValueError(f"item {item.id!r}: unknown verifier {item.verifier!r}; expected one of {sorted(VERIFIERS)}")
    if not isinstance(text, str):
        text = ""
    return verifier.grade(text, item, mode)
