"""Helpers shared by the S4 tests (environment episodes, the expert, redrawn world cases, the dagger step):
a small synthetic-world config, and a built world with a tiny model whose tokenizer is trained on its texts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from medreasoner.model import build_tiny_model, load_tokenizer
from medreasoner.sim.config import WorldConfig
from medreasoner.sim.world import build_world


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by its POSIX path relative to ``root``: equal digests, equal trees."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def small_world(*, seed: int, train: int, validation: int, test: int) -> dict:
    """A world config (as a dict, for ``WorldConfig(**...)``): two settings, no noise, English, no CPT reports."""
    return dict(
        seed=seed, knowledge_base=None, setting_weights={"primary_care": 0.5, "emergency": 0.5}, noise=0.0,
        enable_pertinent_negatives=False, num_exams_revealed=2, num_options=5, chain_verbosity="short",
        plausible_threshold=0.15, num_cases={"train": train, "validation": validation, "test": test, "rl": 0},
        train_tasks=["diagnosis"], cpt_languages=["en"], num_cpt_case_reports=0, num_calculator_tasks=0,
        cpt_only_conditions=[],
    )


def world_with_model(root: Path, world: dict):
    """Build ``world`` under ``root/world`` and a tiny-0.5m model (4,096 positions) on its CPT text and expert
    episodes; return ``(world_dir, model_dir, tokenizer)`` (the tokenizer pads on the left, for generation)."""
    build_world(WorldConfig(**world), root / "world")
    corpus = [line for name in ("cpt/train.jsonl", "env/sft_train.jsonl")
              for line in (root / "world" / name).read_text(encoding="utf-8").splitlines()]
    model_dir = build_tiny_model(root / "tiny", size="tiny-0.5m", corpus=corpus, seed=0, vocab_size=800,
                                 max_position_embeddings=4096)
    return root / "world", model_dir, load_tokenizer(model_dir, padding_side="left")
