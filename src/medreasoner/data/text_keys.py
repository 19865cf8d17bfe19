"""Text keys for the ``dedup`` and ``decontaminate`` steps: which text a row carries, normalised,
cut into word or character n-grams.

Normalisation (:func:`normalise`): Unicode NFKC (full-width letters and digits fold to ASCII),
case folding, every character that is neither a letter nor a digit (punctuation, symbols,
underscore) becomes a space, and runs of whitespace collapse to one space. This is the usual
contamination-check normalisation (lower case, no punctuation, whitespace-insensitive) made
Unicode-aware, so a copy that was re-cased, re-spaced or re-punctuated yields the same words.

Scripts written without spaces (Japanese, Chinese) have no words to count, so such text is cut
into character n-grams instead (:func:`is_unspaced` decides per text segment).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medreasoner.errors import InputError

# Anything that is not a letter or digit; "_" counts as a word character for \w, so it is listed.
_NOT_WORD = re.compile(r"[\W_]+")
# Kana and CJK ideographs (with extension A and compatibility forms); Korean is written with spaces.
_UNSPACED_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Letters of any script (digits and "_" excluded).
_LETTER = re.compile(r"[^\W\d_]")
# A segment is "unspaced" when at least this share of its letters are from the scripts above.
# IgakuQA stems mix kanji/kana with Latin lab names ("CRP", "mg/dL") and many digits, so digits do
# not count; English text quoting a Japanese term stays far below.
UNSPACED_SHARE = 0.5


def normalise(text: str) -> str:
    """NFKC, casefold, punctuation and symbols to spaces, whitespace collapsed.

    >>> normalise("A 45-year-old  MAN,\\ncomes   in!")
    'a 45 year old man comes in'
    >>> normalise("６５歳の男性。")
    '65歳の男性'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def is_unspaced(normalised: str) -> bool:
    """Whether a normalised text's letters are mostly from a script written without spaces (see
    :data:`UNSPACED_SHARE`).

    >>> is_unspaced("血圧 106 58mmhg 呼吸数 18 分"), is_unspaced("fever and cough 発熱")
    (True, False)
    """
    if normalised.isascii():
        return False
    letters = len(_LETTER.findall(normalised))
    return letters > 0 and len(_UNSPACED_CHAR.findall(normalised)) >= UNSPACED_SHARE * letters


def compact(normalised: str) -> str:
    """The hash key of a normalised text: all spaces removed, so splitting or joining words
    ("re-spacing") and the spaces a Japanese text may or may not carry do not change it."""
    return normalised.replace(" ", "")


def word_ngrams(words: Sequence[str], n: int) -> list[str]:
    """All contiguous ``n``-word sequences, joined by a space (none when there are fewer than ``n`` words)."""
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def char_ngrams(text: str, n: int) -> list[str]:
    """All contiguous ``n``-character substrings (none when the text is shorter than ``n``)."""
    return [text[i:i + n] for i in range(len(text) - n + 1)]


def ngrams(normalised: str, word_n: int, char_n: int) -> list[str]:
    """Word ``word_n``-grams of a normalised text, or character ``char_n``-grams of its compact
    form when it is unspaced (:func:`is_unspaced`). Empty when the text is too short: such a text
    can only be matched as a whole."""
    if is_unspaced(normalised):
        return char_ngrams(compact(normalised), char_n)
    return word_ngrams(normalised.split(" "), word_n)


# Odd multiplier of the polynomial shingle hash (mod 2^64): shingle = sum(unit_hash[i] * BASE^(k-1-i)).
_BASE = np.uint64(0x9E3779B97F4A7C15)


class ShingleHasher:
    """Hashes of a text's shingles: units (words, or characters of unspaced text) are hashed once
    each with CRC-32 (cached: templated questions reuse a small vocabulary), and the k units of
    each shingle are combined by a polynomial hash in numpy, folded to 32 bits. Stable across runs
    and processes, unlike Python's salted ``hash``."""

    def __init__(self, shingle: int, char_shingle: int):
        self.sizes = {False: shingle, True: char_shingle}
        self.powers = {unspaced: _BASE ** np.arange(size - 1, -1, -1, dtype=np.uint64)
                       for unspaced, size in self.sizes.items()}
        self.units: dict[str, int] = {}

    def __call__(self, normalised: str) -> np.ndarray:
        """Sorted unique shingle hashes (uint32); a text shorter than one shingle is one shingle."""
        unspaced = is_unspaced(normalised)
        units = list(compact(normalised)) if unspaced else normalised.split(" ")
        cache = self.units
        hashes = np.fromiter((cache[u] if u in cache else cache.setdefault(u, zlib.crc32(u.encode("utf-8")))
                              for u in units), dtype=np.uint64, count=len(units))
        size, powers = self.sizes[unspaced], self.powers[unspaced]
        if len(units) < size:
            size, powers = len(units), powers[len(powers) - len(units):]
        count = len(units) - size + 1
        combined = hashes[:count] * powers[0]  # uint64 arithmetic wraps: the hash is mod 2^64
        for offset in range(1, size):
            combined += hashes[offset:offset + count] * powers[offset]
        return np.unique(((combined >> np.uint64(32)) ^ combined).astype(np.uint32))


def row_id(row: dict, line: int) -> str:
    """A row's ``id`` as a string, or ``line:<n>`` for rows without one (CPT, SFT, preference rows)."""
    value = row.get("id")
    return f"line:{line}" if value is None else str(value)


def row_segments(row: dict, fields: Sequence[str], roles: Sequence[str], path: str | Path, line: int) -> list[str]:
    """The texts a row carries in ``fields``, one segment per string, message or option.

    A field may hold a string (``question``, ``text``), a list of chat messages (``messages``,
    ``prompt``, ``chosen``: the ``content`` of the turns whose ``role`` is in ``roles``), or a
    mapping of strings (``options``: each value is a segment).

    Raises:
        InputError: a field is missing or holds anything else, or the row has no text at all
            (naming file, line and field).
    """
    segments: list[str] = []
    for field in fields:
        value = row.get(field)
        if isinstance(value, str):
            segments.append(value)
        elif isinstance(value, list):
            segments.extend(_message_texts(value, roles, path, line, field))
        elif isinstance(value, dict) and all(isinstance(text, str) for text in value.values()):
            segments.extend(value.values())
        elif field not in row:
            raise InputError(path, "missing field (see the step's text_fields)", line=line, field=field)
        else:
            raise InputError(path, f"expected a string, a list of chat messages or a mapping of strings, "
                             f"got {type(value).__name__}", line=line, field=field)
    if not segments:
        # Silently comparing empty texts would make every such row a duplicate of the first.
        raise InputError(path, f"no text in {list(fields)} (message roles {list(roles)})", line=line, field=fields[0])
    return segments


def _message_texts(messages: list, roles: Sequence[str], path: str | Path, line: int, field: str) -> list[str]:
    texts = []
    for index, message in enumerate(messages):
        where = f"{field}[{index}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InputError(path, "expected a chat message {\"role\": ..., \"content\": ...}", line=line, field=where)
        if message["role"] not in roles:
            continue
        content = message.get("content")
        if not isinstance(content, str):
            raise InputError(path, f"expected a string, got {type(content).__name__}", line=line,
                             field=f"{where}.content")
        texts.append(content)
    return texts
