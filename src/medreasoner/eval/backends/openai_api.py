"""OpenAI-compatible HTTP backend: ``/chat/completions`` (chat prompts) or ``/completions`` (plain).

Requests run in a thread pool of ``settings.batch_size`` workers (bounded concurrency). Each request
has a timeout and is retried with exponential backoff (``backoff_s`` x 1, 2, 4, ..., capped at 60 s, plus up to
10 % jitter so parallel workers do not retry in lockstep; a longer numeric ``Retry-After`` header
wins) on HTTP 408/409/429, 5xx, timeouts and dropped
connections; any other HTTP error (401, 404, 400) fails at once with the server's message. The API
key is read from an environment variable whose name is a setting; unset means no Authorization
header (local servers such as ``medreasoner serve`` or vLLM need none).
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import httpx

from medreasoner.eval.generation import BatchCallback, Completion, GenerationSettings, Prompt

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_BACKOFF_S = 60.0


class EndpointError(RuntimeError):
    """The endpoint refused a request for good (or kept failing after every retry)."""


class EndpointBackend:
    """Generate through an OpenAI-compatible server.

    Args:
        base_url: the API root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        model_name: the ``model`` field sent with each request.
        api_key_env: name of the environment variable holding the API key.
        timeout_s: per-request timeout in seconds.
        max_retries: retries after the first attempt on retryable failures.
        backoff_s: the first retry's delay in seconds (doubling after each failure).
    """

    name = "endpoint"

    def __init__(self, base_url: str, model_name: str, *, api_key_env: str, timeout_s: float, max_retries: int,
                 backoff_s: float):
        # A negative retry count made the retry loop run zero times (UnboundLocalError, not an error message).
        if max_retries < 0 or not timeout_s > 0 or not backoff_s >= 0:
            raise ValueError(f"need max_retries >= 0, timeout_s > 0, backoff_s >= 0; got {max_retries}, "
                             f"{timeout_s}, {backoff_s}")
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        key = os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def describe(self) -> dict:
        """Backend facts recorded in results.json (never the key itself)."""
        return {"backend": self.name, "endpoint": self.base_url, "model": self.model_name,
                "api_key_env": self.api_key_env, "timeout_s": self.timeout_s, "max_retries": self.max_retries,
                "backoff_s": self.backoff_s}

    def generate(self, prompts: list[Prompt], settings: GenerationSettings,
                 on_batch: BatchCallback | None = None) -> list[Completion]:
        """Completions in the order of ``prompts``; ``on_batch`` gets each one as it finishes."""
        if settings.thinking_budget is not None:
            raise ValueError("--thinking-budget needs the hf or vllm backend: the OpenAI API has no such control")
        results: list[Completion | None] = [None] * len(prompts)
        with ThreadPoolExecutor(max_workers=settings.batch_size) as pool:
            futures = {pool.submit(self._request, prompt, settings): i for i, prompt in enumerate(prompts)}
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                if on_batch is not None:
                    on_batch([index], [results[index]])
        return results

    def _request(self, prompt: Prompt, settings: GenerationSettings) -> Completion:
        if prompt.style == "chat":
            path, body = "/chat/completions", {"messages": [dict(m) for m in prompt.messages]}
        else:
            path, body = "/completions", {"prompt": prompt.text}
        body.update(model=self.model_name, max_tokens=settings.max_new_tokens,
                    temperature=settings.temperature, seed=settings.seed)
        began = time.perf_counter()
        data = self._post_with_retries(path, body)
        latency = time.perf_counter() - began
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if prompt.style == "chat" else choice["text"]
            usage = data["usage"]
            return Completion(text=text or "", prompt_tokens=int(usage["prompt_tokens"]),
                              completion_tokens=int(usage["completion_tokens"]), latency_s=latency,
                              finish_reason=str(choice.get("finish_reason")))
        except (KeyError, IndexError, TypeError, ValueError) as error:
            shape = f"unexpected response shape ({error!r}): {str(data)[:300]}"
            raise EndpointError(f"{self.base_url}{path}: {shape}") from None

    def _post_with_retries(self, path: str, body: dict) -> dict:
        for attempt in range(self.max_retries + 1):
            try:
                response = self.client.post(path, json=body)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    return response.json()
                failure = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRY_STATUS:
                    raise EndpointError(f"{self.base_url}{path}: {failure}")
            if attempt == self.max_retries:
                break
            delay = min(MAX_BACKOFF_S, self.backoff_s * 2.0 ** attempt) * (1 + 0.1 * random.random())
            retry_after = response.headers.get("Retry-After", "") if failure.startswith("HTTP") else ""
            if retry_after.replace(".", "", 1).isdigit():
                delay = max(delay, min(MAX_BACKOFF_S, float(retry_after)))
            time.sleep(delay)
        raise EndpointError(f"{self.base_url}{path}: gave up after {self.max_retries + 1} attempts; last: {failure}")
