"""Rollout throughput of the GRPO stage against a bare batched ``generate`` of the same shapes.

GRPO on CPU spends most of a step generating. This runs the real ``grpo`` stage
(:mod:`medreasoner.stages.grpo`, TRL's GRPOTrainer) for ``--steps`` optimizer steps, timing every call of
TRL's generation routine, then, in the same process and on the same model, times plain
``model.generate`` on the same batches (prompts x ``num_generations`` rows, left-padded, temperature 1,
the same ``max_new_tokens``). It prints completions/s of both, their ratio (goal >= 0.8) and the share
of a GRPO step spent generating. Figures only; nothing is asserted.

    .venv/bin/python bench/rollout_throughput.py --model runs/tiny_pipeline/sft \
        --prompts runs/tiny_pipeline/select_rl/data.jsonl --steps 6 --threads 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from trl import GRPOTrainer

from medreasoner.files import read_jsonl
from medreasoner.model import load_model, load_tokenizer
from medreasoner.stages import grpo
from medreasoner.stages.context import StageContext


def stage_config(model: str, prompts: Path, steps: int, batch: int, generations: int, max_new: int) -> grpo.Config:
    """The grpo stage's config for ``steps`` optimizer steps of ``batch`` completions (``generations`` per prompt)."""
    return grpo.Config.model_validate({
        "model": {"path": model, "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(prompts), "max_prompt_length": 512, "limit": None},
        "grpo": {"num_generations": generations, "beta": 0.0, "epsilon": 0.2, "temperature": 1.0,
                 "max_completion_length": max_new, "steps_per_generation": 1, "loss_type": "grpo",
                 "scale_rewards": "group", "use_vllm": False},
        "rewards": [{"name": "correctness_reward", "weight": 1.0, "params": {"mode": "normalized"}}],
        "optim": {"learning_rate": 1e-5, "max_steps": steps, "per_device_train_batch_size": batch,
                  "gradient_accumulation_steps": 1, "warmup_steps": 0, "lr_scheduler_type": "constant",
                  "weight_decay": 0.0, "max_grad_norm": 1.0, "bf16": False, "gradient_checkpointing": False,
                  "use_cpu": True, "logging_steps": 1, "save_steps": 10_000},
    })


def grpo_rollouts(model: str, prompts: Path, steps: int, batch: int, generations: int, max_new: int) -> dict:
    """Run the grpo stage; return wall seconds of the steps and of the generation calls inside them."""
    timings = {"generate_s": 0.0, "calls": 0}
    original = GRPOTrainer._generate_single_turn

    def timed(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            timings["generate_s"] += time.perf_counter() - began
            timings["calls"] += 1

    config = stage_config(model, prompts, steps, batch, generations, max_new)
    step_times: list[float] = []  # TRL's per-step wall time (generation, scoring and the update)

    def log(metrics: dict, step: int) -> None:
        if "step_time" in metrics:
            step_times.append(float(metrics["step_time"]))

    GRPOTrainer._generate_single_turn = timed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            grpo.run(config, StageContext(run_dir=Path(tmp), out_dir=Path(tmp) / "grpo", seed=0, log=log))
            total = time.perf_counter() - began
    finally:
        GRPOTrainer._generate_single_turn = original
    return {"stage_s": total, "steps_s": sum(step_times), **timings}


@torch.inference_mode()
def bare_generate(model_path: str, prompts: Path, batches: int, per_batch: int, generations: int, max_new: int) -> float:
    """Wall seconds of ``batches`` plain ``generate`` calls of ``per_batch`` prompts x ``generations`` rows."""
    tokenizer = load_tokenizer(model_path, padding_side="left")
    model = load_model(model_path, dtype="float32").eval()
    rows = [row["prompt"] for _, row in read_jsonl(prompts)]
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in rows]
    elapsed = 0.0
    for b in range(batches):
        chosen = [texts[(b * per_batch + k) % len(texts)] for k in range(per_batch) for _ in range(generations)]
        batch = tokenizer(chosen, return_tensors="pt", padding=True, add_special_tokens=False)
        began = time.perf_counter()
        model.generate(**batch, max_new_tokens=max_new, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                       pad_token_id=tokenizer.pad_token_id)
        elapsed += time.perf_counter() - began
    return elapsed


def main() -> None:
    """Parse arguments, run both measurements back to back, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/tiny_pipeline/sft", help="model directory (default: the demo's SFT model)")
    parser.add_argument("--prompts", type=Path, default=Path("runs/tiny_pipeline/select_rl/data.jsonl"),
                        help="GRPO prompt rows (default: the demo's select_rl output)")
    parser.add_argument("--steps", type=int, default=6, help="GRPO optimizer steps (default 6)")
    parser.add_argument("--batch", type=int, default=32, help="completions per step (default 32, as the demo)")
    parser.add_argument("--generations", type=int, default=8, help="completions per prompt (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="completion cap (default 48, as the demo)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    if not Path(args.model).is_dir() or not args.prompts.is_file():
        raise SystemExit(f"error: {args.model} or {args.prompts} is missing; run `make demo` first or pass --model/--prompts")
    torch.set_num_threads(args.threads)
    per_batch = args.batch // args.generations
    stage = grpo_rollouts(args.model, args.prompts, args.steps, args.batch, args.generations, args.max_new_tokens)
    bare_s = bare_generate(args.model, args.prompts, stage["calls"], per_batch, args.generations, args.max_new_tokens)
    completions = stage["calls"] * args.batch
    figures = {"steps": args.steps, "completions": completions, "grpo_generate_per_s": completions / stage["generate_s"],
               "bare_generate_per_s": completions / bare_s, "stage_s": stage["stage_s"],
               "steps_s": stage["steps_s"], "generate_share_of_stage": stage["generate_s"] / stage["stage_s"],
               "generate_share_of_steps": stage["generate_s"] / stage["steps_s"] if stage["steps_s"] else float("nan")}
    figures["ratio"] = figures["grpo_generate_per_s"] / figures["bare_generate_per_s"]
    print(f"GRPO stage generation: {figures['grpo_generate_per_s']:.1f} completions/s; bare generate: "
          f"{figures['bare_generate_per_s']:.1f} completions/s; ratio {figures['ratio']:.2f} (goal >= 0.8)")
    print(f"generation is {100 * figures['generate_share_of_steps']:.0f} % of the GRPO steps' wall time "
          f"({figures['steps_s']:.1f} s for {args.steps} steps) and {100 * figures['generate_share_of_stage']:.0f} % "
          f"of the whole stage ({figures['stage_s']:.1f} s, loading and saving included)")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
