"""What flows between the runner and a backend: a rendered prompt in, a completion out.

A backend never sees benchmark items: it turns :class:`Prompt` objects into :class:`Completion`
objects under one :class:`GenerationSettings`, so the HF, HTTP and vLLM backends are swappable and
the runner owns item bookkeeping (resume, grading, metrics).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Callable, Literal

PromptStyle = Literal["chat", "completion"]
from medreasoner.think import THINK_CLOSE


@dataclass(frozen=True)
class Prompt:
    """One model input.

    Attributes:
        style: ``"chat"`` (``messages`` go through the model's chat template / the chat endpoint) or
            ``"completion"`` (``text`` is fed verbatim / to the completions endpoint).
        messages: ``({"role", "content"}, ...)``; used when ``style == "chat"``.
        text: the plain prompt; used when ``style == "completion"``.
    """

    style: PromptStyle
    messages: tuple[dict, ...] = ()
    text: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form (what is hashed and what results.json shows as the example prompt)."""
        if self.style == "chat":
            return {"style": "chat", "messages": [dict(m) for m in self.messages]}
        return {"style": "completion", "text": self.text}

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the canonical JSON of this prompt; the resume key together with the item id."""
        canonical = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings shared by every backend; all are recorded in results.json.

    Attributes:
        max_new_tokens: cap on generated tokens per item (thinking included).
        temperature: 0 means greedy decoding; > 0 samples.
        top_p: nucleus mass in (0, 1]: a sampled token is drawn among the likeliest tokens whose
            probabilities sum to at least this (1 = the whole distribution; ignored when greedy).
        seed: random seed for sampling (ignored by greedy decoding, still recorded).
        thinking_budget: if set, at most this many tokens inside ``<think>``; the block is then
            force-closed and the answer gets ``max_new_tokens - thinking_budget`` more tokens.
        batch_size: prompts per forward batch (HF), concurrent requests (HTTP), or vLLM chunk.
    """

    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    thinking_budget: int | None
    batch_size: int

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.thinking_budget is not None and not 0 < self.thinking_budget < self.max_new_tokens:
            raise ValueError("thinking_budget must be between 1 and max_new_tokens - 1")

    def to_dict(self) -> dict:
        """JSON-ready dict of the settings."""
        return asdict(self)


@dataclass(frozen=True)
class Completion:
    """One model output.

    Attributes:
        text: the generated text (for a thinking budget: including the ``<think>`` block).
        prompt_tokens: tokens in the prompt as the model saw it.
        completion_tokens: generated tokens (a forced ``</think>`` counts as generated).
        latency_s: wall seconds of the call that produced it (a whole batch for batched backends).
        finish_reason: ``"stop"`` (end of sequence) or ``"length"`` (hit ``max_new_tokens``).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str


# on_batch(indices into the prompt list, their completions): called as soon as a batch finishes,
# so the runner can append and fsync before the next batch starts.
BatchCallback = Callable[[list[int], list[Completion]], None]


def answer_text(response: str) -> str:
    """The part of a response that is graded: everything after the last ``</think>``.

    Reasoning inside ``<think>`` may mention candidate answers; only the final answer counts.

    >>> answer_text("<think>maybe A</think>The answer is B.")
    'The answer is B.'
    """
    return response.rsplit(THINK_CLOSE, 1)[-1]
