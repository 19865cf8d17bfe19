"""Evaluation throughput: the batched HF backend vs naive one-item-at-a-time ``model.generate``.

    .venv/bin/python bench/eval_throughput.py [--items 200] [--batch-size 32] [--max-new-tokens 16]

Same tiny model (tiny-0.5m, weights re-drawn at a large scale so greedy text differs per prompt; a
fresh init only repeats its last prompt token), same 200 invented MCQ prompts through the chat
template, greedy decoding. Prints items/s both ways, the ratio, and how many greedy answers differ
(batching with left padding should change none; float reductions over padded rows can, rarely).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from transformers import GenerationConfig

from medreasoner.benchmarks.item import Item
from medreasoner.eval.backends.hf import HFBackend
from medreasoner.eval.generation import GenerationSettings
from medreasoner.eval.prompts import PromptBuilder
from medreasoner.model import build_tiny_model, load_model

SYMPTOMS = ["fever", "cough", "chest pain", "rash", "headache", "dyspnea", "jaundice", "syncope", "edema", "vertigo"]
TESTS = ["chest x-ray", "ECG", "lumbar puncture", "ultrasound", "CT scan", "MRI", "biopsy"]


def invented_items(n: int) -> list[Item]:
    """``n`` multiple-choice items of varied length (made up; no benchmark text)."""
    items = []
    for k in range(n):
        history = " ".join(f"Day {d}: {SYMPTOMS[(k + d) % len(SYMPTOMS)]}." for d in range(1 + k % 12))
        options = {letter: TESTS[(k + i) % len(TESTS)] for i, letter in enumerate("ABCD")}
        items.append(Item(str(k), f"A {20 + k % 60}-year-old reports {history} Which is the best next step?",
                          options, frozenset("ABCD"[k % 4]), "mcq"))
    return items


def build_model(directory: Path) -> Path:
    corpus = [" ".join(SYMPTOMS + TESTS), "Answer the following multiple-choice question. Answer: A"] * 20
    raw = build_tiny_model(directory / "raw", size="tiny-0.5m", corpus=corpus, seed=0, vocab_size=600,
                           max_position_embeddings=512)
    model = load_model(raw, dtype="float32")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * (1.0 if "embed" in name else 0.15))
    model.save_pretrained(directory / "raw")
    return directory / "raw"


def naive(backend: HFBackend, prompts, max_new_tokens: int) -> list[str]:
    """One ``model.generate`` call per prompt, no padding: the baseline an eval loop starts from."""
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=backend.eos_ids,
                              pad_token_id=backend.tokenizer.pad_token_id)
    texts = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([backend.encode(prompt)])
            output = backend.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                            generation_config=config)
            new = output[0, ids.shape[1]:].tolist()
            stop = next((k for k, t in enumerate(new) if t in backend.eos_ids), len(new))
            texts.append(backend.tokenizer.decode(new[:stop], skip_special_tokens=False))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backend = HFBackend(str(build_model(Path(tmp))), dtype="float32")
    prompts = [PromptBuilder("mcq", "answer", "chat", [], None).render(item) for item in invented_items(args.items)]
    lengths = [len(backend.encode(p)) for p in prompts]
    print(f"{args.items} prompts, {min(lengths)}-{max(lengths)} tokens, max_new_tokens={args.max_new_tokens}, "
          f"torch threads={torch.get_num_threads()}")
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=0.0, top_p=1.0,
                                  seed=0, thinking_budget=None,
                                  batch_size=args.batch_size)
    backend.generate(prompts[:2], settings)  # warm-up (first-call allocations)
    began = time.perf_counter()
    batched = [c.text for c in backend.generate(prompts, settings)]
    batched_s = time.perf_counter() - began
    began = time.perf_counter()
    one_by_one = naive(backend, prompts, args.max_new_tokens)
    naive_s = time.perf_counter() - began
    mismatches = sum(a != b for a, b in zip(batched, one_by_one))
    print(f"batched (batch {args.batch_size}, length-sorted): {args.items / batched_s:.2f} items/s ({batched_s:.1f} s)")
    print(f"naive one-by-one model.generate:  {args.items / naive_s:.2f} items/s ({naive_s:.1f} s)")
    print(f"speed-up: {naive_s / batched_s:.2f}x; greedy answers differing: {mismatches}/{args.items}")


if __name__ == "__main__":
    main()
