"""Multi-process training on CPU: `accelerate launch --num_processes 2` runs the pipeline's training stages.

One small recipe is derived from the tiny recipes (recipes/tiny/{world,tiny_model,cpt,sft,reward_model,
preference,grpo}.yaml: their stages, with fewer steps) and run three ways:

- single process, per-device batch 2B: the reference;
- DDP over 2 gloo processes (configs/accelerate/cpu_ddp.yaml), per-device batch B: rank 1 is killed with
  SIGKILL in the middle of the sft stage, after a checkpoint; the relaunch resumes and finishes;
- DeepSpeed ZeRO-3 over 2 processes (configs/accelerate/zero3.yaml), sft and preference only (time);
  skipped without deepspeed.

Checked: non-training stages ran on rank 0 only, training stages on both ranks; every training stage
leaves one Hugging Face model that reloads and generates; manifests record 2 processes; loss curves
match the reference. FSDP on CPU is refused before any stage (accelerate would silently run DDP).

Run: .venv/bin/python -m pytest tests/test_multiprocess.py -q   (about 2-3 minutes on 2 cores)
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from medreasoner.model import load_tokenizer
from medreasoner.pipeline import EVERY_RANK_KINDS
from medreasoner.stages.training import last_checkpoint

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "recipes" / "tiny"
ACCELERATE_CONFIGS = REPO / "configs" / "accelerate"
TRAINING_RECIPES = ("cpt", "sft", "reward_model", "preference", "grpo")  # recipes/tiny/<name>.yaml
BATCH = 2  # per device under 2 processes; the single-process reference uses 2 * BATCH
STEPS = 4  # optimizer steps of every training stage but sft
SFT_STEPS = 10  # sft runs longer, so that it can be killed after its first checkpoint (step 2) and resumed
LAUNCH_TIMEOUT_S = 300
# Relative tolerance of the loss curves (2 processes x batch B vs 1 process x batch 2B, same seed and
# data order). cpt, sft and reward_model are the same computation up to float summation order (the
# all-reduce adds two half-batch gradients; the Trainer averages the loss over the tokens of all
# processes): measured equal to 1e-6. preference (RPO) is not: TRL averages its NLL term over the chosen
# tokens of each process's half batch and DDP averages the two means, while one process averages over
# all tokens of the batch (a mean of ratios vs a ratio of sums); measured up to 1.1e-3 apart.
# grpo is not compared: TRL seeds each process's sampling differently, so the completions differ.
LOSS_RTOL = {"cpt": 1e-4, "sft": 1e-4, "reward_model": 1e-4, "rpo": 5e-3}


def _recipe_stages(name: str) -> list[dict]:
    return yaml.safe_load((TINY / f"{name}.yaml").read_text(encoding="utf-8"))["stages"]


def derived_recipe(per_device_batch: int, recipes: tuple[str, ...] = TRAINING_RECIPES) -> dict:
    """world -> base (tiny-0.5m) -> each of ``recipes``' data steps and training stage, shrunk."""
    world = _recipe_stages("world")[0]
    base = next(stage for stage in _recipe_stages("tiny_model") if stage["kind"] == "tiny_model")
    base["config"]["model"]["size"] = "tiny-0.5m"
    stages = {"world": world, "base": base}
    for recipe in recipes:
        for stage in _recipe_stages(recipe):
            if stage["kind"] in ("world", "tiny_model"):
                continue
            if stage["name"] in stages:  # a data step shared by two recipes (clean_preference)
                assert stages[stage["name"]] == stage, f"{recipe}.yaml: {stage['name']} differs from another recipe's"
                continue
            config = stage["config"]
            if "optim" in config:
                config["optim"].update(max_steps=SFT_STEPS if stage["kind"] == "sft" else STEPS, save_steps=2,
                                       logging_steps=1, per_device_train_batch_size=per_device_batch,
                                       gradient_accumulation_steps=1)
            if stage["kind"] == "grpo":
                # Groups of 2 fit the per-device batch of 2 (the grpo config requires whole groups per device).
                config["grpo"].update(num_generations=2, max_completion_length=8)
            stages[stage["name"]] = stage
    return {"name": "multiprocess", "seed": 0, "stages": list(stages.values())}


def training_stages(recipe: dict) -> dict[str, str]:
    """{stage name: kind} of the recipe's training stages."""
    return {s["name"]: s["kind"] for s in recipe["stages"] if "optim" in s["config"]}


def write_recipe(path: Path, per_device_batch: int, recipes: tuple[str, ...] = TRAINING_RECIPES) -> dict:
    recipe = derived_recipe(per_device_batch, recipes)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return recipe


def env() -> dict[str, str]:
    # One thread per process: 2 processes on 2 cores.
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def run_command(recipe: Path, run_dir: Path) -> list[str]:
    return ["-m", "medreasoner.cli", "run", str(recipe), "--output", str(run_dir)]


def launch_command(config: str, recipe: Path, run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIGS / config),
            "--num_processes", "2", *run_command(recipe, run_dir)]


