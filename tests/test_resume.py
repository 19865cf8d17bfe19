"""Kill a running pipeline with SIGKILL mid-stage, run it again, and check it resumes where it stopped.

Run: .venv/bin/python -m pytest tests/test_resume.py -q   (about a minute on 2 cores)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from medreasoner.stages.training import SEGMENTS_FILE

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "tiny" / "sft.yaml"


def command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "medreasoner.cli", "run", str(RECIPE), "--output", str(run_dir)]


def complete_checkpoints(stage_dir: Path) -> list[int]:
    # trainer_state.json is the last file the Trainer writes into a checkpoint; our segments file follows it
    # (an on_save callback). Killed between the two, a resumed run cannot know the first segment's runtime
    # (None, which training.py handles), so the test waits for both.
    return sorted(int(m.group(1)) for p in stage_dir.glob("checkpoints/checkpoint-*/trainer_state.json")
                  if (m := re.fullmatch(r"checkpoint-(\d+)", p.parent.name)) and (p.parent / SEGMENTS_FILE).is_file())


def training_steps(lines: list[str]) -> list[int]:
    return [record["step"] for record in map(json.loads, lines) if "loss" in record]


@pytest.mark.slow
def test_sigkill_mid_stage_then_rerun_resumes_from_checkpoint(tmp_path):
    stages = yaml.safe_load(RECIPE.read_text())["stages"]
    optim = next(stage for stage in stages if stage["name"] == "sft")["config"]["optim"]
    max_steps, save_steps = optim["max_steps"], optim["save_steps"]
    assert optim["logging_steps"] == 1 and max_steps >= 3 * save_steps  # the test needs room to kill mid-stage
    run_dir, stage_dir = tmp_path / "run", tmp_path / "run" / "sft"
    log = open(tmp_path / "first_run.log", "w")
    first = subprocess.Popen(command(run_dir), cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    deadline = time.monotonic() + 240
    while not complete_checkpoints(stage_dir):
        assert first.poll() is None, "run ended before its first checkpoint:\n" + (tmp_path / "first_run.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    log.close()

    resume_step = max(complete_checkpoints(stage_dir))
    # the resumed run takes the newest checkpoint the Trainer finished; the test's must be that one
    finished = [int(p.parent.name.rsplit("-", 1)[1]) for p in stage_dir.glob("checkpoints/checkpoint-*/trainer_state.json")]
    assert max(finished) == resume_step, f"the kill cut checkpoint-{max(finished)} off before its segments file"
    assert resume_step < max_steps
    assert not (stage_dir / "stage_manifest.json").exists()
    logged_before_kill = (stage_dir / "metrics.jsonl").read_text().splitlines()
    assert training_steps(logged_before_kill)[:resume_step] == list(range(1, resume_step + 1))

    second = subprocess.run(command(run_dir), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "world (world): finished earlier, skipping" in second.stdout
    assert "sft (sft): interrupted earlier; resuming in place" in second.stdout

    lines = (stage_dir / "metrics.jsonl").read_text().splitlines()
    assert lines[: len(logged_before_kill)] == logged_before_kill  # appended, never truncated
    resumed = training_steps(lines[len(logged_before_kill):])
    # The second run continued after the checkpoint (not from step 1) and stopped at max_steps.
    assert resumed == list(range(resume_step + 1, max_steps + 1))
    assert set(training_steps(lines)) == set(range(1, max_steps + 1))

    manifest = json.loads((stage_dir / "stage_manifest.json").read_text())
    final = manifest["final_metrics"]
    assert final["global_step"] == max_steps  # what an uninterrupted run reaches
    state = json.loads((stage_dir / "checkpoints" / f"checkpoint-{max_steps}" / "trainer_state.json").read_text())
    assert state["global_step"] == max_steps
    # Metrics cover the whole run, not the last segment: two segments, the first ending at the checkpoint
    # resumed from; train_loss is the mean loss over all max_steps steps (logging_steps = 1, so one logged
    # loss per step), which is what an uninterrupted run reports; the runtime adds up the segments.
    assert final["train_segments"] == 2
    first_segment, last_segment = final["segments"]
    assert (first_segment["start_step"], first_segment["end_step"]) == (0, resume_step)
    assert (last_segment["start_step"], last_segment["end_step"]) == (resume_step, max_steps)
    losses = {entry["step"]: entry["loss"] for entry in state["log_history"] if "loss" in entry}
    assert sorted(losses) == list(range(1, max_steps + 1))
    assert final["train_loss"] == pytest.approx(sum(losses.values()) / max_steps, rel=1e-6)
    assert last_segment["train_loss"] == pytest.approx(
        sum(losses[s] for s in range(resume_step + 1, max_steps + 1)) / (max_steps - resume_step), rel=1e-6)
    assert first_segment["runtime_s"] > 0
    assert final["train_runtime"] == pytest.approx(first_segment["runtime_s"] + last_segment["runtime_s"], abs=1e-3)
    assert (stage_dir / "model.safetensors").is_file()
