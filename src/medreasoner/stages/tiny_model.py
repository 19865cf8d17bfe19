"""Build a tiny randomly initialised Qwen2 model and its byte-level BPE tokenizer (the CPU pipeline's "base model").

No model hub is reachable on the machines the demo runs on, so the first stage after the synthetic
world trains a tokenizer on the world's own texts and saves a fresh Qwen2 model next to it
(:func:`medreasoner.model.build_tiny_model`). Later stages name it ``${tiny_model}`` exactly like
they would name ``Qwen/Qwen2.5-32B``. Real recipes skip this stage and start from a hub model.

The tokenizer corpus is every string value of every JSON row of the listed JSONL files (CPT ``text``,
chat ``content`` and ``reasoning_content``, preference prompts...), so the vocabulary covers the
English and Japanese text the later stages train on.

Launch::

    medreasoner run recipes/tiny/tiny_model.yaml
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medreasoner.errors import InputError
from medreasoner.files import read_jsonl
from medreasoner.model import TINY_SIZES, build_tiny_model
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext


class TokenizerSection(BaseModel):
    """The ``tokenizer:`` section.

    Attributes:
        corpus: JSONL files whose string values train the tokenizer (e.g. ``${world}/cpt/train.jsonl``).
        max_rows_per_file: rows read from each file (bounds the time spent on large corpora).
        vocab_size: upper bound on the vocabulary (BPE stops early when merges run out).
    """

    model_config = ConfigDict(extra="forbid")
    corpus: list[InputPath]
    max_rows_per_file: int = Field(ge=1)
    vocab_size: int = Field(ge=1)


class ModelSection(BaseModel):
    """The ``model:`` section.

    Attributes:
        size: a key of ``medreasoner.model.TINY_SIZES`` (``tiny-0.5m``, ``tiny-3m``, ``tiny-5m``).
        max_position_embeddings: context length in tokens.
    """

    model_config = ConfigDict(extra="forbid")
    size: str
    max_position_embeddings: int = Field(ge=1)

    @field_validator("size")
    @classmethod
    def _known_size(cls, size: str) -> str:
        if size not in TINY_SIZES:
            raise ValueError(f"size must be one of {', '.join(TINY_SIZES)}")
        return size


class Config(BaseModel):
    """``kind: tiny_model`` stage configuration."""

    model_config = ConfigDict(extra="forbid")
    tokenizer: TokenizerSection
    model: ModelSection


def read_corpus(paths: list[str], max_rows_per_file: int) -> list[str]:
    """Collect every string value of the first ``max_rows_per_file`` rows of each JSONL file."""
    texts: list[str] = []
    for path in paths:
        for row_number, (_, row) in enumerate(read_jsonl(path), start=1):
            if row_number > max_rows_per_file:
                break
            texts.extend(_strings(row))
    if not texts:
        raise InputError(paths[0] if paths else "tokenizer.corpus", "tokenizer corpus has no text")
    return texts

def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def run(config: Config, ctx: StageContext) -> dict:
    """Train the tokenizer, build the model and place both directly in ``ctx.out_dir``."""
    corpus = read_corpus(config.tokenizer.corpus, config.tokenizer.max_rows_per_file)
    out_dir = Path(ctx.out_dir)
    # Under a multi-process launch the pipeline runs this stage on rank 0 alone, so any scratch
    # directory already here is a leftover of an interrupted run: it is deleted and the build restarts.
    for leftover in out_dir.glob(".build-*"):
        shutil.rmtree(leftover)
    scratch = Path(tempfile.mkdtemp(dir=out_dir, prefix=".build-"))
    build_dir = scratch / "model"
    build_tiny_model(build_dir, size=config.model.size, corpus=corpus, seed=ctx.seed,
                     vocab_size=config.tokenizer.vocab_size,
                     max_position_embeddings=config.model.max_position_embeddings)
    # build_tiny_model refuses an existing directory; the stage dir already holds the pipeline's
    # config and logs, so the model files are moved into it one by one (each move is atomic).
    for path in sorted(build_dir.iterdir()):
        path.replace(out_dir / path.name)
    shutil.rmtree(scratch)
    with open(out_dir / "config.json", encoding="utf-8") as handle:
        model_config = json.load(handle)
    from safetensors import safe_open

    with safe_open(str(out_dir / "model.safetensors"), framework="pt") as weights:
        num_parameters = sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())
    return {"num_parameters": num_parameters, "vocab_size": model_config["vocab_size"],
            "num_corpus_texts": len(corpus)}

