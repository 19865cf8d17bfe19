"""Weighted linear merge of 2+ checkpoints of one architecture (WiNGPT-3.0's S2 + QwQ-32B 1:1 merge).

Reads each model's safetensors tensor by tensor (one shard in memory at a time, no model is
instantiated), writes ``θ = Σ_k w_k · θ_k`` (accumulated in float32, stored in the inputs' dtype) with
the first model's shard layout, and copies the first model's config, generation config and tokenizer,
so the output loads with ``AutoModelForCausalLM`` and vLLM. The weights must be positive and sum to 1
(no silent renormalisation: ``[1, 1]`` is refused, write ``[0.5, 0.5]``). Tensor names, shapes and
dtypes must match exactly; the first mismatch is reported by name. Integer tensors (buffers) must be
equal across models and are copied.

Differences from WiNGPT-3.0 (arXiv 2505.17387, https://arxiv.org/abs/2505.17387), sec. 4.5: the paper
merges with MergeKit and does not name the method; a 1:1 linear average is the plain reading (TIES,
SLERP and DARE are not implemented).

Launch (no GPU needed; the multi-GPU command works too, only rank 0 merges)::

    medreasoner run recipe.yaml
    accelerate launch --config_file configs/accelerate/zero3.yaml -m medreasoner.cli run recipe.yaml
"""

from __future__ import annotations

import json
import math
import os
import shutil
from contextlib import ExitStack
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, model_validator
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from medreasoner.errors import InputError
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext

INDEX = "model.safetensors.index.json"


class MergeInput(BaseModel):
    """One checkpoint (``path``: a Hugging Face directory, e.g. ``${grpo}``) and its ``weight``."""

    model_config = ConfigDict(extra="forbid")
    path: InputPath
    weight: float


class Config(BaseModel):
    """``kind: merge`` stage configuration: ``models``, two or more, weights positive and summing to 1."""

    model_config = ConfigDict(extra="forbid")
    models: list[MergeInput]

    @model_validator(mode="after")
    def _check(self) -> "Config":
        weights = [entry.weight for entry in self.models]
        if len(weights) < 2:
            raise ValueError("merge needs at least two models")
        if min(weights) <= 0 or not math.isclose(sum(weights), 1.0, abs_tol=1e-6):
            raise ValueError(f"merge weights must be positive and sum to 1, got {weights}")
        return self


def tensor_files(model_dir: Path) -> dict[str, Path]:
    """Map every tensor name of a checkpoint to the safetensors file that holds it."""
    if (model_dir / INDEX).is_file():
        weight_map = json.loads((model_dir / INDEX).read_text())["weight_map"]
        return {name: model_dir / file for name, file in weight_map.items()}
    single = model_dir / "model.safetensors"
    if not single.is_file():
        raise InputError(model_dir, "no model.safetensors or model.safetensors.index.json")
    with safe_open(str(single), framework="pt") as handle:
        return {name: single for name in handle.keys()}


def _merge_tensor(name: str, tensors: list[torch.Tensor], weights: list[float], paths: list[Path]) -> torch.Tensor:
    first = tensors[0]
    for tensor, path in zip(tensors[1:], paths[1:]):
        if tensor.shape != first.shape or tensor.dtype != first.dtype:
            raise InputError(path, f"tensor {name!r} is {tuple(tensor.shape)} {tensor.dtype}, but "
                                   f"{tuple(first.shape)} {first.dtype} in {paths[0]}")
    if not first.is_floating_point():
        for tensor, path in zip(tensors[1:], paths[1:]):
            if not torch.equal(tensor, first):
                raise InputError(path, f"integer tensor {name!r} differs from {paths[0]}; cannot average it")
        return first
    total = torch.zeros(first.shape, dtype=torch.float32)
    for tensor, weight in zip(tensors, weights):
        total += weight * tensor.to(torch.float32)
    return total.to(first.dtype)


def run(config: Config, ctx: StageContext) -> dict:
    """Merge ``config.models`` into ``ctx.out_dir``.

    Returns:
        ``{"num_tensors", "num_parameters"}`` of the merged model.
    """
    # Under a multi-process launch the pipeline runs this stage on rank 0 only (the others wait).
    paths = [Path(entry.path) for entry in config.models]
    weights = [entry.weight for entry in config.models]
    maps = [tensor_files(path) for path in paths]
    for path, names in zip(paths[1:], maps[1:]):
        if set(names) != set(maps[0]):
            missing, extra = sorted(set(maps[0]) - set(names)), sorted(set(names) - set(maps[0]))
            raise InputError(path, f"tensor names differ from {paths[0]}: missing {missing[:5]}, extra {extra[:5]}")

    out_dir = Path(ctx.out_dir)
    staging = out_dir / ".merge.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for item in paths[0].iterdir():  # config, generation config, tokenizer, chat template, shard index
        # Not the first model's card (README.md): its lineage is not the merged model's.
        if item.is_file() and item.suffix != ".safetensors" and item.name != "README.md":
            shutil.copy2(item, staging / item.name)

    shards: dict[Path, list[str]] = {}
    for name, file in maps[0].items():
        shards.setdefault(file, []).append(name)
    num_parameters = 0
    try:
        for shard, names in tqdm(sorted(shards.items()), desc="merging shards"):
            merged = {}
            with ExitStack() as stack:
                handles: dict[Path, object] = {}  # file -> open safetensors handle (memory-mapped)
                for name in sorted(names):
                    tensors = []
                    for names_to_files in maps:
                        file = names_to_files[name]
                        if file not in handles:
                            handles[file] = stack.enter_context(safe_open(str(file), framework="pt"))
                        tensors.append(handles[file].get_tensor(name))
                    merged[name] = _merge_tensor(name, tensors, weights, paths).contiguous()
                    num_parameters += merged[name].numel()
            save_file(merged, str(staging / shard.name), metadata={"format": "pt"})
    except Exception:
        shutil.rmtree(staging)  # never leave half a merge behind
        raise

    for item in sorted(staging.iterdir(), key=lambda p: p.suffix == ".safetensors"):  # weights last
        os.replace(item, out_dir / item.name)
    staging.rmdir()
    return {"num_tensors": len(maps[0]), "num_parameters": num_parameters}
