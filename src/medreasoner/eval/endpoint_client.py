"""The one client for OpenAI-compatible endpoints, on the ``openai`` package.

``medreasoner eval --endpoint`` (:mod:`.backends.openai_api`), the ``generate`` step
(:mod:`medreasoner.data.generate_endpoint`) and the judges (:mod:`medreasoner.rewards.judges`: the VRM
reward, ``vrm_data``, ``difficulty``) all send their requests through :func:`run_requests`.

One retry policy, the ``openai`` client's own: up to ``max_retries`` retries after connection errors,
timeouts and HTTP 408, 409, 429 and 5xx, waiting 0.5 s x 2^k (at most 8 s, less up to 25 % jitter)
or the server's ``Retry-After`` (up to 60 s). Any other status (400, 401, 403, 404, 422, ...) fails at
once: the request itself is wrong and would fail again. One addition, within the same budget of
``max_retries + 1`` attempts per request: a 200 whose body is not a usable completion (not JSON, no
choices, no message, no token usage where the caller needs it) is asked again, because a proxy
hiccup looks like that as often as like a 502.

``timeout_s`` is the ``openai`` client's ``timeout``: it bounds connecting, sending and each wait for
the server's bytes, so for a non-streaming request the whole generation must fit in it.

The reasoning is kept: servers with a reasoning parser send the thought apart from the answer
(``message.reasoning_content``; some name it ``reasoning``). :attr:`Answer.reasoning` holds it and
:meth:`Answer.inline` puts it back as ``<think>reasoning</think>content``, the text a local model
would have produced, which is what the verifiers grade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

import openai

from medreasoner.think import join_reasoning

RETRIED_STATUS = frozenset({408, 409, 429})  # and every status >= 500: what the openai client retries
# The openai client insists on a key; with no key this placeholder is set and the header is removed per request.
NO_KEY = "no-key"

Item = TypeVar("Item")
Result = TypeVar("Result")

# Attempts of the request being made in this asyncio task (counted by the client's request hook).
_ATTEMPTS: ContextVar[list[int] | None] = ContextVar("medreasoner_endpoint_attempts", default=None)


@dataclass(frozen=True)
class EndpointSettings:
    """Where and how to send requests.

    Attributes:
        base_url: the API root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        api_key: sent as ``Authorization: Bearer <key>``; None sends no Authorization header.
        timeout_s: per-attempt timeout in seconds (connect, send, each read wait).
        max_retries: attempts after the first one for a retryable failure.
    """

    base_url: str
    api_key: str | None
    timeout_s: float
    max_retries: int

    def __post_init__(self) -> None:
        if self.max_retries < 0 or not self.timeout_s > 0:
            raise ValueError(f"need max_retries >= 0 and timeout_s > 0, got {self.max_retries}, {self.timeout_s}")


@dataclass(frozen=True)
class Answer:
    """One reply.

    Attributes:
        content: the answer text (``message.content`` or a completion's ``text``; "" when null).
        reasoning: the server's separate reasoning (``reasoning_content`` / ``reasoning``); None when
            it sent none (the reasoning may then be inline in ``content``).
        prompt_tokens: from ``usage`` (None when the server sent no usage).
        completion_tokens: from ``usage``, reasoning included (None when absent).
        finish_reason: ``"stop"``, ``"length"`` or what the server said (``"unknown"`` when absent).
    """

    content: str
    reasoning: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str

    def inline(self) -> str:
        """The whole reply with the reasoning inline (:func:`medreasoner.eval.reasoning.join_reasoning`)."""
        return join_reasoning(self.reasoning, self.content, self.finish_reason)


class EndpointFailure(Exception):
    """A request that failed for good.

    Attributes:
        reason: ``"endpoint_error"`` (HTTP error, connection, timeout) or ``"bad_response"`` (a 200
            that is not a usable completion).
        detail: one line: the status or error and the server's message, and how many attempts were made.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class EndpointClient:
    """An ``openai.AsyncOpenAI`` with the retry policy of this module; use inside one event loop.

    Args:
        settings: endpoint, key, timeout and retry budget.
    """

    def __init__(self, settings: EndpointSettings):
        self.settings = settings
        self.attempts = 0  # requests sent, retries included
        self._headers = {} if settings.api_key else {"Authorization": openai.Omit()}
        http = openai.DefaultAsyncHttpxClient(event_hooks={"request": [self._count_attempt]})
        self._client = openai.AsyncOpenAI(base_url=settings.base_url, api_key=settings.api_key or NO_KEY,
                                          timeout=settings.timeout_s, max_retries=settings.max_retries,
                                          http_client=http)

    async def _count_attempt(self, request) -> None:
        self.attempts += 1
        attempts = _ATTEMPTS.get()
        if attempts is not None:
            attempts[0] += 1

    async def chat(self, messages: list[dict], *, need_usage: bool, **params) -> Answer:
        """One ``/chat/completions`` request (``params``: ``model``, ``max_tokens``, ``temperature``, ...).

        Raises:
            EndpointFailure: it failed for good.
        """
        return await self._ask("chat", need_usage, {"messages": messages, **params})

    async def complete(self, prompt: str, *, need_usage: bool, **params) -> Answer:
        """One ``/completions`` request; see :meth:`chat`."""
        return await self._ask("completion", need_usage, {"prompt": prompt, **params})

    async def close(self) -> None:
        """Close the connections."""
        await self._client.close()

    async def _ask(self, kind: str, need_usage: bool, request: dict) -> Answer:
        attempts = [0]
        _ATTEMPTS.set(attempts)
        budget = self.settings.max_retries + 1
        while True:
            client = self._client if not attempts[0] else self._client.with_options(
                max_retries=budget - attempts[0] - 1)
            resource = client.chat.completions if kind == "chat" else client.completions
            try:
                response = await resource.create(**request, extra_headers=self._headers)
            except openai.APIStatusError as error:
                retried = error.status_code in RETRIED_STATUS or error.status_code >= 500
                raise EndpointFailure("endpoint_error", f"HTTP {error.status_code}: {_short(error.message)}"
                                      + (_gave_up(attempts[0]) if retried else "")) from None
            except openai.APIConnectionError as error:  # timeouts included
                raise EndpointFailure("endpoint_error",
                                      f"{type(error).__name__}: {_short(str(error))}{_gave_up(attempts[0])}") from None
            except ValueError as error:  # a 200 with a JSON content type whose body does not parse
                outcome = f"body is not valid JSON ({_short(str(error))})"
            else:
                outcome = parse_answer(response, chat=kind == "chat", need_usage=need_usage)
                if isinstance(outcome, Answer):
                    return outcome
            if attempts[0] >= budget:
                raise EndpointFailure("bad_response", outcome + _gave_up(attempts[0]))


def parse_answer(response: object, *, chat: bool, need_usage: bool) -> Answer | str:
    """An :class:`Answer` from a (chat) completion, or a one-line reason why it is not usable."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list):
        return f"not a {'chat ' if chat else ''}completion: {_short(repr(response))}"
    if not choices:
        return "no choices in the response"
    choice = choices[0]
    reasoning = None
    if chat:
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        # vLLM's reasoning parsers, transformers serve and medreasoner serve send reasoning_content;
        # some servers name the field "reasoning".
        reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
        reasoning = reasoning if isinstance(reasoning, str) else None
        if not isinstance(text, str) and reasoning is None:
            return "the message has no content"
    else:
        text = getattr(choice, "text", None)
        if not isinstance(text, str):
            return "the choice has no text"
    usage = getattr(response, "usage", None)
    prompt_tokens, completion_tokens = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    if need_usage and not (isinstance(prompt_tokens, int) and isinstance(completion_tokens, int)):
        return "no token usage in the response"
    finish = getattr(choice, "finish_reason", None)
    return Answer(content=text if isinstance(text, str) else "", reasoning=reasoning,
                  prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
                  completion_tokens=completion_tokens if isinstance(completion_tokens, int) else None,
                  finish_reason=finish if isinstance(finish, str) else "unknown")


def run_requests(settings: EndpointSettings, items: Iterable[Item], *, concurrency: int,
                 send: Callable[[EndpointClient, Item], Awaitable[Result]],
                 on_done: Callable[[Item, Result | EndpointFailure], None]) -> int:
    """Send one request per item with ``concurrency`` in flight; blocks until every item is answered.

    Args:
        settings: the endpoint.
        items: consumed lazily by ``concurrency`` workers (a worker takes the next item when it is free).
        send: makes the item's request(s) with the client, e.g. ``client.chat(...)``.
        on_done: gets each item with its result or its :class:`EndpointFailure`, in completion order,
            on the calling thread. An exception it raises stops the run and propagates.

    Returns:
        requests sent, retries included.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")

    async def run() -> int:
        client = EndpointClient(settings)
        pending = iter(items)

        async def worker() -> None:
            for item in pending:
                try:
                    result = await send(client, item)
                except EndpointFailure as failure:
                    result = failure
                on_done(item, result)

        try:
            # A task group: when on_done raises, the other workers are cancelled before the client closes.
            async with asyncio.TaskGroup() as group:
                for _ in range(concurrency):
                    group.create_task(worker())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        finally:
            await client.close()
        return client.attempts

    return asyncio.run(run())


def _gave_up(attempts: int) -> str:
    return f" (gave up after {attempts} attempt{'s' if attempts != 1 else ''})"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
