"""Benchmarks as data: each is a small spec naming its loader, verifier(s) and data version.

>>> sorted(BENCHMARKS)
['igakuqa', 'items', 'mcq', 'medcalc', 'medqa', 'rl_rows']

``load_benchmark(name, path)`` returns canonical :class:`~medreasoner.benchmarks.item.Item` s; every
malformed input raises one :class:`~medreasoner.errors.InputError` naming file, line and field.
File formats and official rules: ``docs/benchmarks.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medreasoner.benchmarks.igakuqa import load_igakuqa
from medreasoner.benchmarks.item import Item
from medreasoner.benchmarks.mcq import load_items, load_mcq
from medreasoner.benchmarks.medcalc import load_medcalc
from medreasoner.benchmarks.medqa import load_medqa
from medreasoner.benchmarks.rl_rows import load_rl_rows
from medreasoner.errors import InputError

# What a benchmark shares with others of its family: the prompt templates (eval/prompts/<family>_<mode>.yaml),
# the template fields (eval.prompts.FIELDS) and the result aggregation (scoring.SUMMARIES).
Family = Literal["mcq", "medcalc", "igakuqa", "items"]


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark.

    Attributes:
        name: the ``--benchmark`` name.
        verifiers: the ``Item.verifier`` keys its items use (``items`` files may use any).
        load: ``load(path) -> list[Item]``.
        version: the data release the loader and the official scoring rules were checked against;
            bump it when the loader's output changes.
        source: where the data comes from (or its format, for our own formats).
        family: its prompt templates, template fields and result aggregation (see :data:`Family`).
    """

    name: str
    verifiers: tuple[str, ...]
    load: Callable[[Path], list[Item]]
    version: str
    source: str
    family: Family


BENCHMARKS: dict[str, BenchmarkSpec] = {
    "medqa": BenchmarkSpec(
        "medqa", ("mcq",), load_medqa, "us-test-2022-12",
        "jind11/MedQA data_clean/questions/US test JSONL (4_options/phrases_no_exclude_test.jsonl or test.jsonl)",
        "mcq",
    ),
    "medcalc": BenchmarkSpec(
        "medcalc", ("medcalc",), load_medcalc, "v1.0",
        "ncbi-nlp/MedCalc-Bench dataset/test_data.csv at tag version-1.0 (1,047 rows)",
        "medcalc",
    ),
    "igakuqa": BenchmarkSpec(
        "igakuqa", ("igakuqa",), load_igakuqa, "2bc4c3d",
        "jungokasai/IgakuQA data/<year>/<exam>-<S>.jsonl + _metadata.jsonl, commit 2bc4c3d (2018-2022)",
        "igakuqa",
    ),
    "mcq": BenchmarkSpec(
        "mcq", ("mcq", "multiselect"), load_mcq, "1",
        "medreasoner generic multiple-choice JSONL (docs/benchmarks.md)",
        "mcq",
    ),
    "items": BenchmarkSpec(
        "items", ("mcq", "multiselect", "medcalc", "igakuqa", "diagnosis", "boxed"), load_items, "1",
        "medreasoner canonical items JSONL, one item_to_dict per line",
        "items",
    ),
    "rl_rows": BenchmarkSpec(
        "rl_rows", ("mcq", "multiselect", "medcalc", "igakuqa", "diagnosis", "boxed"), load_rl_rows, "1",
        "GRPO prompt rows (world grpo/train.jsonl, select_rl output): the item JSON in each row's item column",
        "items",  # canonical items: the held-out items' prompts
    ),
}


def load_benchmark(name: str, path: str | Path) -> list[Item]:
    """Load benchmark ``name`` from ``path`` (a file, or for IgakuQA also a directory).

    Raises:
        InputError: unknown name or malformed data.
    """
    if name not in BENCHMARKS:
        raise InputError(path, f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}")
    return BENCHMARKS[name].load(Path(path))
