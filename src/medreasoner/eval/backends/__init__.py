"""Generation backends, one module each; imported only when chosen (vLLM is an optional extra).

Every backend has ``generate(prompts, settings, on_batch) -> list[Completion]`` (results in the
order of ``prompts``) and ``describe() -> dict`` (recorded in results.json).
"""

from __future__ import annotations

import importlib

# name -> (module, class); the whole registry.
BACKENDS = {
    "hf": ("medreasoner.eval.backends.hf", "HFBackend"),
    "vllm": ("medreasoner.eval.backends.vllm", "VLLMBackend"),
    "endpoint": ("medreasoner.eval.backends.openai_api", "EndpointBackend"),
}


def load_backend(name: str, **kwargs):
    """Instantiate backend ``name`` (a key of :data:`BACKENDS`) with its constructor's keywords."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)}")
    module_name, class_name = BACKENDS[name]
    return getattr(importlib.import_module(module_name), class_name)(**kwargs)
