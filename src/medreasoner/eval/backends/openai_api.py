"""OpenAI-compatible HTTP backend: ``/chat/completions`` (chat prompts) or ``/completions`` (plain).

Requests go through the project's one endpoint client (:mod:`medreasoner.eval.endpoint_client`):
``settings.batch_size`` requests in flight, a per-attempt timeout, and the ``openai`` client's retry
policy (connection errors, timeouts, 408/409/429/5xx and unusable 200 bodies are retried up to
``max_retries`` times; any other HTTP error, such as 400, 401 or 404, fails at once with the server's
message). The first request that fails for good stops the run (:class:`EndpointError`).

A reply whose reasoning the server sent apart (``reasoning_content``) is stored and graded whole:
``<think>reasoning</think>content``, the text the local backends return. The API key is read from
an environment variable whose name is a setting; unset means no Authorization header (local servers
such as ``medreasoner serve`` without ``--api-key``, or vLLM, need none).
"""

from __future__ import annotations

import os
import time

from medreasoner.eval.endpoint_client import EndpointClient, EndpointFailure, EndpointSettings, run_requests
from medreasoner.eval.generation import BatchCallback, Completion, GenerationSettings, Prompt

RETRY_POLICY = "openai client: connection errors, timeouts, HTTP 408/409/429/5xx, unusable 200 bodies"


class EndpointError(RuntimeError):
    """The endpoint refused a request for good (or kept failing after every retry)."""


class EndpointBackend:
    """Generate through an OpenAI-compatible server.

    Args:
        base_url: the API root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        model_name: the ``model`` field sent with each request.
        api_key_env: name of the environment variable holding the API key.
        timeout_s: per-attempt timeout in seconds.
        max_retries: retries after the first attempt on retryable failures.
    """

    name = "endpoint"

    def __init__(self, base_url: str, model_name: str, *, api_key_env: str, timeout_s: float, max_retries: int):
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self.api_key_env = api_key_env
        self.settings = EndpointSettings(base_url=self.base_url, api_key=os.environ.get(api_key_env) or None,
                                         timeout_s=timeout_s, max_retries=max_retries)

    def describe(self) -> dict:
        """Backend facts recorded in results.json (never the key itself)."""
        return {"backend": self.name, "endpoint": self.base_url, "model": self.model_name,
                "api_key_env": self.api_key_env, "timeout_s": self.settings.timeout_s,
                "max_retries": self.settings.max_retries, "retry_policy": RETRY_POLICY}

    def generate(self, prompts: list[Prompt], settings: GenerationSettings,
                 on_batch: BatchCallback | None = None) -> list[Completion]:
        """Completions in the order of ``prompts``; ``on_batch`` gets each one as it finishes."""
        if settings.thinking_budget is not None:
            raise ValueError("--thinking-budget needs the hf or vllm backend: the OpenAI API has no such control")
        request = {"model": self.model_name, "max_tokens": settings.max_new_tokens,
                   "temperature": settings.temperature, "seed": settings.seed}
        if settings.top_p < 1:  # sent only when it narrows: some providers refuse temperature and top_p together
            request["top_p"] = settings.top_p
        results: list[Completion | None] = [None] * len(prompts)

        async def send(client: EndpointClient, index: int) -> Completion:
            prompt = prompts[index]
            began = time.perf_counter()
            if prompt.style == "chat":
                answer = await client.chat([dict(m) for m in prompt.messages], need_usage=True, **request)
            else:
                answer = await client.complete(prompt.text, need_usage=True, **request)
            return Completion(text=answer.inline(), prompt_tokens=answer.prompt_tokens,
                              completion_tokens=answer.completion_tokens, latency_s=time.perf_counter() - began,
                              finish_reason=answer.finish_reason)

        def on_done(index: int, result: Completion | EndpointFailure) -> None:
            if isinstance(result, EndpointFailure):
                path = "/chat/completions" if prompts[index].style == "chat" else "/completions"
                raise EndpointError(f"{self.base_url}{path}: {result.detail}")
            results[index] = result
            if on_batch is not None:
                on_batch([index], [result])

        run_requests(self.settings, range(len(prompts)), concurrency=settings.batch_size, send=send, on_done=on_done)
        return results
