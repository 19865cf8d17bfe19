"""The endpoint side of ``generate``: chat requests to any OpenAI-compatible server, bounded and retried.

``concurrency`` worker coroutines share one iterator of jobs, so exactly that many requests are in
flight until the jobs run out. The ``openai`` client runs with ``max_retries=0``: retries are ours,
so every attempt is counted and the policy is the one written here:

* retried: HTTP 408, 409, 429 and every 5xx, connection errors, timeouts, and garbage answers
  (a body that is not JSON, no choices, no message, no token usage): a proxy hiccup looks like
  garbage as often as like a 502;
* not retried: any other HTTP status (400, 401, 404, ...): the request itself is wrong;
* the delay before retry ``k`` (0-based) is ``min(backoff_max_s, backoff_initial_s * 2**k)`` times a
  random factor in [0.5, 1] (jitter, so parallel workers do not retry in lockstep); a longer numeric
  ``Retry-After`` header wins, capped at ``backoff_max_s``.

A request that fails for good becomes a :class:`Failure` (``endpoint_error`` or ``bad_response``)
that the caller records as a drop; nothing here raises for one bad request.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import openai
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RETRY_STATUS = frozenset({408, 409, 429})  # plus every status >= 500
NO_KEY = "EMPTY"  # sent when the key variable is unset: local servers (vLLM, medreasoner serve) ignore it


class EndpointSection(BaseModel):
    """``endpoint:`` settings of the ``generate`` step.

    Attributes:
        base_url: the API root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        api_key_env: name of the environment variable holding the API key (unset: no real key sent).
        concurrency: requests in flight at once.
        timeout_s: per-attempt timeout in seconds (connect + generate + read).
        max_retries: attempts after the first one for a retryable failure.
        backoff_initial_s: delay before the first retry, in seconds (doubles per retry).
        backoff_max_s: cap on one delay, in seconds.
    """

    model_config = ConfigDict(extra="forbid")
    base_url: str
    api_key_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    concurrency: int = Field(ge=1)
    timeout_s: float = Field(gt=0)
    max_retries: int = Field(ge=0)
    backoff_initial_s: float = Field(ge=0)
    backoff_max_s: float = Field(ge=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http(s) URL such as http://127.0.0.1:8000/v1, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _backoff_order(self) -> EndpointSection:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(f"backoff_max_s ({self.backoff_max_s}) is below "
                             f"backoff_initial_s ({self.backoff_initial_s})")
        return self


@dataclass(frozen=True)
class Reply:
    """One generated sample as the generator returned it (any backend).

    Attributes:
        text: the message content (the whole generated text for local backends; may hold an inline
            ``<think>`` block).
        reasoning: the server's separate ``reasoning_content`` (None when it sent none).
        prompt_tokens: prompt tokens as the model saw them.
        completion_tokens: generated tokens (reasoning included).
        finish_reason: ``"stop"``, ``"length"`` or what the server said.
    """

    text: str
    reasoning: str | None
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass(frozen=True)
class Failure:
    """A request that failed for good: a drop ``reason`` and a one-line ``detail``."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Job:
    """One request: the caller's ``key`` (handed back), the chat ``messages`` and the sampling ``seed``."""

    key: object
    messages: list[dict]
    seed: int


@dataclass
class RequestStats:
    """Counts over a run: ``attempts`` sent (retries included) and ``retries`` among them."""

    attempts: int = 0
    retries: int = 0


def make_client(section: EndpointSection) -> openai.AsyncOpenAI:
    """The async ``openai`` client for ``section`` with the library's own retries off."""
    key = os.environ.get(section.api_key_env) or NO_KEY
    return openai.AsyncOpenAI(base_url=section.base_url, api_key=key, max_retries=0, timeout=section.timeout_s)


