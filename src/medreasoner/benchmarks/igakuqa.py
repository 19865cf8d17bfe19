"""IgakuQA (jungokasai/IgakuQA): Japanese National Medical Licensing Examination 2018-2022.

Layout: ``data/<year>/<exam>-<S>.jsonl`` (questions: ``problem_id, problem_text, choices, text_only,
answer, points``) beside ``<exam>-<S>_metadata.jsonl`` (``problem_id, category, kinki, ...``, same
ids); ``*_translate.jsonl`` files are ignored. The path given may be the IgakuQA root, its ``data/``
directory, one year directory or one section file.

Gold answers: a frozenset of lowercase letters for choice questions (options keyed ``a``, ``b``, ...
in file order; 6- and 8-choice questions exist, 113F83's choices are the full-width letters
themselves); the raw string for numeric-entry questions (``choices == []``, gold like ``"04"`` or
``"7.20"``, compared as strings by the official scorer) and for 112B30, whose gold is ``"a or d"``.
Prohibited-choice (kinki) entries such as ``"cde"`` are split into letters (``meta["kinki"]``,
normalised); ``meta["kinki_raw"]`` keeps the file's strings for the official-mode count.
"""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path

from medreasoner.benchmarks.item import Item
from medreasoner.benchmarks.records import check_unique_id, require, require_str_list
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl

SECTION_FILE = re.compile(r"^(\d+)-([A-Z])\.jsonl$")
PROBLEM_ID = re.compile(r"^(\d+)([A-Z])(\d+)$")
# Gold answers that are an alternative between letters (112B30: MHLW accepted either "a" or "d").
ALTERNATIVE_GOLD = re.compile(r"^[a-z]( or [a-z])+$")
# The 112th exam was held in February 2018; exam numbers advance by one per year.
FIRST_EXAM, FIRST_YEAR = 112, 2018


def exam_year(exam: int) -> int:
    """Calendar year of the ``exam``-th examination (112 -> 2018)."""
    return exam - FIRST_EXAM + FIRST_YEAR


def kinki_letters(entries: list[str]) -> list[str] | None:
    """Prohibited-choice letters from the metadata's ``kinki`` list, or None if one is not a letter.

    Entries may concatenate letters (``"cde"``), carry spaces (``" e"``) or use full-width letters
    (``"ｂ"``, 5 rows of the 2018-2022 data); NFKC folds full-width to ASCII.

    >>> kinki_letters(["cde", " e", "ｂ"])
    ['b', 'c', 'd', 'e']
    """
    letters = set(unicodedata.normalize("NFKC", "".join(entries)).lower().replace(" ", ""))
    if not letters <= set(string.ascii_lowercase):
        return None
    return sorted(letters)


def section_files(path: str | Path) -> list[Path]:
    """The question files under ``path`` (root, ``data/``, a year directory, or one file), sorted.

    Raises:
        InputError: the path does not exist, a file is not named ``<exam>-<S>.jsonl``, or a
            directory holds no section files.
    """
    path = Path(path)
    if path.is_file():
        if not SECTION_FILE.match(path.name):
            raise InputError(path, "an IgakuQA section file must be named <exam>-<section>.jsonl, e.g. 116-A.jsonl")
        return [path]
    if not path.is_dir():
        raise InputError(path, "no such file or directory")
    root = path / "data" if (path / "data").is_dir() else path
    files = sorted(p for p in root.rglob("*.jsonl") if SECTION_FILE.match(p.name))
    if not files:
        raise InputError(path, "no IgakuQA section files (<exam>-<section>.jsonl) found")
    return files


