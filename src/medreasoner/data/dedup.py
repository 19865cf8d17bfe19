"""``dedup``: drop near-duplicate questions (WiNGPT-3.0 Fig. 1, "N-gram + Embedding Deduplication").

Rows are read in order and the first of a group of near-duplicates is kept; every later one is
dropped with reason ``near_duplicate`` and the kept row's id as detail. Two rows are near
duplicates when the Jaccard similarity of their shingle sets is at least ``threshold``:

1. text: the row's ``text_fields`` (see :func:`medreasoner.data.text_keys.row_segments`),
   normalised (:func:`~medreasoner.data.text_keys.normalise`) and joined;
2. shingles: word ``shingle``-grams, or character ``char_shingle``-grams for text written without
   spaces (Japanese); a text shorter than one shingle is a single shingle, so it only matches an
   identical text;
3. exact copies (equal normalised text once spaces are removed) are found by hash; the others go
   through MinHash LSH (``datasketch.MinHashLSH``) over the rows kept so far, and each candidate is
   confirmed with the exact Jaccard of the two sets of 32-bit shingle hashes, so the MinHash
   estimate's noise (about +-0.03 at 128 permutations) never drops a distinct question.

Why the recipes use ``shingle: 5`` and ``threshold: 0.9``: the synthetic world's questions are templated
("Setting: ... Patient: ...-year-old ...", the same exam phrases), so two different cases of one
complaint share most words. Measured over 3,400 tiny-world questions with word 5-grams, the most
similar pair of distinct cases (same complaint and findings, another setting or age) has Jaccard
0.86: one changed word inside a 50-word vignette changes 5 of its ~50 shingles. At 0.9 all of
them are kept, while copies that differ in case, spacing, punctuation or a word or two at either
end (Jaccard 0.93-1.0) are dropped. A single changed word can flip a diagnosis, so in a vignette
this short it never makes a duplicate; WiNGPT-3.0 states no threshold.

Optional second pass (``embedding``): mean-pooled last hidden states of a local ``transformers``
model over the rows MinHash kept; a row whose cosine similarity to an earlier kept row is at least
``embedding.threshold`` is dropped with reason ``embedding_duplicate``. The pass compares every
row with every kept row (blocked matrix products on the model's device): quadratic, meant for
pools a GPU can embed, after MinHash has removed the bulk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from pydantic import BaseModel, ConfigDict, Field

from medreasoner.data.funnel import drop, write_step
from medreasoner.data.text_keys import (
    ShingleHasher,
    compact,
    normalise,
    row_id,
    row_segments,
)
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext


class EmbeddingSection(BaseModel):
    """Embedding near-duplicate pass (after MinHash, over the rows it kept).

    Attributes:
        model_path: a local ``transformers`` model directory (``AutoModel`` + ``AutoTokenizer``; no hub access).
        threshold: cosine similarity at or above which a later row is an ``embedding_duplicate``
            (below 1: an exact 1.0 would hinge on float rounding; exact copies are MinHash's job).
        batch_size: texts per forward pass.
        max_length: tokens per text; longer texts are truncated.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    """

    model_config = ConfigDict(extra="forbid")
    model_path: InputPath
    threshold: float = Field(gt=0.0, lt=1.0)
    batch_size: int = Field(ge=1)
    max_length: int = Field(ge=1)
    device: str = Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")


class Config(BaseModel):
    """``kind: dedup`` settings.

    Attributes:
        input: JSONL rows (pool, sample, SFT, CPT, GRPO or preference rows).
        text_fields: fields holding the text to compare (``question`` for pool and sample rows,
            ``text`` for CPT, ``messages`` for SFT, ``prompt`` for GRPO and preference rows).
        message_roles: roles whose turns count in a message-list field; ``[user]`` is recommended,
            because a system prompt shared by every row would make all rows look alike.
        threshold: Jaccard similarity of shingle sets at or above which a later row is a near duplicate.
        shingle: words per shingle.
        char_shingle: characters per shingle for text written without spaces (10 characters of
            Japanese span about as much as 5 English words).
        num_perm: MinHash permutations.
        false_negative_weight: datasketch's weight of missed pairs against false candidates when it
            picks the LSH bands; candidates are confirmed exactly, so false candidates only cost
            time and recall is favoured (0.9: a pair at the threshold is found with p = 0.81, at
            threshold + 0.05 with p = 0.99, for 128 permutations at 0.9).
        seed: seed of the MinHash permutations.
        embedding: optional embedding pass, or null.
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    text_fields: list[str] = Field(min_length=1)
    message_roles: list[str] = Field(min_length=1)
    threshold: float = Field(gt=0.0, le=1.0)
    shingle: int = Field(ge=1)
    char_shingle: int = Field(ge=1)
    num_perm: int = Field(ge=8, le=1024)
    false_negative_weight: float = Field(gt=0.0, lt=1.0)
    seed: int = Field(ge=0)
    embedding: EmbeddingSection | None


def _mix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (an avalanching bijection), applied before the affine
    permutations so that the structure of the polynomial shingle hashes cannot bias the minima."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


# Shingles permuted at once by signatures(): bounds memory (x num_perm x 4 bytes) and keeps the
# working set in cache (measured fastest among 4k-64k); never changes a result.
_SIGNATURE_CHUNK = 1 << 14


def signatures(hash_arrays: list[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (``len(hash_arrays)`` x ``num_perm``, uint32) of non-empty shingle-hash sets.

    The permutations are datasketch's own (``MinHash(num_perm, seed).permutations``: ``a * x + b``
    mod 2^32 with odd ``a``, the "affine32" scheme); the minima are taken for many rows at once with
    ``np.minimum.reduceat`` instead of one ``MinHash.update_batch`` call per row (measured: the
    whole MinHash pass runs 2.5x faster).
    """
    a, b = MinHash(num_perm=num_perm, seed=seed).permutations.astype(np.uint32)
    result = np.empty((len(hash_arrays), num_perm), dtype=np.uint32)
    start = 0
    while start < len(hash_arrays):
        stop, total = start, 0
        while stop < len(hash_arrays) and (stop == start or total + len(hash_arrays[stop]) <= _SIGNATURE_CHUNK):
            total += len(hash_arrays[stop])
            stop += 1
        chunk = hash_arrays[start:stop]
        mixed = _mix32(np.concatenate(chunk))
        offsets = np.cumsum([0] + [len(hashes) for hashes in chunk[:-1]])
        permuted = np.multiply.outer(a, mixed)  # num_perm x shingles: rows contiguous for reduceat
        permuted += b[:, None]
        result[start:stop] = np.minimum.reduceat(permuted, offsets, axis=1).T
        start = stop
    return result


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique hash arrays."""
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)


def read_texts(config: Config) -> tuple[list[dict], list[str], list[str], list[str]]:
    """The input rows, their ids (``line:<n>`` when a row has none), their texts (segments joined
    by newlines) and those texts normalised."""
    rows, ids, raw, texts = [], [], [], []
    for line, row in read_jsonl(config.input):
        segments = row_segments(row, config.text_fields, config.message_roles, config.input, line)
        rows.append(row)
        ids.append(row_id(row, line))
        raw.append("\n".join(segments))
        texts.append(normalise(raw[-1]))
    return rows, ids, raw, texts


def minhash_pass(texts: list[str], config: Config) -> dict[int, tuple[int, float]]:
    """Index of each near-duplicate row -> (index of the kept row it repeats, exact Jaccard).

    Exact copies (same normalised text once spaces are removed) are found by hash first; the rest go
    through LSH, whose index holds only kept rows, so a chain A ~ B ~ C with A !~ C keeps A and C.
    """
    duplicates: dict[int, tuple[int, float]] = {}
    exact: dict[str, int] = {}
    copies: dict[int, int] = {}
    for index, text in enumerate(texts):
        key = compact(text)
        if key in exact:
            copies[index] = exact[key]
        else:
            exact[key] = index
    shingle_hashes = ShingleHasher(config.shingle, config.char_shingle)
    unique = list(exact.values())
    hashes = {index: shingle_hashes(texts[index]) for index in unique}
    sketches = signatures([hashes[index] for index in unique], config.num_perm, config.seed)
    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm,
                     weights=(1.0 - config.false_negative_weight, config.false_negative_weight))
    for index, signature in zip(unique, sketches):
        sketch = LeanMinHash(seed=config.seed, hashvalues=signature, scheme="affine32")
        best = None
        for candidate in lsh.query(sketch):
            similarity = jaccard(hashes[index], hashes[candidate])
            if similarity >= config.threshold and (best is None or (similarity, -candidate) > (best[1], -best[0])):
                best = (candidate, similarity)
        if best is None:
            lsh.insert(index, sketch, check_duplication=False)
        else:
            duplicates[index] = best
    for index, first in copies.items():
        # A copy of a row that was itself dropped repeats the row that one repeats.
        duplicates[index] = duplicates.get(first, (first, 1.0))
    return duplicates


