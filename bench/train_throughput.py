"""Training throughput of the SFT stage on a tiny model, as a fraction of this machine's matmul peak.

Runs ``medreasoner.stages.sft`` for ``--steps`` optimizer steps on synthetic conversations, then prints
tokens/s (non-padding tokens, steps after ``--skip`` warm-up steps) and the achieved FLOP/s, estimated as

    6 · N · tokens  +  12 · L · d · T · tokens      (PaLM, arXiv 2204.02311, appendix B)

with N the matmul parameters (the tied embedding counted once, as the LM head), L layers, d hidden
size and T the mean sequence length: the first term is the forward + backward cost of the weight
matmuls, the second the attention scores and weighted sums. The baseline, measured in the same run with
the same thread count, is a square n x n matmul (2·n³ FLOP) in the training dtype.

    .venv/bin/python bench/train_throughput.py --steps 20 --size tiny-3m --threads 2
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from medreasoner.model import TINY_SIZES, build_tiny_model
from medreasoner.stages import sft
from medreasoner.stages.context import StageContext

WORDS = ["fever", "cough", "wheeze", "pallor", "fatigue", "rash", "headache", "nausea", "dyspnea", "edema",
         "pneumonia", "asthma", "anemia", "gout", "migraine", "heart failure", "cellulitis", "influenza"]


def conversations(count: int, rng: random.Random) -> list[dict]:
    """Synthetic SFT rows of roughly 100-150 tokens, in the world's ``messages`` format."""
    rows = []
    for index in range(count):
        findings = ", ".join(rng.sample(WORDS[:10], 4))
        diagnosis = rng.choice(WORDS[10:])
        reasoning = f"The findings {findings} are considered in turn. " * 3 + f"They point to {diagnosis}."
        rows.append({"messages": [
            {"role": "user", "content": f"Case {index}: a patient presents with {findings}. What is the diagnosis?"},
            {"role": "assistant", "content": f"Answer: {diagnosis}", "reasoning_content": reasoning}]})
    return rows


def matmul_peak(n: int, dtype: torch.dtype, repeats: int) -> float:
    """Best-of-``repeats`` square matmul throughput in FLOP/s."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up (thread pool, kernels)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def stage_config(model_dir: Path, train: Path, steps: int, batch: int, max_length: int, bf16: bool) -> sft.Config:
    """The sft stage's config: ``steps`` optimizer steps of ``batch`` conversations of at most ``max_length`` tokens."""
    return sft.Config.model_validate({
        "model": {"path": str(model_dir), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(train), "max_length": max_length, "packing": False,
                 "assistant_only_loss": True},
        "optim": {"learning_rate": 1e-3, "max_steps": steps, "per_device_train_batch_size": batch,
                  "gradient_accumulation_steps": 1, "warmup_steps": 0, "lr_scheduler_type": "constant",
                  "weight_decay": 0.0, "max_grad_norm": 1.0, "bf16": bf16, "gradient_checkpointing": False,
                  "use_cpu": True, "logging_steps": 1, "save_steps": steps + 1},
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps to run")
    parser.add_argument("--skip", type=int, default=3, help="warm-up steps left out of the rate")
    parser.add_argument("--size", default="tiny-3m", choices=sorted(TINY_SIZES))
    parser.add_argument("--batch", type=int, default=8, help="sequences per step")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (peak measured in bf16 too)")
    parser.add_argument("--matmul-n", type=int, default=2048)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = conversations(args.batch * (args.steps + 1), random.Random(0))
        (root / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        corpus = [m["content"] + m.get("reasoning_content", "") for r in rows[:500] for m in r["messages"]]
        model_dir = build_tiny_model(root / "model", size=args.size, corpus=corpus, seed=0, vocab_size=2048,
                                     max_position_embeddings=args.max_length)
        config = stage_config(model_dir, root / "sft.jsonl", args.steps, args.batch, args.max_length, args.bf16)
        marks = {}  # step -> (wall time in s, cumulative non-padding tokens), from TRL's per-step logs

        def log(metrics: dict, step: int) -> None:
            if "num_tokens" in metrics and "loss" in metrics:
                marks[step] = (time.perf_counter(), metrics["num_tokens"])

        sft.run(config, StageContext(run_dir=root, out_dir=root / "sft", seed=0, log=log))
        model_config = json.loads((model_dir / "config.json").read_text())
        num_params = sum(t.numel() for t in load_file(str(model_dir / "model.safetensors")).values())

    (t0, n0), (t1, n1) = marks[args.skip], marks[args.steps]
    tokens_per_second = (n1 - n0) / (t1 - t0)
    layers, hidden = model_config["num_hidden_layers"], model_config["hidden_size"]
    mean_length = n1 / (args.steps * args.batch)
    flop_per_token = 6 * num_params + 12 * layers * hidden * mean_length
    achieved = tokens_per_second * flop_per_token
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    peak = matmul_peak(args.matmul_n, dtype, repeats=5)
    print(f"model {args.size}: {num_params / 1e6:.2f}M params, {layers} layers, d={hidden}; "
          f"batch {args.batch}, mean length {mean_length:.0f} tokens, {args.threads} threads, "
          f"{'bf16' if args.bf16 else 'fp32'}")
    print(f"steps {args.skip}-{args.steps}: {(t1 - t0) / (args.steps - args.skip):.3f} s/step, "
          f"{tokens_per_second:,.0f} tokens/s")
    print(f"achieved {achieved / 1e9:.1f} GFLOP/s; {args.matmul_n}x{args.matmul_n} matmul peak "
          f"{peak / 1e9:.1f} GFLOP/s; ratio {achieved / peak:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
