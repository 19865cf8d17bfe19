"""The two ways to run a judge model: a local Hugging Face causal LM, or an OpenAI-compatible server.

Both take a batch of judge prompts (each sent as one user turn) and return one output text per
prompt, in order. The local model loads once per (path, device, dtype) and stays cached.
"""

from __future__ import annotations

import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from medreasoner.errors import InputError
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
    transport: httpx.BaseTransport | None = None,
) -> list[str | None]:
    """One ``/chat/completions`` call per prompt; ``None`` for a prompt whose request kept failing.

    A failed request (network error, HTTP error, malformed body) is retried ``max_retries`` times
    with exponential backoff (0.5 s, 1 s, 2 s, ...).

    Args:
        transport: an httpx transport to use instead of the network (tests); None for the network.

    Raises:
        RuntimeError: every request of the batch failed (the endpoint is down or misconfigured:
            training on a batch of None rewards would silently learn nothing).
    """
    key = api_key(api_key_env)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = endpoint.rstrip("/") + "/chat/completions"
    errors: list[str] = []

    def ask(client: httpx.Client, prompt: str) -> str | None:
        body = {"model": model, "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens, "temperature": temperature}
        for attempt in range(max_retries + 1):
            try:
                response = client.post(url, json=body, headers=headers)
                response.raise_for_status()
                content = response.json()["choices"][0]["message"]["content"]
                return content if isinstance(content, str) else ""
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
                errors.append(f"{type(error).__name__}: {error}")
                if attempt < max_retries:
                    time.sleep(0.5 * 2**attempt)
        return None

    with httpx.Client(timeout=timeout_s, transport=transport) as client:
        with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
            outputs = list(pool.map(lambda prompt: ask(client, prompt), prompts))
    if prompts and all(output is None for output in outputs):
        raise RuntimeError(
            f"the judge endpoint {url} answered none of {len(prompts)} requests; last error: {errors[-1]}"
        )
    return outputs
