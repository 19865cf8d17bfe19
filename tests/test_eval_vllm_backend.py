"""The vllm eval backend's text clean-up, on vLLM-shaped outputs (vLLM itself is not needed).

bench/vllm_cpu_check.sh runs the backend with vLLM for real and compares it with the HF backend; this
checks the rule it led to: a completion that stopped at end-of-sequence loses that token's text, any
other stop keeps its text. Run: .venv/bin/pytest tests/test_eval_vllm_backend.py -q
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from medreasoner.eval.backends.vllm import VLLMBackend

EOS_ID, THINK_CLOSE_ID = 2, 7


class Vocabulary:
    """Decodes the two special ids the cases use (the backend only decodes the last token)."""

    def decode(self, ids, skip_special_tokens):
        assert skip_special_tokens is False
        return {EOS_ID: "<|im_end|>", THINK_CLOSE_ID: "</think>"}[ids[0]]


@pytest.fixture
def backend():
    instance = object.__new__(VLLMBackend)  # no engine: _visible reads only the tokenizer
    instance.tokenizer = Vocabulary()
    return instance


@pytest.mark.parametrize("text, token_ids, finish, stop_reason, expected", [
    ("\\boxed{A}<|im_end|>", [5, EOS_ID], "stop", None, "\\boxed{A}"),          # stopped at EOS
    ("thinking</think>", [5, THINK_CLOSE_ID], "stop", "</think>", "thinking</think>"),  # a stop string
    ("cut off<|im_end|>", [5, 6], "length", None, "cut off<|im_end|>"),       # ran out of tokens
    ("", [], "stop", None, ""),
])
def test_only_an_end_of_sequence_stop_loses_its_token(backend, text, token_ids, finish, stop_reason, expected):
    out = SimpleNamespace(text=text, token_ids=token_ids, finish_reason=finish, stop_reason=stop_reason)
    assert backend._visible(out) == expected
