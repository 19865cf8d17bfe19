"""Derive the GPU check's recipes from the tiny CPU recipes: load the YAML, shrink, override, write.

    python bench/gpu_check/recipes.py OUT_DIR

Writes into OUT_DIR (each builds its own world and tiny model, so no runs/ directory is needed):

- ``sft_zero3.yaml``, ``sft_fsdp.yaml``: recipes/tiny/sft.yaml, 4 bf16 steps on the GPU, for the
  ZeRO-3 / FSDP single-node smokes (accelerate launch --num_processes 1);
- ``grpo_vllm.yaml``: recipes/tiny/sft.yaml trained long enough to answer in format (300 steps, as the
  sft stage of recipes/tiny/pipeline.yaml), then the clean_grpo and grpo stages of
  recipes/tiny/grpo.yaml starting from it, generating with vLLM in colocate mode (sleep mode on, as in
  the WiNGPT-3.0 recipes); 20 validation cases so the eval comparison has 20 items;
- ``sft_tiny.yaml``: the stages of grpo_vllm.yaml before clean_grpo, unchanged: run first into the same
  run directory, it trains the SFT model while other checks use the GPU, and grpo_vllm.yaml then skips
  those finished stages (vLLM's start-up memory profiling must have the GPU to itself);
- ``cpt_qlora.yaml``: recipes/tiny/cpt.yaml with the ``peft:`` section of
  recipes/preferred_medllm/cpt_qlora.yaml (4-bit QLoRA, rank shrunk to the tiny model) and its bf16
  and gradient checkpointing settings, 4 steps.

Only the keys named here change, so anything the tiny recipes gain (such as a required model key)
reaches the derived recipes unchanged. Prints the files written.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "recipes" / "tiny"
QLORA = ROOT / "recipes" / "preferred_medllm" / "cpt_qlora.yaml"
GRPO_COMPLETION_TOKENS = 96  # the tiny SFT model's answers (~40 tokens) end inside it, so rewards vary


def load(path: Path) -> dict:
    """A recipe file as plain data."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def stage(recipe: dict, name: str) -> dict:
    """The stage called ``name`` (its whole entry: name, kind, config)."""
    for entry in recipe["stages"]:
        if entry["name"] == name:
            return entry
    raise KeyError(f"recipe {recipe['name']} has no stage {name!r}")


def on_gpu(optim: dict, **changes) -> dict:
    """An ``optim:`` section moved to the GPU, with ``changes`` applied."""
    return {**optim, "use_cpu": False, **changes}


def sft_smoke(name: str) -> dict:
    """recipes/tiny/sft.yaml for 4 bf16 steps on the GPU (a checkpoint at step 2 exercises saving)."""
    recipe = load(TINY / "sft.yaml")
    recipe["name"] = name
    sft = stage(recipe, "sft")["config"]
    sft["optim"] = on_gpu(sft["optim"], bf16=True, max_steps=4, save_steps=2)
    return recipe


def grpo_vllm() -> dict:
    """A tiny SFT model, then 4 GRPO steps on it with vLLM colocated (fp32 on both sides, so the
    logprob gap between vLLM and the trainer measures the weight push, not bf16 rounding)."""
    recipe = load(TINY / "sft.yaml")
    recipe["name"] = "gpu_check_grpo_vllm"
    stage(recipe, "world")["config"]["num_cases"]["validation"] = 20
    sft = stage(recipe, "sft")["config"]
    sft["optim"] = on_gpu(sft["optim"], bf16=True, max_steps=300, per_device_train_batch_size=16, save_steps=300)
    source = load(TINY / "grpo.yaml")
    grpo_stage = copy.deepcopy(stage(source, "grpo"))
    config = grpo_stage["config"]
    config["model"]["path"] = "${sft}"
    config["grpo"].update(
        max_completion_length=GRPO_COMPLETION_TOKENS, use_vllm=True, vllm_mode="colocate",
        vllm_gpu_memory_utilization=0.3, vllm_tensor_parallel_size=1,
        vllm_max_model_length=config["data"]["max_prompt_length"] + GRPO_COMPLETION_TOKENS,
        vllm_enable_sleep_mode=True)
    config["optim"] = on_gpu(config["optim"], bf16=False, max_steps=4)
    recipe["stages"] += [copy.deepcopy(stage(source, "clean_grpo")), grpo_stage]
    return recipe


def cpt_qlora() -> dict:
    """recipes/tiny/cpt.yaml with the QLoRA settings of the Preferred-MedLLM CPT recipe, 4 steps."""
    recipe = load(TINY / "cpt.yaml")
    recipe["name"] = "gpu_check_cpt_qlora"
    paper = stage(load(QLORA), "cpt")["config"]
    cpt = stage(recipe, "cpt")["config"]
    cpt["model"]["dtype"] = paper["model"]["dtype"]
    # Rank and alpha shrunk for a 128-wide model, alpha / r kept at the paper recipe's ratio.
    scale = paper["peft"]["lora_alpha"] / paper["peft"]["r"]
    cpt["peft"] = {**paper["peft"], "r": 8, "lora_alpha": int(8 * scale)}
    cpt["optim"] = on_gpu(cpt["optim"], bf16=paper["optim"]["bf16"],
                          gradient_checkpointing=paper["optim"]["gradient_checkpointing"],
                          learning_rate=paper["optim"]["learning_rate"])
    return recipe


def sft_tiny() -> dict:
    """grpo_vllm.yaml up to its SFT model (same name and stage configs, so a later run of
    grpo_vllm.yaml in the same run directory skips them)."""
    recipe = grpo_vllm()
    recipe["stages"] = recipe["stages"][:[s["name"] for s in recipe["stages"]].index("clean_grpo")]
    return recipe


RECIPES = {
    "sft_zero3": lambda: sft_smoke("gpu_check_sft_zero3"),
    "sft_fsdp": lambda: sft_smoke("gpu_check_sft_fsdp"),
    "grpo_vllm": grpo_vllm,
    "sft_tiny": sft_tiny,
    "cpt_qlora": cpt_qlora,
}


def write_all(out_dir: Path) -> list[Path]:
    """Write every derived recipe into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in RECIPES.items():
        path = out_dir / f"{name}.yaml"
        text = f"# Derived by bench/gpu_check/recipes.py; do not edit (rerun it).\n{yaml.safe_dump(build(), sort_keys=False)}"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for written in write_all(Path(sys.argv[1])):
        print(written)
