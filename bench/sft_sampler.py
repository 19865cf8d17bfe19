"""SFT step time with random batches against length-grouped batches, back to back in one process.

The SFT stages are half of `make reproduce` on 2 cores, and the trainer pads every batch to its longest row,
so a random batch of the world's conversations (about 120 to 240 tokens) spends compute on padding. This
runs the real ``sft`` stage (:mod:`medreasoner.stages.sft`) twice on the same model and data, once with
``train_sampling_strategy: random`` (the transformers default, the baseline) and once with
``group_by_length``, and prints for each the seconds per step and the non-padding tokens per second, then
the ratios grouped / random. Figures only;
nothing is asserted. Whether grouping changes what the model learns is checked on validation instead
(recipes/tiny/sft_sampler_validation.yaml).

    .venv/bin/python bench/sft_sampler.py --model runs/reproduce_s0/cpt \
        --data runs/reproduce_s0/clean_sft/data.jsonl --steps 100 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from medreasoner.stages import sft
from medreasoner.stages.context import StageContext

STRATEGIES = ("random", "group_by_length")


def stage_config(model: str, train: Path, steps: int, batch: int, max_length: int, strategy: str) -> sft.Config:
    """The reproduce recipe's SFT settings for ``steps`` steps of ``batch`` rows, sampled by ``strategy``."""
    return sft.Config.model_validate({
        "model": {"path": model, "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(train), "max_length": max_length, "packing": False, "assistant_only_loss": True},
        "optim": {"learning_rate": 2e-3, "max_steps": steps, "per_device_train_batch_size": batch,
                  "gradient_accumulation_steps": 1, "warmup_steps": 20, "lr_scheduler_type": "cosine",
                  "weight_decay": 0.0, "max_grad_norm": 1.0, "bf16": False, "gradient_checkpointing": False,
                  "use_cpu": True, "logging_steps": 1, "save_steps": steps + 1,
                  "train_sampling_strategy": strategy},
    })


def timed_run(config: sft.Config, skip: int) -> dict:
    """Run the stage; return seconds per step and real tokens per second after ``skip`` warm-up steps."""
    marks = {}  # step -> (wall time in s, cumulative non-padding tokens), from TRL's per-step logs

    def log(metrics: dict, step: int) -> None:
        if "num_tokens" in metrics and "loss" in metrics:
            marks[step] = (time.perf_counter(), metrics["num_tokens"])

    with tempfile.TemporaryDirectory() as tmp:
        sft.run(config, StageContext(run_dir=Path(tmp), out_dir=Path(tmp) / "sft", seed=0, log=log))
    steps = config.optim.max_steps
    (t0, n0), (t1, n1) = marks[skip], marks[steps]
    return {"s_per_step": (t1 - t0) / (steps - skip), "tokens_per_s": (n1 - n0) / (t1 - t0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/reproduce_s0/cpt", help="model directory SFT starts from")
    parser.add_argument("--data", type=Path, default=Path("runs/reproduce_s0/clean_sft/data.jsonl"),
                        help="SFT rows (messages)")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per run")
    parser.add_argument("--skip", type=int, default=5, help="warm-up steps left out of the rates")
    parser.add_argument("--batch", type=int, default=16, help="rows per step")
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    results = {}
    for strategy in STRATEGIES:
        config = stage_config(args.model, args.data, args.steps, args.batch, args.max_length, strategy)
        results[strategy] = timed_run(config, args.skip)
        print(f"{strategy:>16}: {results[strategy]['s_per_step']:.3f} s/step, "
              f"{results[strategy]['tokens_per_s']:,.0f} real tokens/s", flush=True)
    base, grouped = results["random"], results["group_by_length"]
    print(f"grouped / random: step time {grouped['s_per_step'] / base['s_per_step']:.2f}, "
          f"real tokens/s {grouped['tokens_per_s'] / base['tokens_per_s']:.2f} "
          f"({args.batch} rows per step, {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
