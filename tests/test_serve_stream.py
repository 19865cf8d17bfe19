"""`medreasoner serve` streaming without a model: a scripted byte-level decoder drives one engine row.

Each token is a few bytes of UTF-8 (so a Japanese character or a ``</think>`` can be split across
tokens), decoded as a byte-level BPE tokenizer decodes: the bytes joined, half characters as U+FFFD.
The row's events go through the real SSE writer, so the checks see what a client would.

Run: .venv/bin/python -m pytest tests/test_serve_stream.py -q
"""

from __future__ import annotations

import asyncio
import json

import pytest

from medreasoner.eval.server_engine import Job, RowSpec, RowState
from medreasoner.eval.server_responses import ReplyShape, stream_reply, whole_reply

EOS = 0
REPLY = ("<think>\n患者は３日前から発熱と咳があり、胸部X線で右下葉に浸潤影。</think>\n\n"
         "答え：市中肺炎（\\boxed{B}）です。")


class ScriptedEngine:
    """What a row reads from the engine: end-of-sequence ids and decode (which records how many tokens it got)."""

    def __init__(self, pieces: list[bytes]):
        self.vocab = {index + 1: piece for index, piece in enumerate(pieces)}
        self.eos_ids = {EOS}
        self.decode_sizes: list[int] = []

    def decode(self, tokens: list[int]) -> str:
        self.decode_sizes.append(len(tokens))
        return b"".join(self.vocab[token] for token in tokens).decode("utf-8", errors="replace")


def by_character(text: str) -> list[bytes]:
    """One token per ASCII character, two per multi-byte character (its lead byte, then the rest)."""
    return [part for char in text for data in [char.encode()]
            for part in ([data] if len(data) == 1 else [data[:1], data[1:]])]


def tokenize(text: str, sizes: tuple[int, ...]) -> list[bytes]:
    """The UTF-8 bytes of ``text`` cut into pieces of the given sizes, in turn (characters split anywhere)."""
    data, pieces, at = text.encode("utf-8"), [], 0
    while at < len(data):
        size = sizes[len(pieces) % len(sizes)]
        pieces.append(data[at:at + size])
        at += size
    return pieces


def generate(pieces: list[bytes], *, stream: bool, stop: tuple[str, ...] = (), max_new_tokens: int = 10_000,
             eos: bool = True) -> tuple[Job, ScriptedEngine, asyncio.AbstractEventLoop]:
    """One row fed the scripted tokens (then end of sequence) as ``generate`` would feed it."""
    loop = asyncio.new_event_loop()
    engine = ScriptedEngine(pieces)
    spec = RowSpec(prompt_ids=(1,), max_new_tokens=max_new_tokens, temperature=0.0, top_p=1.0, seed=None, stop=stop)
    job = Job([spec], stream=stream, loop=loop)
    row = RowState(job, 0, spec, engine)
    for token in [*engine.vocab, *([EOS] if eos else [])]:
        row.push(token)
        if row.done:
            break
    assert row.done
    return job, engine, loop


def streamed(pieces: list[bytes], shape: ReplyShape, **options) -> tuple[str, str, list[dict]]:
    """``(reasoning, content)`` a streaming client puts together, and the chunks."""
    job, _, loop = generate(pieces, stream=True, **options)

    async def events() -> list[str]:
        return [event async for event in stream_reply(job, shape)]

    try:
        raw = loop.run_until_complete(events())
    finally:
        loop.close()
    assert raw[-1] == "data: [DONE]\n\n"
    chunks = [json.loads(event.removeprefix("data: ")) for event in raw[:-1]]
    deltas = [choice.get("delta", {"content": choice.get("text")}) for c in chunks for choice in c["choices"]]
    return ("".join(d.get("reasoning_content") or "" for d in deltas),
            "".join(d.get("content") or "" for d in deltas), chunks)


