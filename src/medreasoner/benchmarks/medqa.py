"""MedQA-USMLE test sets (jind11/MedQA ``data_clean/questions/US``), 4- and 5-option JSONL.

Each line: ``question``, ``answer`` (the correct option's text), ``options`` (letter -> text),
``answer_idx`` (the correct letter), ``meta_info`` (``step1`` / ``step2&3``); the 4-option file also
has ``metamap_phrases`` (ignored). The official metric is accuracy over single-letter answers
(Jin et al. 2020, arXiv 2009.13081). Item ids are the 1-based record number in the file.
"""

from __future__ import annotations

from pathlib import Path

from medreasoner.benchmarks.item import Item
from medreasoner.benchmarks.records import require, require_options
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl


def load_medqa(path: str | Path) -> list[Item]:
    """Load a MedQA JSONL file (4- or 5-option; detected per row from ``options``).

    Raises:
        InputError: a malformed line, ``answer_idx`` not among the options, or
            ``options[answer_idx] != answer`` (a corrupted or re-lettered file).
    """
    items = []
    for record_number, (line, record) in enumerate(read_jsonl(path), start=1):
        question = require(record, "question", str, path, line)
        answer_text = require(record, "answer", str, path, line)
        options = require_options(record, "options", path, line)
        answer_idx = require(record, "answer_idx", str, path, line)
        meta_info = require(record, "meta_info", str, path, line)
        if answer_idx not in options:
            raise InputError(path, f"{answer_idx!r} is not one of the options {sorted(options)}", line=line, field="answer_idx")
        if options[answer_idx] != answer_text:
            raise InputError(path, f"options[{answer_idx!r}] differs from 'answer' {answer_text!r}", line=line, field="answer_idx")
        items.append(
            Item(
                id=str(record_number),
                question=question,
                options=dict(options),
                gold=frozenset({answer_idx}),
                verifier="mcq",
                meta={"meta_info": meta_info, "answer_text": answer_text, "num_options": len(options)},
            )
        )
    return items
