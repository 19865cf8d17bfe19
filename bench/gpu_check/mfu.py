"""bf16 training MFU of a Qwen2-0.5B-shaped model built from a config (random weights, one GPU).

    python bench/gpu_check/mfu.py --steps 20 --warmup 5 --batch 8 --seq 2048 --json OUT.json
    python bench/gpu_check/mfu.py --dry-run --device-name "NVIDIA H100 80GB HBM3"

The step is what the sft stage's Trainer does with ``bf16: true``: float32 weights, bf16 autocast,
causal-LM loss on every token, backward, fused AdamW; random token ids (throughput does not depend
on their values). Model: hidden 896, 24 layers, 14 heads, 2 KV heads, intermediate 4864, vocab
151936, tied embeddings (Qwen2-0.5B's config.json), SDPA attention.

MFU = 6 * N * tokens/s / peak (Kaplan et al. 2020, arXiv 2001.08361; PaLM, arXiv 2204.02311, app. B),
N = all parameters (the tied embedding counted once: its LM-head matmul is compute, the lookup is not).
The PaLM attention term 12 * layers * hidden * seq per token is printed separately ("with attention").
Peak: env GPU_PEAK_BF16_TFLOPS (dense bf16 TFLOP/s), else :data:`PEAK_BF16_TFLOPS` by device name.
Exit status: 0 when MFU (6N) >= --goal, 1 below it, 2 when the peak is unknown.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

QWEN2_0_5B = {"hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
              "intermediate_size": 4864, "vocab_size": 151936, "tie_word_embeddings": True,
              "max_position_embeddings": 32768}

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s from NVIDIA's datasheets, which print the
# sparse figure (2x) next to it. Checked in order: the first substring of the lower-cased
# torch.cuda.get_device_name() wins, so variants come before the plain name.
PEAK_BF16_TFLOPS = [
    ("h200 nvl", 835.5),   # H200 NVL: 1,671 sparse
    ("h200", 989.5),       # H200 SXM: 1,979 sparse
    ("gh200", 989.5),      # GH200: the H100/H200 SXM tensor cores
    ("h100 nvl", 835.5),   # H100 NVL: 1,671 sparse
    ("h100 pcie", 756.5),  # H100 PCIe: 1,513 sparse
    ("h100", 989.5),       # H100 SXM ("NVIDIA H100 80GB HBM3"): 1,979 sparse
    ("a100", 312.0),       # A100 SXM and PCIe: 624 sparse
    ("l40s", 362.05),      # L40S: 733 sparse
    ("l4", 121.0),         # L4: 242 sparse
    ("a10", 125.0),        # A10: 250 sparse
]


def peak_tflops(device_name: str) -> float | None:
    """Dense bf16 peak of the named GPU in TFLOP/s (env override first); None when unknown."""
    override = os.environ.get("GPU_PEAK_BF16_TFLOPS")
    if override:
        return float(override)
    name = device_name.lower()
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def build_model(device: str) -> Qwen2ForCausalLM:
    """The Qwen2-0.5B-shaped model, float32 weights, on ``device`` (``meta`` builds no storage)."""
    config = Qwen2Config(**QWEN2_0_5B, attn_implementation="sdpa")
    with torch.device(device):
        return Qwen2ForCausalLM(config)


def num_parameters(model: torch.nn.Module) -> int:
    """Parameters counted once each (tied tensors are one parameter)."""
    return sum(p.numel() for p in model.parameters())


def flops_per_token(n_params: int, seq: int) -> tuple[float, float]:
    """(6N, 6N + 12*layers*hidden*seq): training FLOPs per token without and with attention scores."""
    attention = 12 * QWEN2_0_5B["num_hidden_layers"] * QWEN2_0_5B["hidden_size"] * seq
    return 6.0 * n_params, 6.0 * n_params + attention


def measure(steps: int, warmup: int, batch: int, seq: int) -> dict:
    """Train ``warmup + steps`` steps on the GPU; tokens/s over the last ``steps``."""
    model = build_model("cuda")
    model.gradient_checkpointing_disable()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    ids = torch.randint(0, QWEN2_0_5B["vocab_size"], (batch, seq), device="cuda")
    began = None
    for step in range(warmup + steps):
        if step == warmup:
            torch.cuda.synchronize()
            began = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    return {"tokens_per_s": steps * batch * seq / seconds, "seconds": seconds, "loss": float(loss),
            "max_memory_gib": torch.cuda.max_memory_allocated() / 2**30, "n_params": num_parameters(model)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per step (default 8)")
    parser.add_argument("--seq", type=int, default=2048, help="tokens per sequence (default 2048)")
    parser.add_argument("--goal", type=float, default=0.40, help="MFU goal as a fraction (default 0.40)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--dry-run", action="store_true", help="count parameters on the meta device, no GPU")
    parser.add_argument("--device-name", help="with --dry-run: a GPU name to look the peak up for")
    args = parser.parse_args()

    if args.dry_run:
        n = num_parameters(build_model("meta"))
        six_n, with_attention = flops_per_token(n, args.seq)
        name = args.device_name or "(no GPU)"
        print(f"N={n:,} parameters; {six_n / 1e9:.2f} GFLOP/token (6N), {with_attention / 1e9:.2f} with attention "
              f"at seq {args.seq}; peak for {name}: {peak_tflops(name)} TFLOP/s")
        return 0
    name = torch.cuda.get_device_name()
    peak = peak_tflops(name)
    figures = measure(args.steps, args.warmup, args.batch, args.seq)
    six_n, with_attention = flops_per_token(figures["n_params"], args.seq)
    figures.update(device=name, peak_tflops=peak, batch=args.batch, seq=args.seq, steps=args.steps)
    if peak is not None:
        figures["mfu"] = six_n * figures["tokens_per_s"] / (peak * 1e12)
        figures["mfu_with_attention"] = with_attention * figures["tokens_per_s"] / (peak * 1e12)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"{name}: {figures['tokens_per_s']:,.0f} tokens/s, N={figures['n_params'] / 1e6:.1f}M, "
          f"peak {peak} TFLOP/s, max memory {figures['max_memory_gib']:.1f} GiB")
    if peak is None:
        print("MFU unknown: set GPU_PEAK_BF16_TFLOPS (dense bf16 TFLOP/s of this GPU)")
        return 2
    print(f"MFU {figures['mfu']:.1%} (6N), {figures['mfu_with_attention']:.1%} with attention; goal {args.goal:.0%}")
    return 0 if figures["mfu"] >= args.goal else 1


if __name__ == "__main__":
    sys.exit(main())