def whole(pieces: list[bytes], shape: ReplyShape, **options) -> dict:
    """The choice of the same reply, not streamed."""
    job, _, loop = generate(pieces, stream=False, **options)
    try:
        return loop.run_until_complete(whole_reply(job, shape))["choices"][0]
    finally:
        loop.close()


def shape(*, chat: bool = True, split: bool = True, opened: bool = False) -> ReplyShape:
    return ReplyShape(chat=chat, model="tiny", prompt_tokens=(1,), split=split, opened=opened, include_usage=False)


@pytest.mark.parametrize("stop", [(), ("never appears",)])
def test_a_long_streamed_reply_decodes_a_few_tokens_per_step(stop):
    # 2,000+ tokens, every Japanese character split in two: decoding the whole reply at every step
    # would pass ~2,000,000 tokens to the decoder. (A step decodes the tokens since the last one that
    # ended a character, plus the piece before: a handful, as in real byte-level BPE text.)
    pieces = by_character(REPLY * 20)
    assert len(pieces) >= 2000
    _, engine, loop = generate(pieces, stream=True, stop=stop)
    loop.close()
    *steps, final = engine.decode_sizes
    assert final == len(pieces)  # the finished reply is decoded whole, once
    assert max(steps) <= 6 and sum(engine.decode_sizes) < 10 * len(pieces)  # linear, not ~n²/2


@pytest.mark.parametrize("sizes", [(1,), (2,), (1, 2), (4, 1), (5,), (3, 7)])
@pytest.mark.parametrize("opened", [False, True])
def test_streamed_chunks_add_up_to_the_whole_reply(sizes, opened):
    text = REPLY.removeprefix("<think>") if opened else REPLY
    pieces = tokenize(text, sizes)
    # the tokenization does split characters and the closing tag, or the test would prove little
    assert any("\ufffd" in piece.decode("utf-8", errors="replace") for piece in pieces)
    assert not any(b"</think>" in piece for piece in pieces)
    reasoning, content, chunks = streamed(pieces, shape(opened=opened))
    assert len(chunks) > 10  # piece by piece, not one chunk at the end
    message = whole(pieces, shape(opened=opened))["message"]
    assert (reasoning, content) == (message["reasoning_content"], message["content"])
    assert reasoning.startswith("\n患者は") and content == "\n\n答え：市中肺炎（\\boxed{B}）です。"
    assert "\ufffd" not in reasoning + content


@pytest.mark.parametrize("sizes", [(1,), (2, 3), (5,)])
def test_unsplit_and_completion_streams_add_up_to_the_text(sizes):
    pieces = tokenize(REPLY, sizes)
    for reply_shape, read in ((shape(split=False), lambda c: c["message"]["content"]),
                              (shape(chat=False, split=False), lambda c: c["text"])):
        _, content, _ = streamed(pieces, reply_shape)
        assert content == read(whole(pieces, reply_shape)) == REPLY


@pytest.mark.parametrize("sizes", [(1,), (2,), (4, 1)])
def test_a_stop_string_split_across_tokens_ends_the_streamed_reply_before_it(sizes):
    pieces = tokenize(REPLY, sizes)
    reasoning, content, chunks = streamed(pieces, shape(), stop=("肺炎",))
    message = whole(pieces, shape(), stop=("肺炎",))["message"]
    assert (reasoning, content) == (message["reasoning_content"], message["content"])
    assert content == "\n\n答え：市中" and "肺" not in content
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == ["stop"]


def test_a_reply_cut_inside_a_character_ends_with_what_the_decoder_makes_of_it():
    # max_tokens stops the row one byte into a three-byte character: the final text is the decoder's
    # (U+FFFD for the half character), and the stream, which held that byte back, still adds up to it.
    data = "熱があります".encode()
    pieces = [data[:1], data[1:4], data[4:]]
    _, content, _ = streamed(pieces, shape(split=False), max_new_tokens=2, eos=False)
    assert content == whole(pieces, shape(split=False), max_new_tokens=2, eos=False)["message"]["content"]
    assert content == "熱\ufffd"
