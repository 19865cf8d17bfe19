"""The question pool: the one row format every data-engine step reads (WiNGPT-3.0 Fig. 1's pool).

One JSON object per line::

    {"id": "w-12", "domain": "medical", "language": "en", "question": "...",
     "reference": "<think>...</think>\\boxed{Giant cell arteritis}",   # optional
     "verifier": "diagnosis", "gold": {"text": "Giant cell arteritis"},  # verifier null = unverifiable
     "options": {}, "meta": {"synonyms": ["temporal arteritis"]}, "source": "world"}

``verifier`` is a key of :data:`medreasoner.verify.VERIFIERS` or null; a verifiable row carries
``gold`` tagged as in :func:`medreasoner.benchmarks.item.item_to_dict`, so :func:`pool_item` gives
the canonical :class:`Item` that rewards and evaluation grade with. Any other keys (``difficulty``,
``n_correct``, a generated ``response`` ...) pass through every step unchanged.
"""

from __future__ import annotations

from pathlib import Path

from medreasoner.benchmarks.item import Item, item_from_dict
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl

REQUIRED = ("id", "domain", "language", "question", "source")
_PROMPTS: dict[str, object] = {}


def check_row(path: Path, line: int, row: dict) -> None:
    """Raise an :class:`InputError` naming ``path:line`` and the field when ``row`` is not a pool row."""
    from medreasoner.verify import VERIFIERS

    for key in REQUIRED:
        value = row.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InputError(path, "expected a non-empty string", line=line, field=key)
    if row.get("reference") is not None and not isinstance(row["reference"], str):
        raise InputError(path, "expected a string or null", line=line, field="reference")
    verifier = row.get("verifier")
    if verifier is None:
        return
    if verifier not in VERIFIERS:
        raise InputError(path, f"unknown verifier {verifier!r}; expected null or one of {sorted(VERIFIERS)}",
                         line=line, field="verifier")
    if not isinstance(row.get("options", {}), dict) or not isinstance(row.get("meta", {}), dict):
        field = "options" if not isinstance(row.get("options", {}), dict) else "meta"
        raise InputError(path, "expected a JSON object", line=line, field=field)
    try:
        pool_item(row)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(path, f"a verifiable row needs a tagged gold such as {{\"text\": ...}} or "
                         f"{{\"letters\": [...]}} ({type(error).__name__}: {error})", line=line, field="gold") from None


def read_pool(path: str | Path) -> list[dict]:
    """All rows of a pool JSONL file, checked; ids must be unique.

    Raises:
        InputError: naming the file, line and field of the first bad row.
    """
    path = Path(path)
    rows, seen = [], {}
    for line, row in read_jsonl(path):
        check_row(path, line, row)
        if row["id"] in seen:
            raise InputError(path, f"duplicate id {row['id']!r} (first on line {seen[row['id']]})", line=line, field="id")
        seen[row["id"]] = line
        rows.append(row)
    return rows


def pool_item(row: dict) -> Item | None:
    """The canonical item of a verifiable row (None for an unverifiable one)."""
    if row.get("verifier") is None:
        return None
    return item_from_dict({"id": row["id"], "question": row["question"], "options": row.get("options") or {},
                           "gold": row["gold"], "verifier": row["verifier"], "meta": row.get("meta") or {}})


def question_messages(row: dict, mode: str = "answer") -> list[dict]:
    """The chat messages that ask a row's question: the evaluation's ``items`` template for a
    verifiable row (so training and evaluation prompts are identical), the question verbatim otherwise.

    Args:
        mode: ``"answer"`` (answer only) or ``"explain"`` (reasoning first), as in evaluation.
    """
    item = pool_item(row)
    if item is None:
        return [{"role": "user", "content": row["question"]}]
    from medreasoner.eval.prompts import PromptBuilder

    if mode not in _PROMPTS:
        _PROMPTS[mode] = PromptBuilder("items", mode, "chat", [], None)
    return [dict(message) for message in _PROMPTS[mode].render(item).messages]
