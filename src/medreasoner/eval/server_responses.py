"""Replies of ``medreasoner serve`` in the OpenAI formats: whole responses and server-sent-event streams.

A request's choices come from the engine as :class:`~.server_engine.Done` events (and
:class:`~.server_engine.Delta` events while streaming). Chat replies carry the reasoning split
(``message.reasoning_content`` / ``delta.reasoning_content``) when the server splits reasoning.

A stream is ``data: <chunk JSON>`` events: first a role chunk per choice (chat), then text deltas,
then a chunk with each choice's ``finish_reason``, a usage chunk when
``stream_options.include_usage`` is set, and ``data: [DONE]``. A failure mid-stream is sent as a
``data: {"error": ...}`` event before ``[DONE]`` (headers are already out, so no status code).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from medreasoner.eval.reasoning import ReasoningStream
from medreasoner.eval.server_engine import Done, Failed, Job
from medreasoner.eval.server_schema import APIError
from medreasoner.think import split_reasoning


@dataclass(frozen=True)
class ReplyShape:
    """What a reply looks like, fixed per request.

    Attributes:
        chat: chat completion (messages, deltas) or text completion (``text``).
        model: the served model name echoed in every reply.
        prompt_tokens: prompt tokens of each prompt (a completion request may have several).
        split: split ``<think>`` reasoning from the content (chat only).
        opened: the prompt ends inside an opened ``<think>`` (the reply starts with reasoning).
        include_usage: a streamed reply ends with a usage chunk.
    """

    chat: bool
    model: str
    prompt_tokens: tuple[int, ...]
    split: bool
    opened: bool
    include_usage: bool

    @property
    def kind(self) -> str:
        """The ``object`` of a whole reply."""
        return "chat.completion" if self.chat else "text_completion"

    def envelope(self, reply_id: str, created: int, kind: str, choices: list[dict]) -> dict:
        """The fields every reply and chunk shares."""
        return {"id": reply_id, "object": kind, "created": created, "model": self.model, "choices": choices}

    def usage(self, completion_tokens: int) -> dict:
        """The usage block (each prompt counted once, as OpenAI counts ``n`` choices)."""
        prompt = sum(self.prompt_tokens)
        return {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
                "total_tokens": prompt + completion_tokens}


def new_reply_id(shape: ReplyShape) -> str:
    """``chatcmpl-…`` or ``cmpl-…``, unique per reply."""
    return f"{'chatcmpl' if shape.chat else 'cmpl'}-{uuid.uuid4().hex}"


async def whole_reply(job: Job, shape: ReplyShape) -> dict:
    """Wait for every choice of ``job`` and return the response body."""
    done: dict[int, Done] = {}
    while len(done) < len(job.rows):
        event = await job.events.get()
        if isinstance(event, Failed):
            raise APIError(500, event.message, kind="server_error")
        if isinstance(event, Done):
            done[event.row] = event
    choices = [_choice(shape, row, done[row]) for row in range(len(job.rows))]
    body = shape.envelope(new_reply_id(shape), int(time.time()), shape.kind, choices)
    body["usage"] = shape.usage(sum(d.completion_tokens for d in done.values()))
    return body


def _choice(shape: ReplyShape, index: int, done: Done) -> dict:
    if not shape.chat:
        return {"index": index, "text": done.text, "finish_reason": done.finish_reason, "logprobs": None}
    message = {"role": "assistant", "content": done.text}
    if shape.split:
        reasoning, content = split_reasoning(done.text, opened=shape.opened)
        message = {"role": "assistant", "content": content, "reasoning_content": reasoning}
    return {"index": index, "message": message, "finish_reason": done.finish_reason, "logprobs": None}


async def stream_reply(job: Job, shape: ReplyShape) -> AsyncIterator[str]:
    """The server-sent events of ``job`` (module docstring); marks the job cancelled if the client leaves."""
    reply_id, created = new_reply_id(shape), int(time.time())
    kind = "chat.completion.chunk" if shape.chat else "text_completion"
    sent = [0] * len(job.rows)  # characters of each choice already passed on
    streams = [ReasoningStream(opened=shape.opened) for _ in job.rows]
    completion_tokens = 0

    def chunk(choices: list[dict]) -> str:
        body = shape.envelope(reply_id, created, kind, choices)
        if shape.include_usage:
            body["usage"] = None
        return event(body)

    try:
        if shape.chat:
            yield chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None,
                          "logprobs": None} for i in range(len(job.rows))])
        remaining, failed = len(job.rows), False
        while remaining and not failed:
            update = await job.events.get()
            if isinstance(update, Failed):
                yield event(APIError(500, update.message, kind="server_error").body())
                failed = True
                continue
            final = isinstance(update, Done)
            # a Delta carries new text; a Done the whole text, all of it normally streamed already
            new = update.text[sent[update.row]:] if final else update.text
            sent[update.row] += len(new)
            delta = _delta(shape, streams[update.row], new, final)
            if delta:
                yield chunk([{"index": update.row, **delta, "finish_reason": None, "logprobs": None}])
            if final:
                remaining -= 1
                completion_tokens += update.completion_tokens
                empty = {"delta": {}} if shape.chat else {"text": ""}
                yield chunk([{"index": update.row, **empty, "finish_reason": update.finish_reason, "logprobs": None}])
        if shape.include_usage and not failed:
            yield event({**shape.envelope(reply_id, created, kind, []), "usage": shape.usage(completion_tokens)})
        yield "data: [DONE]\n\n"
    finally:
        job.cancelled = True  # no effect once every row is done; stops the rows of a client that left


def _delta(shape: ReplyShape, stream: ReasoningStream, new: str, final: bool) -> dict | None:
    """The choice fields for ``new``, the text added to the choice (only it is read: linear time)."""
    if shape.chat and shape.split:
        reasoning, content = stream.feed(new, final=final)
        delta = {**({"reasoning_content": reasoning} if reasoning else {}), **({"content": content} if content else {})}
        return {"delta": delta} if delta else None
    if not new:
        return None
    return {"delta": {"content": new}} if shape.chat else {"text": new}


def event(body: dict) -> str:
    """One server-sent event carrying ``body`` as JSON."""
    return f"data: {json.dumps(body, ensure_ascii=False, separators=(',', ':'))}\n\n"