def run(config: Config, ctx: StageContext) -> dict:
    """Drop near-duplicate rows of ``config.input``; write data.jsonl, dropped.jsonl and funnel.json."""
    rows, ids, raw, texts = read_texts(config)
    duplicates = minhash_pass(texts, config)
    dropped = []
    for index, (kept, _) in sorted(duplicates.items()):
        record = drop(rows[index], "near_duplicate", ids[kept])
        record["id"] = ids[index]
        dropped.append(record)
    survivors = [index for index in range(len(rows)) if index not in duplicates]
    details = {"threshold": config.threshold, "shingle": config.shingle, "char_shingle": config.char_shingle,
               "num_perm": config.num_perm, "false_negative_weight": config.false_negative_weight}
    if config.embedding is not None:
        pairs = embedding_duplicates([raw[index] for index in survivors], config.embedding)
        for position, (kept_position, _) in sorted(pairs.items()):
            index = survivors[position]
            record = drop(rows[index], "embedding_duplicate", ids[survivors[kept_position]])
            record["id"] = ids[index]
            dropped.append(record)
        removed = {survivors[position] for position in pairs}
        survivors = [index for index in survivors if index not in removed]
        details["embedding_threshold"] = config.embedding.threshold
    return write_step(ctx.out_dir, "dedup", rows_in=len(rows), kept=[rows[index] for index in survivors],
                      dropped=dropped, input_path=config.input, details=details)