def start(command: list[str], log: Path) -> subprocess.Popen:
    """Start ``command`` in a session of its own, so that a failed test can stop the launcher and its workers."""
    with open(log, "w") as handle:
        return subprocess.Popen(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env=env(),
                                start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def finish(command: list[str], log: Path) -> int:
    """Run ``command`` to completion (at most LAUNCH_TIMEOUT_S); its exit status."""
    process = start(command, log)
    try:
        return process.wait(timeout=LAUNCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command)} still running after {LAUNCH_TIMEOUT_S} s:\n{log.read_text()[-6000:]}")
    finally:
        stop(process)


def check_run(command: list[str], log: Path) -> str:
    """Run ``command`` to completion; return its output, or fail the test showing its tail."""
    status = finish(command, log)
    output = log.read_text(errors="replace")
    assert status == 0, f"{' '.join(command)} exited {status}:\n{output[-6000:]}"
    return output


def manifest(stage_dir: Path) -> dict:
    return json.loads((stage_dir / "stage_manifest.json").read_text(encoding="utf-8"))


def loss_curve(stage_dir: Path) -> dict[int, dict]:
    """{step: logged record with a loss}; a resumed stage logs some steps twice: the last one counts."""
    records = [json.loads(line) for line in (stage_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    return {record["step"]: record for record in records if "loss" in record}


def resumable_step(stage_dir: Path) -> int | None:
    """The step a 2-process relaunch resumes the stage from (the library's own test of a complete checkpoint)."""
    checkpoint = last_checkpoint(stage_dir, world_size=2)
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The derived recipe run by one process with per-device batch 2 * BATCH (the same global batch);
    without grpo, whose losses are not compared."""
    root = tmp_path_factory.mktemp("single")
    recipe = root / "recipe.yaml"
    write_recipe(recipe, 2 * BATCH, tuple(r for r in TRAINING_RECIPES if r != "grpo"))
    check_run([sys.executable, *run_command(recipe, root / "run")], root / "run.log")
    return root / "run"


def assert_ran_distributed(run_dir: Path, recipe: dict, distributed_type: str) -> None:
    """Stage manifests, final models and loss logs of a 2-process run."""
    trained = training_stages(recipe)
    for stage in recipe["stages"]:
        launch = manifest(run_dir / stage["name"])["launch"]
        ran_on = "every rank" if stage["name"] in trained else "rank 0"
        assert {k: v for k, v in launch.items() if k != "torch_threads"} == \
            {"world_size": 2, "ran_on": ran_on, "backend": "gloo"}, stage["name"]
        assert launch["torch_threads"] >= 1, stage["name"]  # each rank's intra-op threads
    base = run_dir / "base"
    for name, kind in trained.items():
        stage_dir = run_dir / name
        final = manifest(stage_dir)["final_metrics"]
        assert final["distributed"] == {"distributed_type": distributed_type, "num_processes": 2,
                                        "global_batch_size": 2 * BATCH}, name
        assert final["global_step"] == (SFT_STEPS if kind == "sft" else STEPS)
        # One model, written once (rank 0): no second copy, no shard index, no staging leftovers.
        assert sorted(p.name for p in stage_dir.glob("*.safetensors")) == ["model.safetensors"], name
        assert {"config.json", "tokenizer.json", "tokenizer_config.json"} <= {p.name for p in stage_dir.iterdir()}
        assert not list(stage_dir.glob(".*")), f"{name}: leftover temporary files"
        if kind != "grpo":
            # grpo's rewards are all 0 for an untrained 0.5M model's 8-token completions, so its
            # advantages and gradient are 0 (grad_norm 0 is logged) and its weights stay the base's.
            assert changed_from(base, stage_dir), f"{name}: weights equal the base model's"
        assert_reloads(stage_dir, sequence_classifier=kind == "reward_model")
        curve = loss_curve(stage_dir)
        assert sorted(curve) == list(range(1, final["global_step"] + 1)), name
        assert all(math.isfinite(record["loss"]) for record in curve.values()), name


def changed_from(base: Path, trained: Path) -> list[str]:
    """Names of the tensors that differ between two saved models."""
    before, after = load_file(str(base / "model.safetensors")), load_file(str(trained / "model.safetensors"))
    return [name for name in before if name in after and not torch.equal(before[name], after[name])]


def assert_reloads(model_dir: Path, *, sequence_classifier: bool) -> None:
    """The saved model loads with transformers and generates (a reward model: scores a conversation)."""
    tokenizer = load_tokenizer(model_dir, padding_side="left")
    messages = [{"role": "user", "content": "Fever and cough. Diagnosis?"}]
    if sequence_classifier:
        model = AutoModelForSequenceClassification.from_pretrained(model_dir)
        text = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": "pneumonia"}], tokenize=False)
        with torch.no_grad():
            score = model(**tokenizer(text, return_tensors="pt")).logits
        assert score.shape == (1, 1) and torch.isfinite(score).all()
        return
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert output.shape[1] > inputs["input_ids"].shape[1]


def assert_losses_match(run_dir: Path, reference_dir: Path) -> None:
    for name, rtol in LOSS_RTOL.items():
        if not (run_dir / name).is_dir():
            continue
        curve, expected = loss_curve(run_dir / name), loss_curve(reference_dir / name)
        assert sorted(curve) == sorted(expected), name
        for step, record in expected.items():
            assert curve[step]["loss"] == pytest.approx(record["loss"], rel=rtol), f"{name} step {step}"
            # Same global batch: each optimizer step covers the same fraction of the data. A launch that
            # silently trained one process per copy would cover half of it.
            assert curve[step]["epoch"] == pytest.approx(record["epoch"], rel=1e-9), f"{name} step {step}"


def rank_process(launcher: subprocess.Popen, rank: int) -> psutil.Process | None:
    """The worker of ``rank`` among the launcher's descendants (torchrun sets RANK in its environment)."""
    for child in psutil.Process(launcher.pid).children(recursive=True):
        try:
            if child.environ().get("RANK") == str(rank):
                return child
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


@pytest.mark.slow
def test_ddp_two_processes_match_one_and_resume_after_a_rank_is_killed(tmp_path, reference):
    recipe_path, run_dir = tmp_path / "recipe.yaml", tmp_path / "run"
    recipe = write_recipe(recipe_path, BATCH)
    assert set(training_stages(recipe).values()) == EVERY_RANK_KINDS  # every training kind is exercised
    command = launch_command("cpu_ddp.yaml", recipe_path, run_dir)
    sft_dir = run_dir / "sft"

    # First launch: SIGKILL rank 1 once sft has a complete checkpoint (the stages before it finished).
    log = tmp_path / "first.log"
    first = start(command, log)
    try:
        deadline = time.monotonic() + LAUNCH_TIMEOUT_S
        while resumable_step(sft_dir) is None:
            assert first.poll() is None, "launch ended before sft's first checkpoint:\n" + log.read_text()[-6000:]
            assert time.monotonic() < deadline, "no sft checkpoint in time:\n" + log.read_text()[-6000:]
            time.sleep(0.02)
        victim = rank_process(first, 1)
        assert victim is not None, "rank 1 not found among the launcher's processes"
        victim.send_signal(signal.SIGKILL)
        # torchrun notices the dead worker and stops the other one.
        assert first.wait(timeout=120) != 0, log.read_text()[-6000:]
    finally:
        stop(first)
    resume_step = resumable_step(sft_dir)
    assert resume_step < SFT_STEPS and not (sft_dir / "stage_manifest.json").exists(), log.read_text()[-6000:]

    # Relaunch: finished stages are skipped, sft resumes from its checkpoint, the rest run.
    output = check_run(command, tmp_path / "second.log")
    assert "cpt (cpt): finished earlier, skipping" in output
    assert "sft (sft): interrupted earlier; resuming in place" in output
    final = manifest(sft_dir)["final_metrics"]
    assert final["train_segments"] == 2
    assert [(s["start_step"], s["end_step"]) for s in final["segments"]] == [(0, resume_step), (resume_step, SFT_STEPS)]

    assert_ran_distributed(run_dir, recipe, "MULTI_CPU")
    # The resumed sft too: skipping the batches already seen keeps the data order of an unbroken run.
    assert_losses_match(run_dir, reference)


@pytest.mark.slow
def test_deepspeed_zero3_two_processes_match_one(tmp_path, reference):
    pytest.importorskip("deepspeed", reason="DeepSpeed not installed (docs/distributed.md: how to install it on CPU)")
    recipe_path, run_dir = tmp_path / "recipe.yaml", tmp_path / "run"
    recipe = write_recipe(recipe_path, BATCH, ("sft", "preference"))
    check_run(launch_command("zero3.yaml", recipe_path, run_dir), tmp_path / "zero3.log")
    assert_ran_distributed(run_dir, recipe, "DEEPSPEED")
    assert_losses_match(run_dir, reference)
    # ZeRO-3: each rank checkpointed its own partition of the parameters and optimizer state.
    step = run_dir / "sft" / "checkpoints" / "checkpoint-2" / "global_step2"
    assert sorted(p.name for p in step.glob("zero_pp_rank_*_model_states.pt")) == [
        "zero_pp_rank_0_mp_rank_00_model_states.pt", "zero_pp_rank_1_mp_rank_00_model_states.pt"]


@pytest.mark.slow
def test_fsdp_on_cpu_is_refused_before_any_stage(tmp_path):
    # accelerate enables FSDP only on GPU-like devices; on CPU it would silently train plain DDP.
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: accelerate would run FSDP for real")
    recipe_path, run_dir = tmp_path / "recipe.yaml", tmp_path / "run"
    recipe = derived_recipe(BATCH, recipes=())  # the world stage alone: loading it imports no trainer
    recipe_path.write_text(yaml.safe_dump({**recipe, "stages": recipe["stages"][:1]}), encoding="utf-8")
    status = finish(launch_command("fsdp.yaml", recipe_path, run_dir), tmp_path / "fsdp.log")
    output = (tmp_path / "fsdp.log").read_text(errors="replace")
    assert status != 0, output[-6000:]
    assert "error: ACCELERATE_USE_FSDP: the accelerate config asks for FSDP, but this launch runs on CPU" in output
    assert not run_dir.exists()
