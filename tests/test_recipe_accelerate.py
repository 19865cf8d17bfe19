"""The shipped accelerate configs parse with accelerate's own loader and name real options.

Run: .venv/bin/python -m pytest tests/test_recipe_accelerate.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from accelerate.commands.config.config_args import ClusterConfig
from accelerate.commands.launch import launch_command_parser
from accelerate.utils import DistributedType

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "accelerate"
LAUNCH_OPTIONS = {action.dest for action in launch_command_parser()._actions}


@pytest.mark.parametrize("name, distributed_type", [
    ("zero3", DistributedType.DEEPSPEED),
    ("fsdp", DistributedType.FSDP),
    ("single_gpu", DistributedType.NO),
    ("ddp", DistributedType.MULTI_GPU),
])
def test_config_loads_with_accelerate(name, distributed_type):
    # from_yaml_file rejects unknown top-level keys.
    config = ClusterConfig.from_yaml_file(str(CONFIGS / f"{name}.yaml"))
    assert config.distributed_type == distributed_type
    for section in ("deepspeed_config", "fsdp_config"):
        for key in getattr(config, section):
            assert key in LAUNCH_OPTIONS, f"{name}.yaml: {section}.{key} is not an accelerate launch option"


def test_zero3_points_to_a_stage3_deepspeed_file():
    config = yaml.safe_load((CONFIGS / "zero3.yaml").read_text())
    ds_file = REPO / config["deepspeed_config"]["deepspeed_config_file"]
    ds = json.loads(ds_file.read_text())
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["bf16"]["enabled"] == "auto"  # the Trainer fills it from the recipe's optim.bf16
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    # With a config file, accelerate refuses these keys in the YAML (they belong to the JSON).
    assert not {"zero_stage", "gradient_accumulation_steps", "gradient_clipping", "mixed_precision"} & set(
        config["deepspeed_config"])


def test_fsdp2_wraps_qwen2_decoder_layers():
    config = yaml.safe_load((CONFIGS / "fsdp.yaml").read_text())["fsdp_config"]
    assert config["fsdp_version"] == 2 and config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    import transformers.models.qwen2.modeling_qwen2 as qwen2

    assert hasattr(qwen2, config["fsdp_transformer_layer_cls_to_wrap"])
