"""Preference stage (DPO / RPO, full and LoRA). Run: .venv/bin/python -m pytest tests/test_stage_preference.py -q"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from medreasoner.stages import preference
from stage_testing import LORA, build_model, changed_tensors, cpu_optim, generate, make_ctx, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pref")
    files = write_world(root)
    return root, files, build_model(root, files)


def _config(model, files, section, peft=None):
    return preference.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(files["preference"]), "max_length": 128},
        "preference": section,
        "optim": cpu_optim(),
        "peft": peft,
    })


@pytest.mark.slow
def test_rpo_full_training_with_reference_reloaded_from_disk(world):
    root, files, model = world
    out = root / "rpo" / "preference"
    logged = []
    section = {"loss": "rpo", "beta": 0.1, "rpo_alpha": 1.0, "precompute_ref_log_probs": False}
    metrics = preference.run(_config(model, files, section), make_ctx(out, logged))
    assert metrics["global_step"] == 3 and math.isfinite(metrics["train_loss"])
    assert any("rewards/margins" in m for _, m in logged)
    assert changed_tensors(model, out)
    generate(out)


@pytest.mark.slow
def test_dpo_lora_with_precomputed_reference(world):
    root, files, model = world
    out = root / "dpo-lora" / "preference"
    section = {"loss": "dpo", "beta": 0.1, "precompute_ref_log_probs": True}
    metrics = preference.run(_config(model, files, section, peft=LORA), make_ctx(out, []))
    assert math.isfinite(metrics["train_loss"])
    changed = changed_tensors(model, out)
    assert changed and all("proj" in name for name in changed)
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    generate(out)


def test_rpo_alpha_goes_with_rpo(world):
    _, files, model = world
    with pytest.raises(ValidationError, match="rpo_alpha"):
        _config(model, files, {"loss": "rpo", "beta": 0.1, "precompute_ref_log_probs": False})
    with pytest.raises(ValidationError, match="rpo_alpha"):
        _config(model, files, {"loss": "dpo", "beta": 0.1, "rpo_alpha": 1.0, "precompute_ref_log_probs": False})
