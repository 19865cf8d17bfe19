"""Helpers shared by the stage tests (tests/test_stage_*.py, tests/test_losses.py): a tiny world on disk.

Each test module builds its own tiny-0.5m model (about 0.5 s) from the texts written here, so the
tests never need the world generator or the model hub.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file

from medreasoner.benchmarks.item import Item, item_to_json
from medreasoner.model import build_tiny_model, load_tokenizer
from medreasoner.stages.context import StageContext

DIAGNOSES = ["pneumonia", "asthma", "anemia", "gout", "migraine"]
FINDINGS = ["fever", "cough", "wheeze", "pallor", "fatigue", "joint pain", "headache", "nausea"]



def override_args(settings: dict) -> list[str]:
    """``key=value`` command-line overrides that set ``settings`` (each value as the YAML the CLI parses)."""
    return [f"{key}={yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix('...').strip()}"
            for key, value in settings.items()]

def _question(rng: random.Random, index: int) -> tuple[str, str, list[str]]:
    findings = rng.sample(FINDINGS, 3)
    return f"Case {index}: {', '.join(findings)}. Diagnosis?", rng.choice(DIAGNOSES), findings


def write_world(root: Path, *, num_rows: int = 32) -> dict[str, Path]:
    """Write small CPT, SFT, preference and GRPO JSONL files in the world layout; return their paths."""
    rng = random.Random(0)
    files = {"cpt": root / "cpt.jsonl", "sft": root / "sft.jsonl", "preference": root / "preference.jsonl",
             "grpo": root / "grpo.jsonl"}
    rows = {name: [] for name in files}
    for index in range(num_rows):
        question, diagnosis, findings = _question(rng, index)
        wrong = rng.choice([d for d in DIAGNOSES if d != diagnosis])
        user = [{"role": "user", "content": question}]
        reply = {"role": "assistant", "content": f"Answer: {diagnosis}",
                 "reasoning_content": f"{', '.join(findings)} point to {diagnosis}."}
        bad = {"role": "assistant", "content": f"Answer: {wrong}", "reasoning_content": f"Maybe {wrong}."}
        rows["cpt"].append({"text": f"{question} {diagnosis}. 患者は{diagnosis}です。"})
        rows["sft"].append({"messages": [*user, reply]})
        rows["preference"].append({"prompt": user, "chosen": [reply], "rejected": [bad], "margin": 1 + index % 3})
        item = Item(id=str(index), question=question, options={}, gold=diagnosis, verifier="diagnosis", meta={})
        rows["grpo"].append({"prompt": user, "item": item_to_json(item)})
    root.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows[name]), encoding="utf-8")
    return files


def build_model(root: Path, files: dict[str, Path], *, seed: int = 0, size: str = "tiny-0.5m") -> Path:
    """Build a tiny model whose tokenizer is trained on the world's texts."""
    corpus = [line for path in files.values() for line in path.read_text(encoding="utf-8").splitlines()]
    return build_tiny_model(root / f"model-{size}-{seed}", size=size, corpus=corpus, seed=seed,
                            vocab_size=800, max_position_embeddings=256)


def small_world(root: Path) -> tuple[Path, dict[str, Path], Path]:
    """``(root, files, model)``: an 8-row world and a tiny model on it, the GRPO tests' setting."""
    files = write_world(root, num_rows=8)
    return root, files, build_model(root, files)


def distinct_characters_reward(completions, *, scale: float, **columns) -> list[float]:
    """Test reward with variance even for a random model (format/correctness are always 0 there)."""
    from medreasoner.rewards.completion import completion_text

    return [scale * len(set(completion_text(c))) for c in completions]


def cpu_optim(**overrides) -> dict:
    """A CPU ``optim:`` section: 3 steps, fp32, a checkpoint every 2 steps, log every step."""
    section = {"learning_rate": 1e-3, "max_steps": 3, "per_device_train_batch_size": 4,
               "gradient_accumulation_steps": 1, "warmup_steps": 0, "lr_scheduler_type": "constant",
               "weight_decay": 0.0, "max_grad_norm": 1.0, "bf16": False, "gradient_checkpointing": False,
               "use_cpu": True, "logging_steps": 1, "save_steps": 2}
    section.update(overrides)
    return section


LORA = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": "all-linear", "load_in_4bit": False}


def make_ctx(out_dir: Path, logged: list) -> StageContext:
    """A StageContext whose ``log`` appends ``(step, metrics)`` to ``logged``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return StageContext(run_dir=out_dir.parent, out_dir=out_dir, seed=0,
                        log=lambda metrics, step: logged.append((step, metrics)))


def changed_tensors(before: Path, after: Path) -> list[str]:
    """Names of the tensors that differ between two saved models (same tensor names required)."""
    a, b = load_file(str(before / "model.safetensors")), load_file(str(after / "model.safetensors"))
    assert a.keys() == b.keys()
    return [name for name in a if not torch.equal(a[name], b[name])]


def generate(model_dir: Path, *, num_labels: int | None = None) -> str:
    """Reload a saved model and greedily generate a few tokens for a chat prompt (smoke check)."""
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "Case 0: fever. Diagnosis?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert output.shape[1] > inputs["input_ids"].shape[1]
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:])
