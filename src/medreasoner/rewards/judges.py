"""The two ways to run a judge model: a local Hugging Face causal LM, or an OpenAI-compatible server.

Both take a batch of judge prompts (each sent as one user turn) and return one output text per
prompt, in order. The local model loads once per (path, device, dtype) and stays cached.
"""

from __future__ import annotations

import functools
import os

from medreasoner.errors import InputError
from medreasoner.eval.endpoint_client import Answer, EndpointClient, EndpointFailure, EndpointSettings, run_requests
from medreasoner.rewards.reward_model import Device, DType, check_local_dir, resolve_device


@functools.lru_cache(maxsize=2)
def load_judge(judge_path: str, device: Device, dtype: DType):
    """Load (model, tokenizer) of a causal-LM judge once; the tokenizer pads on the left for generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = check_local_dir(judge_path, "judge_path")
    # padding_side is not saved with a tokenizer (CPU_FEASIBILITY.md pitfall), so it is set here.
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True, padding_side="left")
    if tokenizer.pad_token_id is None:
        raise InputError(directory, "the judge's tokenizer has no pad token", field="judge_path")
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=getattr(torch, dtype), local_files_only=True)
    return model.to(resolve_device(device)).eval(), tokenizer


def hf_generate(
    prompts: list[str],
    *,
    judge_path: str,
    device: Device,
    dtype: DType,
    batch_size: int,
    max_new_tokens: int,
    temperature: float,
) -> list[str | None]:
    """Generate one judge output per prompt with a local model (greedy when ``temperature`` is 0)."""
    import torch

    model, tokenizer = load_judge(judge_path, device, dtype)
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        if tokenizer.chat_template is not None
        else p
        for p in prompts
    ]
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    outputs: list[str | None] = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        batch = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            generated = model.generate(
                **batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling
            )
        new_tokens = generated[:, batch["input_ids"].shape[1] :]  # (B, T_new): left padding aligns prompt ends
        outputs.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    return outputs


def api_key(api_key_env: str | None) -> str | None:
    """The API key from the environment variable the recipe names (None: the server needs no key)."""
    if api_key_env is None:
        return None
    if not os.environ.get(api_key_env):
        raise ValueError(f"the judge's API key variable {api_key_env!r} is not set in the environment")
    return os.environ[api_key_env]


def endpoint_generate(
    prompts: list[str],
    *,
    endpoint: str,
    model: str,
    api_key_env: str | None,
    max_tokens: int,
    temperature: float,
    timeout_s: float,
    max_retries: int,
    max_concurrency: int,
) -> list[str | None]:
    """One ``/chat/completions`` call per prompt; ``None`` for a prompt whose request failed for good.

    Requests go through the project's endpoint client (:mod:`medreasoner.eval.endpoint_client`):
    connection errors, timeouts, HTTP 408/409/429/5xx and unusable bodies are retried up to
    ``max_retries`` times with the ``openai`` client's backoff; any other HTTP error (400, 401, 404)
    is not retried. A judge that sends its reasoning apart (``reasoning_content``) gets it back
    inline (``<think>reasoning</think>verdict``), so verdict parsers read the same text either way.

    Raises:
        RuntimeError: every request of the batch failed (the endpoint is down or misconfigured:
            training on a batch of None rewards would silently learn nothing).
    """
    settings = EndpointSettings(base_url=endpoint.rstrip("/"), api_key=api_key(api_key_env), timeout_s=timeout_s,
                                max_retries=max_retries)
    outputs: list[str | None] = [None] * len(prompts)
    errors: list[str] = []

    async def ask(client: EndpointClient, index: int) -> Answer:
        return await client.chat([{"role": "user", "content": prompts[index]}], need_usage=False, model=model,
                                 max_tokens=max_tokens, temperature=temperature)

    def keep(index: int, result: Answer | EndpointFailure) -> None:
        if isinstance(result, EndpointFailure):
            errors.append(result.detail)
        else:
            outputs[index] = result.inline()

    run_requests(settings, range(len(prompts)), concurrency=max_concurrency, send=ask, on_done=keep)
    if prompts and all(output is None for output in outputs):
        raise RuntimeError(f"the judge endpoint {settings.base_url}/chat/completions answered none of {len(prompts)} "
                           f"requests; last error: {errors[-1]}")
    return outputs
