"""The endpoint side of ``generate``: chat requests to any OpenAI-compatible server, bounded and retried.

``concurrency`` requests are in flight until the jobs run out (workers share one lazy iterator of
jobs). Requests go through the project's one endpoint client (:mod:`medreasoner.eval.endpoint_client`)
and its retry policy:

* retried, up to ``max_retries`` times: connection errors, timeouts, HTTP 408, 409, 429 and every
  5xx (the ``openai`` client's own retries, waiting 0.5 s x 2^k up to 8 s, or the server's
  ``Retry-After``), and garbage answers (a body that is not JSON, no choices, no message, no token
  usage), within the same attempt budget;
* not retried: any other HTTP status (400, 401, 404, ...): the request itself is wrong.

A request that fails for good becomes a :class:`Failure` (``endpoint_error`` or ``bad_response``)
that the caller records as a drop; nothing here raises for one bad request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medreasoner.eval.endpoint_client import EndpointClient, EndpointFailure, EndpointSettings, run_requests


class EndpointSection(BaseModel):
    """``endpoint:`` settings of the ``generate`` step.

    Attributes:
        base_url: the API root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        api_key_env: name of the environment variable holding the API key (unset: no Authorization header).
        concurrency: requests in flight at once.
        timeout_s: per-attempt timeout in seconds (connect + generate + read).
        max_retries: attempts after the first one for a retryable failure.
    """

    model_config = ConfigDict(extra="forbid")
    base_url: str
    api_key_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    concurrency: int = Field(ge=1)
    timeout_s: float = Field(gt=0)
    max_retries: int = Field(ge=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http(s) URL such as http://127.0.0.1:8000/v1, got {value!r}")
        return value.rstrip("/")


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
    settings = EndpointSettings(base_url=section.base_url, api_key=os.environ.get(section.api_key_env) or None,
                                timeout_s=section.timeout_s, max_retries=section.max_retries)
    sent = [0]

    async def send(client: EndpointClient, job: Job) -> Reply:
        sent[0] += 1
        answer = await client.chat(job.messages, need_usage=True, seed=job.seed, **request)
        return Reply(text=answer.content, reasoning=answer.reasoning, prompt_tokens=answer.prompt_tokens,
                     completion_tokens=answer.completion_tokens, finish_reason=answer.finish_reason)

    def on_done(job: Job, result: Reply | EndpointFailure) -> None:
        if isinstance(result, EndpointFailure):
            on_failure(job, Failure(result.reason, result.detail))
        else:
            on_reply(job, result)

    attempts = run_requests(settings, jobs, concurrency=section.concurrency, send=send, on_done=on_done)
    return RequestStats(attempts=attempts, retries=attempts - sent[0])