def load_igakuqa(path: str | Path) -> list[Item]:
    """Load every IgakuQA section under ``path`` (ordered by exam, section, file order).

    Raises:
        InputError: a malformed question or metadata line, a missing metadata file or row, an id
            that does not belong to its file, a gold letter not among the choices, or a duplicate id.
    """
    items: list[Item] = []
    seen: dict[str, int] = {}
    for file in section_files(path):
        exam, section = SECTION_FILE.match(file.name).groups()
        metadata = _read_metadata(file.with_name(f"{exam}-{section}_metadata.jsonl"))
        for line, record in read_jsonl(file):
            item = _record_to_item(record, int(exam), section, metadata, file, line)
            check_unique_id(seen, item.id, file, line, "problem_id")
            items.append(item)
        unused = sorted(set(metadata) - {item.id for item in items})
        if unused:
            raise InputError(file.with_name(f"{exam}-{section}_metadata.jsonl"), f"ids not in {file.name}: {unused}")
    return items


def _read_metadata(path: Path) -> dict[str, dict]:
    if not path.is_file():
        raise InputError(path, "metadata file missing (needed for categories and prohibited choices)")
    rows: dict[str, dict] = {}
    for line, record in read_jsonl(path):
        problem_id = require(record, "problem_id", str, path, line)
        require(record, "category", str, path, line)
        for entry in require_str_list(record, "kinki", path, line):
            if not kinki_letters([entry]):
                raise InputError(path, f"expected choice letters, got {entry!r}", line=line, field="kinki")
        if problem_id in rows:
            raise InputError(path, f"duplicate id {problem_id!r}", line=line, field="problem_id")
        rows[problem_id] = record
    return rows


def _record_to_item(record: dict, exam: int, section: str, metadata: dict, path: Path, line: int) -> Item:
    problem_id = require(record, "problem_id", str, path, line)
    match = PROBLEM_ID.match(problem_id)
    if match is None or (int(match.group(1)), match.group(2)) != (exam, section):
        raise InputError(path, f"{problem_id!r} is not a problem of exam {exam} section {section}", line=line, field="problem_id")
    question = require(record, "problem_text", str, path, line)
    choices = require_str_list(record, "choices", path, line)
    text_only = require(record, "text_only", bool, path, line)
    answer = require_str_list(record, "answer", path, line)
    points_text = require(record, "points", str, path, line)
    if not points_text.isdigit():
        raise InputError(path, f"expected a whole number of points, got {points_text!r}", line=line, field="points")
    if problem_id not in metadata:
        raise InputError(path, f"{problem_id!r} has no row in the metadata file", line=line, field="problem_id")
    options = dict(zip(string.ascii_lowercase, choices))
    gold = _gold(answer, options, path, line)
    meta_row = metadata[problem_id]
    kinki = kinki_letters(meta_row["kinki"])
    return Item(
        id=problem_id,
        question=question,
        options=options,
        gold=gold,
        verifier="igakuqa",
        meta={
            "year": exam_year(exam),
            "exam": exam,
            "section": section,
            "number": int(match.group(3)),
            "points": int(points_text),
            "kinki": kinki,
            "kinki_raw": list(meta_row["kinki"]),
            "category": meta_row["category"],
            "text_only": text_only,
            "num_answers": len(answer),
            "answer_raw": list(answer),
        },
    )


def _gold(answer: list[str], options: dict[str, str], path: Path, line: int) -> frozenset | str:
    if not answer:
        raise InputError(path, "no gold answer", line=line, field="answer")
    if not options:
        # Numeric entry: the digits to fill in the boxes, compared as a string ("04" is not "4").
        if len(answer) != 1 or not answer[0].strip():
            raise InputError(path, f"a numeric-entry question needs one answer string, got {answer!r}", line=line, field="answer")
        return answer[0]
    if len(answer) == 1 and ALTERNATIVE_GOLD.match(answer[0]):
        letters = answer[0].split(" or ")
        _check_letters(letters, options, path, line)
        return answer[0]
    _check_letters(answer, options, path, line)
    return frozenset(answer)


def _check_letters(letters: list[str], options: dict[str, str], path: Path, line: int) -> None:
    for letter in letters:
        if letter not in options:
            raise InputError(path, f"{letter!r} is not one of the choices {sorted(options)}", line=line, field="answer")
