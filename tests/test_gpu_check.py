"""bench/gpu_check.sh without a GPU: its dry run, the recipes it derives, and its helpers' arithmetic.

Run: .venv/bin/pytest tests/test_gpu_check.py -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench_support import BENCH, load_script

from medreasoner.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
HELPERS = BENCH / "gpu_check"


def helper(name: str):
    """Import bench/gpu_check/<name>.py."""
    return load_script(HELPERS / f"{name}.py", f"gpu_check_{name}")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    env = {**os.environ, "GPU_CHECK_OUT": str(out), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--dry-run"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    return done, out


def test_dry_run_prints_the_plan_and_validates(dry_run):
    done, out = dry_run
    assert done.returncode == 0, done.stdout + done.stderr
    for check in ("install", "mfu_bf16_sft", "zero3_sft", "fsdp_sft", "qlora_cpt", "sft_tiny",
                  "grpo_vllm_colocate", "eval_vllm_vs_hf"):
        assert check in done.stdout
    for step in ("derive_recipes", "validate_recipes", "accelerate_configs", "mfu_model", "check_helpers"):
        assert f"ok    {step}" in done.stdout
    assert "5/5 recipes valid" in done.stdout
    assert not (out / "runs").exists() or not any((out / "runs").iterdir())  # a dry run trains nothing


def test_dry_run_fails_on_an_invalid_derived_recipe(tmp_path):
    # The same script with a broken tiny recipe must report the failure (the check can fail).
    # Copies, not links: recipes.py finds the recipes relative to its own (resolved) location.
    bench = tmp_path / "repo"
    (bench / "bench" / "gpu_check").mkdir(parents=True)
    (bench / "bench" / "gpu_check.sh").write_text((ROOT / "bench" / "gpu_check.sh").read_text())
    for script in HELPERS.glob("*.py"):
        (bench / "bench" / "gpu_check" / script.name).write_text(script.read_text())
    (bench / "configs").symlink_to(ROOT / "configs")
    (bench / "recipes").mkdir()
    (bench / "recipes" / "preferred_medllm").symlink_to(ROOT / "recipes" / "preferred_medllm")
    (bench / "recipes" / "tiny").mkdir()
    for recipe in (ROOT / "recipes" / "tiny").glob("*.yaml"):
        text = recipe.read_text()
        if recipe.name == "sft.yaml":
            assert "max_length: 384" in text
            text = text.replace("max_length: 384", "max_length: -1")
        (bench / "recipes" / "tiny" / recipe.name).write_text(text)
    env = {**os.environ, "GPU_CHECK_OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(bench / "bench" / "gpu_check.sh"), "--dry-run"], env=env, cwd=bench,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "FAIL  validate_recipes" in done.stdout


def test_derived_recipes_load_and_target_the_gpu(dry_run):
    _, out = dry_run
    recipes = {path.stem: load_recipe(path) for path in sorted((out / "recipes").glob("*.yaml"))}
    assert set(recipes) == {"sft_zero3", "sft_fsdp", "grpo_vllm", "sft_tiny", "cpt_qlora"}
    for recipe in recipes.values():
        for stage in recipe.stages:
            optim = getattr(stage.config, "optim", None)
            if optim is not None:
                assert optim.use_cpu is False, (recipe.name, stage.name)
    for smoke in ("sft_zero3", "sft_fsdp"):
        sft = next(s for s in recipes[smoke].stages if s.kind == "sft").config
        assert sft.optim.bf16 and sft.optim.max_steps == 4


def test_grpo_recipe_uses_colocated_vllm_on_the_sft_model(dry_run):
    _, out = dry_run
    recipe = load_recipe(out / "recipes" / "grpo_vllm.yaml")
    grpo = recipe.stages[-1]
    assert grpo.kind == "grpo" and set(grpo.references) == {"clean_grpo", "sft"}
    section = grpo.config.grpo
    assert section.use_vllm and section.vllm_mode == "colocate" and section.vllm_enable_sleep_mode
    assert section.vllm_max_model_length == grpo.config.data.max_prompt_length + section.max_completion_length
    world = next(s for s in recipe.stages if s.kind == "world")
    assert world.config.num_cases.validation == 20  # the eval comparison's 20 items


def test_sft_tiny_is_a_prefix_of_the_grpo_recipe(dry_run):
    # gpu_check.sh runs sft_tiny.yaml first and grpo_vllm.yaml later in the same run directory: the
    # pipeline skips the finished stages only if their resolved configs are the same.
    _, out = dry_run
    with_grpo = load_recipe(out / "recipes" / "grpo_vllm.yaml", run_dir=out / "run")
    prefix = load_recipe(out / "recipes" / "sft_tiny.yaml", run_dir=out / "run")
    assert prefix.name == with_grpo.name
    assert [s.config_dict() for s in prefix.stages] == [s.config_dict() for s in with_grpo.stages[:len(prefix.stages)]]


def test_qlora_recipe_keeps_the_paper_quantisation(dry_run):
    _, out = dry_run
    cpt = next(s for s in load_recipe(out / "recipes" / "cpt_qlora.yaml").stages if s.kind == "cpt").config
    paper = next(s for s in load_recipe(ROOT / "recipes" / "preferred_medllm" / "cpt_qlora.yaml").stages
                 if s.kind == "cpt").config
    assert cpt.peft.load_in_4bit and cpt.peft.target_modules == paper.peft.target_modules
    assert cpt.peft.lora_alpha / cpt.peft.r == paper.peft.lora_alpha / paper.peft.r
    assert cpt.optim.bf16 and cpt.optim.gradient_checkpointing and cpt.model.dtype == "bfloat16"


def test_mfu_model_has_qwen2_0_5b_parameter_count():
    mfu = helper("mfu")
    c = mfu.QWEN2_0_5B
    d, kv = c["hidden_size"], c["num_key_value_heads"] * d_head(c)
    per_layer = (d * d + d) + 2 * (d * kv + kv) + d * d + 3 * d * c["intermediate_size"] + 2 * d
    expected = c["num_hidden_layers"] * per_layer + c["vocab_size"] * d + d  # tied embedding, final norm
    assert mfu.num_parameters(mfu.build_model("meta")) == expected == 494_032_768


def d_head(config: dict) -> int:
    return config["hidden_size"] // config["num_attention_heads"]


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989.5), ("NVIDIA H100 PCIe", 756.5), ("NVIDIA H100 NVL", 835.5),
    ("NVIDIA H200", 989.5), ("NVIDIA H200 NVL", 835.5), ("NVIDIA A100-SXM4-80GB", 312.0),
    ("NVIDIA L40S", 362.05), ("NVIDIA L4", 121.0), ("Tesla T4", None),
])
def test_peak_lookup(name, peak, monkeypatch):
    monkeypatch.delenv("GPU_PEAK_BF16_TFLOPS", raising=False)
    assert helper("mfu").peak_tflops(name) == peak


def test_peak_env_override_wins(monkeypatch):
    monkeypatch.setenv("GPU_PEAK_BF16_TFLOPS", "500")
    assert helper("mfu").peak_tflops("NVIDIA H100 80GB HBM3") == 500.0


def write_predictions(run: Path, rows: list[dict]) -> Path:
    (run / "items_answer").mkdir(parents=True)
    (run / "items_answer" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def test_compare_eval_counts_identical_responses(tmp_path):
    rows = [{"id": f"q{i}", "response": f"\\boxed{{{i}}}", "extracted": str(i), "correct": i % 2 == 0}
            for i in range(4)]
    other = [dict(r) for r in rows]
    other[1].update(response="\\boxed{9}", extracted="9")
    script = str(HELPERS / "compare_eval.py")
    same = subprocess.run([sys.executable, script, str(write_predictions(tmp_path / "a", rows)),
                           str(write_predictions(tmp_path / "b", rows))], capture_output=True, text=True)
    differ = subprocess.run([sys.executable, script, str(tmp_path / "a"), str(write_predictions(tmp_path / "c", other)),
                             "--json", str(tmp_path / "c.json")], capture_output=True, text=True)
    assert same.returncode == 0 and "identical responses: 4/4" in same.stdout
    assert differ.returncode == 1 and "identical responses: 3/4" in differ.stdout
    figures = json.loads((tmp_path / "c.json").read_text())
    assert figures["same_extracted"] == 3 and figures["first_difference"]["id"] == "q1"


def test_grpo_metrics_flags_a_missing_or_broken_weight_push(tmp_path):
    summary = helper("grpo_metrics").summary
    gap = "sampling/sampling_logp_difference/max"

    def metrics(rows: list[dict]) -> Path:
        path = tmp_path / f"m{len(list(tmp_path.iterdir()))}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path

    synced = [{"loss": 0.1, "grad_norm": 0.5, gap: 0.035}, {"loss": 0.0, "grad_norm": 0.4, gap: 0.046}]
    stale = [{"loss": 0.1, "grad_norm": 0.5, gap: 0.035}, {"loss": 0.0, "grad_norm": 0.4, gap: 2.7}]
    hf_only = [{"loss": 0.1, "grad_norm": 0.5}]
    frozen = [{"loss": 0.0, "grad_norm": 0.0, gap: 0.03}]
    assert summary(metrics(synced), 1.0) == ("2 steps, 2 updated, logp gap 0.035->0.046", True)
    assert summary(metrics(stale), 1.0)[1] is False
    assert summary(metrics(hf_only), 1.0)[1] is False
    assert "no update" in summary(metrics(frozen), 1.0)[0]
