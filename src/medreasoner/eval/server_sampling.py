"""Per-row sampling inside one batched ``generate`` call (``medreasoner serve``).

Hugging Face's sampling warpers take one temperature and one top-p per ``generate`` call and draw
from the global random state, so requests with different settings or seeds could not share a batch.
:class:`RowSampler` is a logits processor that draws each sampling row's token itself, with the
row's temperature, top-p and its own ``torch.Generator``, and then leaves only that token finite;
``generate`` runs greedy, so its argmax picks the drawn token. Greedy rows (temperature 0) are not
touched, so their argmax is the model's, exactly as in the HF eval backend.

A row's draws depend only on its seed and its own logits, not on the other rows of the batch (up to
the floating-point effect of padding on the logits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch


class SamplingRow(Protocol):
    """What :class:`RowSampler` reads from a row: its settings, its generator and whether it ended."""

    temperature: float
    top_p: float
    generator: torch.Generator | None
    done: bool


def sample_token(logits: torch.Tensor, *, temperature: float, top_p: float, generator: torch.Generator) -> int:
    """Draw one token id from ``softmax(logits / temperature)`` restricted to the top-``top_p`` mass.

    Args:
        logits: ``(vocab,)`` scores of one row.
        temperature: > 0.
        top_p: in (0, 1]; the smallest set of most likely tokens whose probability reaches ``top_p``
            is kept (at least one token).
        generator: the row's random generator (on the logits' device).
    """
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        # keep a token while the mass before it is still below top_p: the first token always stays
        keep = (sorted_probs.cumsum(0) - sorted_probs) < top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
    return int(torch.multinomial(probs, 1, generator=generator))


class RowSampler:
    """Logits processor: each unfinished sampling row gets its drawn token as the only finite score.

    Args:
        rows: one entry per batch row, in batch order.
    """

    def __init__(self, rows: Sequence[SamplingRow]):
        self.rows = rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for index, row in enumerate(self.rows):
            if row.done or row.temperature == 0:
                continue
            token = sample_token(scores[index], temperature=row.temperature, top_p=row.top_p,
                                 generator=row.generator)
            scores[index].fill_(float("-inf"))
            scores[index, token] = 0.0
        return scores
