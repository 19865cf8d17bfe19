"""Did a training stage of a GPU smoke leave a usable model? One line of figures.

    python bench/gpu_check/stage_result.py RUN_DIR STAGE --base base

Reads ``RUN_DIR/STAGE/stage_manifest.json`` (global_step, train_loss), compares the saved
``model.safetensors`` with the starting model ``RUN_DIR/<base>`` tensor by tensor, and reloads the
saved model with transformers and generates 8 tokens from it. This is what a ZeRO-3 or FSDP run
must get right when it gathers sharded weights into one checkpoint, and what QLoRA must get right
when it folds adapters into the reloaded unquantised base. Exit status 1 when the loss is not
finite, no tensor changed, the tensor names differ, or the model does not load and generate.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from medreasoner.model import load_model, load_tokenizer


def changed(before: Path, after: Path) -> tuple[int, int]:
    """(changed tensors, tensors) between two saved models; ValueError when the names differ."""
    a, b = load_file(str(before / "model.safetensors")), load_file(str(after / "model.safetensors"))
    if a.keys() != b.keys():
        raise ValueError(f"tensor names differ: {sorted(a.keys() ^ b.keys())[:5]}")
    return sum(not torch.equal(a[name].float(), b[name].float()) for name in a), len(a)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("stage")
    parser.add_argument("--base", required=True, help="stage holding the starting model (e.g. base)")
    args = parser.parse_args()
    out = args.run_dir / args.stage
    metrics = json.loads((out / "stage_manifest.json").read_text(encoding="utf-8"))["final_metrics"]
    loss = metrics["train_loss"]
    n_changed, n_tensors = changed(args.run_dir / args.base, out)
    tokenizer = load_tokenizer(out, padding_side="left")
    model = load_model(out, dtype="float32")
    ids = tokenizer("The patient", return_tensors="pt")["input_ids"]
    new = model.generate(ids, max_new_tokens=8, do_sample=False).shape[1] - ids.shape[1]
    print(f"step {metrics['global_step']}, loss {loss:.3g}, {n_changed}/{n_tensors} tensors changed, reload+generate {new} tokens")
    return 0 if math.isfinite(loss) and n_changed > 0 and new > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
