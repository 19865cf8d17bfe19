"""``decontaminate``: drop training rows that overlap an evaluation set (Preferred-MedLLM's
contamination guard, PAPERS item 33; the n-gram test of the GPT-3 paper, Brown et al. 2020,
appendix C, and of lm-evaluation-harness's decontamination, both with n = 13).

Every item of every configured benchmark is indexed twice (:class:`ContaminationIndex`):

* hash keys: the normalised stem, and the stem followed by each option, with all spaces removed
  (:func:`~medreasoner.data.text_keys.compact`), so re-cased, re-spaced or re-punctuated copies
  give the same key. A MedCalc-Bench stem is the patient note followed by the task.
* n-grams: word ``ngram``-grams of the stem and of each option separately (shuffling the options
  cannot hide an overlap), and of the whole item in file order (a verbatim copy of a short stem
  with its options); character ``char_ngram``-grams for text written without spaces.

A training row is contaminated when one of its text segments (or all of them joined, or the first
followed by another, as stem + option) equals a hash key, or when it shares at least
``min_ngram_hits`` distinct n-grams with one benchmark item (and, when ``min_item_coverage`` is
set, at least that share of the item's indexed n-grams). It is dropped with reason
``contaminated:<benchmark name>`` and detail ``item=<id> match=hash`` or
``item=<id> match=13-gram hits=<k> coverage=<share>``.

Short texts: a stem shorter than ``ngram`` words (``char_ngram`` characters) has no n-grams, so it
is caught only when a training segment equals it (or it plus one option); a training segment that
short likewise matches only by hash. IgakuQA has 538 such stems of 2,000 ("介入研究はどれか。"),
MedQA one of 1,273 (a 12-word question).

Boilerplate: an n-gram found in more than ``max_ngram_texts`` distinct benchmark texts is not
indexed. Exam wording repeats across items ("which of the following is the most likely cause of
this patient's ..." is in 40 MedQA stems, "心音と呼吸音とに異常を認めない。腹部は平坦、軟で、
肝・脾を触知しない" in 87 IgakuQA stems) and would flag any text written in exam style, while
a copied item still shares dozens of its own n-grams. The recipes' 2 sets aside 730 of the shipped
benchmarks' 896,499 n-grams (0.08 %). Texts are counted once each after normalisation, so a
MedCalc-Bench note that several calculators reuse, or a MedQA stem in both the 4- and the 5-option
file, counts once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medreasoner.benchmarks import load_benchmark
from medreasoner.data.funnel import drop, write_step
from medreasoner.data.text_keys import (
    compact,
    is_unspaced,
    ngrams,
    normalise,
    row_id,
    row_segments,
)
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext


class BenchmarkSource(BaseModel):
    """One evaluation set to keep out of training data.

    Attributes:
        name: names the drop reason ``contaminated:<name>`` and the funnel's per-benchmark figures.
        kind: a loader of :mod:`medreasoner.benchmarks` (``medqa``, ``medcalc``, ``igakuqa``,
            ``items``, ``mcq``) or ``jsonl``: any JSONL whose rows carry text in ``text_fields``.
        path: the benchmark file (IgakuQA: also its root, ``data/`` or a year directory).
        text_fields: ``jsonl`` only: the fields holding the text; the first is the stem, later
            ones count as option texts (e.g. ``[question, options]``); null for every other kind.
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: Literal["medqa", "medcalc", "igakuqa", "items", "mcq", "jsonl"]
    path: InputPath
    text_fields: list[str] | None = Field(min_length=1)

    @model_validator(mode="after")
    def _fields_for_jsonl(self) -> BenchmarkSource:
        if (self.kind == "jsonl") != (self.text_fields is not None):
            raise ValueError("text_fields is required for kind jsonl and only allowed there")
        return self