# Rows compared per matrix product in the embedding pass; bounds memory only, never changes a result.
_SIMILARITY_BLOCK = 1024


def embed(texts: list[str], section: EmbeddingSection):
    """L2-normalised mean-pooled last hidden states of ``section.model_path`` (a float32 tensor, one row per text).

    Raises:
        InputError: the model directory is missing or cannot be loaded.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = Path(section.model_path)
    if not path.is_dir():
        raise InputError(path, "embedding.model_path: not a local model directory")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as error:
        raise InputError(path, f"embedding.model_path: cannot load a transformers model ({error})") from None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise InputError(path, "embedding.model_path: the tokenizer has neither a pad nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token  # causal-LM tokenizers often have no pad token
    device = ("cuda" if torch.cuda.is_available() else "cpu") if section.device == "auto" else section.device
    model.to(device).eval()
    vectors = []
    with torch.inference_mode():
        for start in range(0, len(texts), section.batch_size):
            batch = tokenizer(texts[start:start + section.batch_size], padding=True, truncation=True,
                              max_length=section.max_length, return_tensors="pt").to(device)
            hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            vectors.append(torch.nn.functional.normalize(pooled.float(), dim=-1))
    return torch.cat(vectors) if vectors else torch.empty((0, 0))


def embedding_duplicates(texts: list[str], section: EmbeddingSection) -> dict[int, tuple[int, float]]:
    """Index of each embedding duplicate -> (index of the earlier kept text it is closest to, cosine).

    Greedy in input order, like the MinHash pass: a text is compared with every text kept before it.
    """
    import torch

    vectors = embed(texts, section)
    duplicates: dict[int, tuple[int, float]] = {}
    kept_vectors = vectors[:0]
    kept_index: list[int] = []
    for start in range(0, len(texts), _SIMILARITY_BLOCK):
        block = vectors[start:start + _SIMILARITY_BLOCK]
        earlier = block @ kept_vectors.T if kept_index else None
        within = block @ block.T
        block_kept: list[int] = []
        for offset in range(len(block)):
            best_value, best_index = -2.0, -1
            if earlier is not None:
                value, position = earlier[offset].max(dim=0)
                best_value, best_index = float(value), kept_index[int(position)]
            if block_kept:
                value, position = within[offset, block_kept].max(dim=0)
                if float(value) > best_value:
                    best_value, best_index = float(value), start + block_kept[int(position)]
            if best_value >= section.threshold:
                duplicates[start + offset] = (best_index, best_value)
            else:
                block_kept.append(offset)
        kept_vectors = torch.cat([kept_vectors, block[block_kept]])
        kept_index.extend(start + offset for offset in block_kept)
    return duplicates
