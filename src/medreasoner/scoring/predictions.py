"""Reading predictions (ours and the official output formats) and grading them against items.

Formats, detected per file from the keys of its first record:

============================  =====================================  ================================
keys                          source                                 graded with
============================  =====================================  ================================
``id``, ``response``          ours: one raw model response per item  ``verify.grade(response, item)``
``problem_id``, ``prediction``  IgakuQA ``baseline_results``         ``verify.grade(prediction, item)``
``Row Number``, ``LLM Answer``  MedCalc-Bench ``evaluation/outputs``  official: ``check_answer_string``
============================  =====================================  ================================

MedCalc-Bench's ``LLM Answer`` is already extracted by the official pipeline, so official mode
applies only the official correctness rule to it; normalized mode re-reads it with our extractor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medreasoner.benchmarks.item import Item
from medreasoner.benchmarks.records import check_unique_id, require
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl
from medreasoner.verify import Grade, grade
from medreasoner.verify.medcalc import check_answer_string

# IgakuQA baseline_results/<year>/<exam>-<S>_<model>.jsonl; the model name may contain "_".
IGAKUQA_PREDICTION_FILE = re.compile(r"^(\d+)-([A-Z])_(.+)\.jsonl$")


@dataclass(frozen=True)
class PredictionFormat:
    """One predictions file format: the id field, the text field and what the text is."""

    name: str
    id_field: str
    text_field: str
    text_is_extracted: bool


# Order matters only for the error message listing the formats.
PREDICTION_FORMATS = (
    PredictionFormat("medreasoner", "id", "response", False),
    PredictionFormat("igakuqa", "problem_id", "prediction", False),
    PredictionFormat("medcalc", "Row Number", "LLM Answer", True),
)


@dataclass(frozen=True)
class Prediction:
    """One prediction and where it was read (for error messages)."""

    item_id: str
    text: str
    text_is_extracted: bool
    path: Path
    line: int
    id_field: str
    record: dict[str, Any]


def prediction_files(path: str | Path, model_name: str | None) -> list[Path]:
    """The predictions files at ``path``: the file itself, or in a directory (searched recursively)
    the IgakuQA baseline files ``<exam>-<S>_<model_name>.jsonl``.

    Raises:
        InputError: nothing found, or several models in the directory and no ``model_name``.
    """
    path = Path(path)
    if path.is_file():
        if model_name is not None and not path.name.endswith(f"_{model_name}.jsonl"):
            raise InputError(path, f"--model-name {model_name!r} selects files named *_{model_name}.jsonl in a directory")
        return [path]
    if not path.is_dir():
        raise InputError(path, "no such file or directory")
    by_model: dict[str, list[Path]] = {}
    for file in sorted(path.rglob("*.jsonl")):
        match = IGAKUQA_PREDICTION_FILE.match(file.name)
        if match:
            by_model.setdefault(match.group(3), []).append(file)
    if not by_model:
        raise InputError(path, "no predictions files named <exam>-<section>_<model>.jsonl in this directory")
    if model_name is None:
        if len(by_model) > 1:
            raise InputError(path, f"several models here, choose one with --model-name: {sorted(by_model)}")
        (model_name,) = by_model
    if model_name not in by_model:
        raise InputError(path, f"no files for model {model_name!r}; found: {sorted(by_model)}")
    return by_model[model_name]


def read_predictions(path: str | Path, model_name: str | None) -> list[Prediction]:
    """All predictions under ``path`` (see :func:`prediction_files`), ids checked unique.

    Raises:
        InputError: an unknown format, a malformed record or a duplicate id.
    """
    predictions = []
    seen: dict[str, int] = {}
    for file in prediction_files(path, model_name):
        records = read_jsonl(file)
        line, first = next(records)
        fmt = _detect_format(first, file, line)
        for line, record in [(line, first), *records]:
            item_id = _read_id(record, fmt.id_field, file, line)
            text = require(record, fmt.text_field, str, file, line)
            check_unique_id(seen, item_id, file, line, fmt.id_field)
            predictions.append(Prediction(item_id, text, fmt.text_is_extracted, file, line, fmt.id_field, record))
    return predictions


def grade_predictions(items: Sequence[Item], predictions: Iterable[Prediction], mode: str) -> list[Any]:
    """``Grade`` per item aligned with ``items``; None where the item has no prediction.

    Raises:
        InputError: a prediction id that is not in the benchmark, or a MedCalc-Bench output row
            for an item that is not a MedCalc item or whose ``Ground Truth Answer`` differs from the
            data (a different benchmark version).
    """
    index = {item.id: k for k, item in enumerate(items)}
    grades: list[Any] = [None] * len(items)
    for prediction in predictions:
        if prediction.item_id not in index:
            raise InputError(prediction.path, f"id {prediction.item_id!r} is not in the benchmark data",
                             line=prediction.line, field=prediction.id_field)
        item = items[index[prediction.item_id]]
        if prediction.text_is_extracted:
            _check_medcalc_row(prediction, item)
        if prediction.text_is_extracted and mode == "official":
            correct = bool(check_answer_string(prediction.text, item))
            grades[index[item.id]] = Grade(extracted=prediction.text, correct=correct, score=float(correct), counts=None)
        else:
            grades[index[item.id]] = grade(prediction.text, item, mode)
    return grades


def _check_medcalc_row(prediction: Prediction, item: Item) -> None:
    if item.verifier != "medcalc":
        raise InputError(prediction.path, f"a MedCalc-Bench output row cannot score a {item.verifier!r} item",
                         line=prediction.line, field=prediction.id_field)
    stored = prediction.record.get("Ground Truth Answer")
    if stored is not None and str(stored) != item.meta["ground_truth"]:
        raise InputError(prediction.path, f"ground truth {stored!r} differs from the data's "
                         f"{item.meta['ground_truth']!r}: predictions made on another benchmark version?",
                         line=prediction.line, field="Ground Truth Answer")


def _detect_format(record: dict[str, Any], path: Path, line: int) -> PredictionFormat:
    for fmt in PREDICTION_FORMATS:
        if fmt.id_field in record and fmt.text_field in record:
            return fmt
    known = "; ".join(f"{{{f.id_field!r}, {f.text_field!r}}} ({f.name})" for f in PREDICTION_FORMATS)
    raise InputError(path, f"unknown predictions format (keys {sorted(record)}); expected {known}", line=line)


def _read_id(record: dict[str, Any], field: str, path: Path, line: int) -> str:
    if field not in record:
        raise InputError(path, "missing field", line=line, field=field)
    value = record[field]
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise InputError(path, f"expected a non-empty string or integer id, got {value!r}", line=line, field=field)
    return str(value)