def run_jobs(jobs: Iterable[Job], section: EndpointSection, request: dict,
             on_reply: Callable[[Job, Reply], None], on_failure: Callable[[Job, Failure], None]) -> RequestStats:
    """Send every job with ``section.concurrency`` requests in flight; blocks until all are answered.

    Args:
        jobs: the requests (consumed lazily, so a million jobs need no queue).
        section: endpoint, concurrency, timeout and retry settings.
        request: the other ``chat.completions.create`` keywords (``model``, ``max_tokens``,
            ``temperature``, ``top_p``).
        on_reply: called in completion order with each successful job (same thread as the caller).
        on_failure: called with each job that failed for good.

    Returns:
        attempt and retry counts.
    """
    return asyncio.run(_run(jobs, section, request, on_reply, on_failure))


async def _run(jobs, section, request, on_reply, on_failure) -> RequestStats:
    stats = RequestStats()
    pending = iter(jobs)
    async with make_client(section) as client:
        async def worker() -> None:
            for job in pending:  # one shared iterator: a worker takes the next job when it is free
                outcome = await request_with_retries(client, job, section, request, stats)
                (on_reply if isinstance(outcome, Reply) else on_failure)(job, outcome)

        await asyncio.gather(*(worker() for _ in range(section.concurrency)))
    return stats


async def request_with_retries(client: openai.AsyncOpenAI, job: Job, section: EndpointSection, request: dict,
                               stats: RequestStats) -> Reply | Failure:
    """One job's attempts under the retry policy of this module; never raises for an HTTP problem."""
    failure = Failure("endpoint_error", "no attempt made")
    retry_after = None
    for attempt in range(section.max_retries + 1):
        if attempt:
            stats.retries += 1
            await asyncio.sleep(backoff_delay(section, attempt - 1, retry_after))
        stats.attempts += 1
        retry_after = None
        try:
            response = await client.chat.completions.create(messages=job.messages, seed=job.seed, **request)
        except openai.APIStatusError as error:
            failure = Failure("endpoint_error", f"HTTP {error.status_code}: {_short(error.message)}")
            if not (error.status_code in RETRY_STATUS or error.status_code >= 500):
                return failure
            retry_after = _retry_after(error.response)
            continue
        except openai.APIConnectionError as error:  # APITimeoutError included
            failure = Failure("endpoint_error", f"{type(error).__name__}: {_short(str(error))}")
            continue
        except ValueError as error:  # a 200 whose JSON body does not parse
            failure = Failure("bad_response", f"body is not valid JSON ({_short(str(error))})")
            continue
        outcome = parse_reply(response)
        if isinstance(outcome, Reply):
            return outcome
        failure = outcome
    return Failure(failure.reason, f"{failure.detail} (gave up after {section.max_retries + 1} attempt(s))")


def parse_reply(response: object) -> Reply | Failure:
    """A :class:`Reply` from a chat completion, or a ``bad_response`` :class:`Failure` saying what is missing."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list):
        return Failure("bad_response", f"not a chat completion: {_short(repr(response))}")
    if not choices:
        return Failure("bad_response", "no choices in the response")
    message = getattr(choices[0], "message", None)
    text = getattr(message, "content", None)
    # vLLM's reasoning parsers and DeepSeek's API send the thought apart from the answer;
    # some servers name the field "reasoning".
    reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    reasoning = reasoning if isinstance(reasoning, str) else None
    if not isinstance(text, str) and reasoning is None:
        return Failure("bad_response", "the message has no content")
    usage = getattr(response, "usage", None)
    prompt_tokens, completion_tokens = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    if not isinstance(prompt_tokens, int) or not isinstance(completion_tokens, int):
        return Failure("bad_response", "no token usage in the response")
    finish = getattr(choices[0], "finish_reason", None)
    return Reply(text=text if isinstance(text, str) else "", reasoning=reasoning, prompt_tokens=prompt_tokens,
                 completion_tokens=completion_tokens, finish_reason=finish if isinstance(finish, str) else "unknown")


def backoff_delay(section: EndpointSection, retry: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``retry`` (0-based): capped exponential with jitter, or Retry-After."""
    delay = min(section.backoff_max_s, section.backoff_initial_s * 2.0 ** retry) * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, min(section.backoff_max_s, retry_after))
    return delay


def _retry_after(response) -> float | None:
    value = response.headers.get("retry-after", "") if response is not None else ""
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # absent, or an HTTP date: the exponential delay applies


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
