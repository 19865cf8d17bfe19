"""Which Trainer checkpoint a resumed stage starts from: never one that a killed process left half written.

Run: .venv/bin/python -m pytest tests/test_checkpoint_complete.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from medreasoner.stages.training import checkpoint_complete, last_checkpoint


def save_checkpoint(stage_dir: Path, step: int, ranks: int) -> Path:
    """A checkpoint as the Trainer writes it: torch-saved states (one RNG file per rank when ranks > 1),
    trainer_state.json last."""
    checkpoint = stage_dir / "checkpoints" / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    torch.save({"step": step}, checkpoint / "optimizer.pt")
    names = ["rng_state.pth"] if ranks == 1 else [f"rng_state_{rank}.pth" for rank in range(ranks)]
    for name in names:
        torch.save({"cpu": torch.random.get_rng_state()}, checkpoint / name)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step}), encoding="utf-8")
    return checkpoint


def test_a_rank_killed_while_saving_its_rng_state_sends_the_resume_to_the_checkpoint_before(tmp_path):
    save_checkpoint(tmp_path, 2, ranks=2)
    newest = save_checkpoint(tmp_path, 4, ranks=2)
    assert last_checkpoint(tmp_path, world_size=2).endswith("checkpoint-4")
    # Rank 0 wrote trainer_state.json; rank 1 died with its RNG file opened but empty (seen in a DDP run).
    (newest / "rng_state_1.pth").write_bytes(b"")
    assert not checkpoint_complete(newest, world_size=2)
    assert last_checkpoint(tmp_path, world_size=2).endswith("checkpoint-2")


def test_a_torch_file_cut_short_makes_the_checkpoint_incomplete(tmp_path):
    newest = save_checkpoint(tmp_path, 3, ranks=1)
    assert checkpoint_complete(newest)
    data = (newest / "optimizer.pt").read_bytes()
    (newest / "optimizer.pt").write_bytes(data[: len(data) // 2])
    assert not checkpoint_complete(newest)
    assert last_checkpoint(tmp_path) is None


def test_a_distributed_checkpoint_needs_every_ranks_rng_state_to_resume_on_that_many(tmp_path):
    checkpoint = save_checkpoint(tmp_path, 2, ranks=2)
    (checkpoint / "rng_state_1.pth").unlink()  # rank 1 killed before it opened the file
    assert not checkpoint_complete(checkpoint, world_size=2)
    # One process resumes from rng_state.pth, which a 2-process run never writes; the Trainer then goes on
    # without restoring RNG state, as it does for any change of world size.
    assert checkpoint_complete(checkpoint, world_size=1)


def test_a_checkpoint_without_trainer_state_is_incomplete(tmp_path):
    checkpoint = save_checkpoint(tmp_path, 2, ranks=1)
    (checkpoint / "trainer_state.json").unlink()
    assert not checkpoint_complete(checkpoint) and last_checkpoint(tmp_path) is None
