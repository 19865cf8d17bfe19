"""Preference pairs from a reference explanation and a model's own responses (RPO data).

Preferred-MedLLM's reasoning preference optimisation ranks responses in a hierarchy (PAPERS.md
section 2.3, a reconstruction, so an assumption): reference explanation with the correct answer
over a model explanation with the correct answer, over a model explanation with a wrong answer.
:func:`hierarchy_pairs` forms every (higher level, lower level) pair; correctness comes from the
same verifier the evaluation uses (:func:`medreasoner.verify.grade`), so a response graded correct
here is one the benchmark would count as correct.
"""

from __future__ import annotations

from medreasoner.benchmarks.item import Item
from medreasoner.verify import grade

REFERENCE_LEVEL = 2
CORRECT_LEVEL = 1
WRONG_LEVEL = 0


def hierarchy_pairs(prompt: list[dict], item: Item, reference: dict, responses: list[str]) -> list[dict]:
    """Pairs ``{"prompt", "chosen", "rejected", "margin"}`` from the preference hierarchy.

    Args:
        prompt: the chat messages the responses answer.
        item: the canonical item (its verifier grades each response).
        reference: the reference assistant message (``content`` and optionally ``reasoning_content``).
        responses: the model's completions as text (reasoning inline as ``<think>...</think>``).

    Returns:
        One pair per (higher, lower) level combination; ``margin`` is the level difference (1 or 2),
        so "reference vs wrong model answer" counts twice as much as adjacent levels. Responses
        of the same level are never paired.

    >>> item = Item("1", "Q", {}, "Influenza", "diagnosis", {"synonyms": ["flu"]})
    >>> pairs = hierarchy_pairs([{"role": "user", "content": "Q"}], item,
    ...     {"role": "assistant", "content": "\\\\boxed{Influenza}"}, ["\\\\boxed{flu}", "\\\\boxed{Pertussis}"])
    >>> [(p["chosen"][0]["content"][7:-1], p["rejected"][0]["content"][7:-1], p["margin"]) for p in pairs]
    [('Influenza', 'flu', 1.0), ('Influenza', 'Pertussis', 2.0), ('flu', 'Pertussis', 1.0)]
    """
    ranked = [(REFERENCE_LEVEL, reference)]
    for text in responses:
        level = CORRECT_LEVEL if grade(text, item).correct else WRONG_LEVEL
        ranked.append((level, {"role": "assistant", "content": text}))
    pairs = []
    for i, (high, chosen) in enumerate(ranked):
        for low, rejected in ranked[i + 1 :]:
            if high == low:
                continue
            better, worse = (chosen, rejected) if high > low else (rejected, chosen)
            pairs.append({"prompt": prompt, "chosen": [better], "rejected": [worse], "margin": float(abs(high - low))})
    return pairs