class Config(BaseModel):
    """``kind: decontaminate`` settings.

    Attributes:
        input: JSONL rows (pool, sample, SFT, CPT, GRPO or preference rows).
        benchmarks: the evaluation sets (names unique).
        text_fields: fields of the input rows to check (``question`` for pool rows, ``text`` for
            CPT, ``messages`` for SFT, ``prompt`` for GRPO and preference rows).
        message_roles: roles whose turns are checked in a message-list field; ``system`` too,
            because a benchmark item pasted into a system prompt is contamination all the same.
        ngram: words per n-gram (13 as in the GPT-3 and lm-evaluation-harness reports).
        char_ngram: characters per n-gram for text written without spaces: 30 characters of
            Japanese (about 2-2.5 characters per word) span roughly 13 words.
        min_ngram_hits: distinct n-grams a row must share with one benchmark item to be dropped.
        min_item_coverage: besides, the share of that item's indexed n-grams the row must contain
            (0 = off, the GPT-3 rule). For templated evaluation sets such as the synthetic world's,
            whose train and test cases share exam phrases, not 13-word spans: 98 % of the tiny
            world's SFT rows share a 13-gram with its eval items, while a copy covers 1.0 of an
            item's n-grams; the tiny recipes decontaminate against them with 0.8 (what that drops:
            docs/data_engine.md).
        max_ngram_texts: n-grams found in more distinct benchmark texts than this are boilerplate
            and not indexed (see the module docstring).
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    benchmarks: list[BenchmarkSource] = Field(min_length=1)
    text_fields: list[str] = Field(min_length=1)
    message_roles: list[str] = Field(min_length=1)
    ngram: int = Field(ge=1)
    char_ngram: int = Field(ge=1)
    min_ngram_hits: int = Field(ge=1)
    min_item_coverage: float = Field(ge=0.0, le=1.0)
    max_ngram_texts: int = Field(ge=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [benchmark.name for benchmark in self.benchmarks]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"benchmark names must be unique; repeated: {repeated}")
        return self


@dataclass(frozen=True)
class Match:
    """Why a row is contaminated: which benchmark item, by hash or by how many shared n-grams."""

    benchmark: str
    item_id: str
    kind: str
    hits: int = 0
    coverage: float = 0.0

    def detail(self) -> str:
        """The ``dropped.jsonl`` detail: ``item=<id> match=hash`` or ``item=<id> match=13-gram hits=3 coverage=0.25``."""
        if self.kind == "hash":
            return f"item={self.item_id} match=hash"
        return f"item={self.item_id} match={self.kind} hits={self.hits} coverage={self.coverage:.2f}"


@dataclass
class ContaminationIndex:
    """Hash keys and n-grams of benchmark items; :meth:`match` tells whether a row overlaps one.

    N-grams are stored as Python string hashes (64-bit; salted per process, which is harmless
    because the index lives in one process): at about 780k n-grams for the shipped benchmarks this
    keeps the index near 100 MB instead of the strings' several hundred.
    """

    ngram: int
    char_ngram: int
    entries: list[tuple[str, str]] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    grams: dict[int, int] = field(default_factory=dict)
    sizes: Counter = field(default_factory=Counter)  # entry -> n-grams indexed for it
    _counts: Counter = field(default_factory=Counter)
    _seen_texts: set[str] = field(default_factory=set)

    def add(self, benchmark: str, item_id: str, stem_parts: list[str], options: list[str]) -> None:
        """Index one item: ``stem_parts`` (joined, they are the stem) and its option texts."""
        entry = len(self.entries)
        self.entries.append((benchmark, item_id))
        stem = normalise(" ".join(stem_parts))
        option_keys = [compact(normalise(option)) for option in options]
        for key in [compact(stem)] + [compact(stem) + option for option in option_keys if option]:
            if key:
                self.keys.setdefault(key, entry)
        parts = [normalise(part) for part in stem_parts] + [normalise(option) for option in options]
        part_grams: set[int] = set()
        for text in parts:
            grams = {hash(gram) for gram in ngrams(text, self.ngram, self.char_ngram)}
            part_grams |= grams
            self._count(text, grams, entry)
        if options:
            # The whole item in file order adds the n-grams that span stem and options, so a
            # verbatim copy of a short stem with its options is caught; only those are counted for
            # it, or every stem n-gram would count once per option list (MedQA's 4- and 5-option files).
            whole = " ".join(part for part in parts if part)
            spanning = {hash(gram) for gram in ngrams(whole, self.ngram, self.char_ngram)} - part_grams
            self._count(whole, spanning, entry)

    def _count(self, text: str, grams: set[int], entry: int) -> None:
        """Index ``grams`` for ``entry`` and count them once per distinct normalised text."""
        if text in self._seen_texts:
            return
        self._seen_texts.add(text)
        for gram in grams:
            self._counts[gram] += 1
            self.grams.setdefault(gram, entry)

    def drop_boilerplate(self, max_texts: int) -> int:
        """Forget n-grams found in more than ``max_texts`` distinct texts; return how many."""
        frequent = [gram for gram, count in self._counts.items() if count > max_texts]
        for gram in frequent:
            del self.grams[gram]
        self._counts.clear()
        self._seen_texts.clear()
        self.sizes = Counter(self.grams.values())
        return len(frequent)

    def match(self, segments: list[str], min_hits: int, min_coverage: float) -> Match | None:
        """The benchmark item a row's text segments overlap, or None: a hash match first, else the
        item sharing the most n-grams (at least ``min_hits``, and at least ``min_coverage`` of
        the item's indexed n-grams); ties go to the item indexed first."""
        texts = [text for text in (normalise(segment) for segment in segments) if text]
        if not texts:
            return None
        keys = [compact(text) for text in texts]
        for key in keys + ["".join(keys)] + [keys[0] + key for key in keys[1:]]:
            if key in self.keys:
                benchmark, item_id = self.entries[self.keys[key]]
                return Match(benchmark, item_id, "hash")
        hits: Counter = Counter()
        char_hits: set[int] = set()  # entries hit by character n-grams (unspaced text)
        seen: set[int] = set()  # a row's n-grams count once, whichever segments repeat them
        for text in texts:
            unspaced = is_unspaced(text)
            for gram in {hash(gram) for gram in ngrams(text, self.ngram, self.char_ngram)} - seen:
                seen.add(gram)
                entry = self.grams.get(gram)
                if entry is not None:
                    hits[entry] += 1
                    if unspaced:
                        char_hits.add(entry)
        qualified = [(-count, entry) for entry, count in hits.items()
                     if count >= min_hits and count >= min_coverage * self.sizes[entry]]
        if not qualified:
            return None
        count, entry = min(qualified)
        benchmark, item_id = self.entries[entry]
        kind = f"{self.char_ngram}-char-gram" if entry in char_hits else f"{self.ngram}-gram"
        return Match(benchmark, item_id, kind, -count, -count / self.sizes[entry])


def load_items(source: BenchmarkSource, roles: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """``(item id, stem parts, option texts)`` for every item of one benchmark.

    Raises:
        InputError: the loader's error for a missing or malformed file.
    """
    if source.kind == "jsonl":
        items = []
        for line, row in read_jsonl(source.path):
            segments = row_segments(row, source.text_fields, roles, source.path, line)
            items.append((row_id(row, line), segments[:1], segments[1:]))
        return items
    items = []
    for item in load_benchmark(source.kind, source.path):
        note = item.meta.get("patient_note")
        # MedCalc-Bench (and calculator tasks in its format): the stem is the patient note + the task.
        stem = [note, item.question] if isinstance(note, str) and note.strip() else [item.question]
        items.append((item.id, stem, list(item.options.values())))
    return items


def build_index(config: Config) -> tuple[ContaminationIndex, dict]:
    """The index of every configured benchmark, and per-benchmark item counts plus index sizes."""
    index = ContaminationIndex(config.ngram, config.char_ngram)
    counts = {}
    for source in config.benchmarks:
        items = load_items(source, config.message_roles)
        if not items:
            raise InputError(source.path, f"benchmark {source.name!r} has no items")
        for item_id, stem, options in items:
            index.add(source.name, item_id, stem, options)
        counts[source.name] = len(items)
    boilerplate = index.drop_boilerplate(config.max_ngram_texts)
    return index, {"items": counts, "indexed_ngrams": len(index.grams), "boilerplate_ngrams": boilerplate,
                   "hash_keys": len(index.keys)}


def run(config: Config, ctx: StageContext) -> dict:
    """Drop the rows of ``config.input`` that overlap a benchmark; write data.jsonl, dropped.jsonl, funnel.json."""
    if not Path(config.input).is_file():
        raise InputError(config.input, "file not found")
    index, figures = build_index(config)
    kept, dropped, rows_in = [], [], 0
    hits = {source.name: 0 for source in config.benchmarks}
    items_hit: dict[str, set[str]] = {source.name: set() for source in config.benchmarks}
    kinds: Counter = Counter()
    for line, row in read_jsonl(config.input):
        rows_in += 1
        match = index.match(row_segments(row, config.text_fields, config.message_roles, config.input, line),
                            config.min_ngram_hits, config.min_item_coverage)
        if match is None:
            kept.append(row)
            continue
        record = drop(row, f"contaminated:{match.benchmark}", match.detail())
        record["id"] = row_id(row, line)
        dropped.append(record)
        hits[match.benchmark] += 1
        items_hit[match.benchmark].add(match.item_id)
        kinds["hash" if match.kind == "hash" else "ngram"] += 1
    details = {"n": config.ngram, "char_n": config.char_ngram, "min_ngram_hits": config.min_ngram_hits,
               "min_item_coverage": config.min_item_coverage, "max_ngram_texts": config.max_ngram_texts, "hits": hits,
               "items_hit": {name: len(ids) for name, ids in items_hit.items()},
               "match_kinds": dict(kinds), **figures}
    return write_step(ctx.out_dir, "decontaminate", rows_in=rows_in, kept=kept, dropped=dropped,
                      input_path=config.input, details=details)
