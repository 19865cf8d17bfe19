"""The bench scripts' stage configs validate against the stages' schemas.

bench/ holds scripts, not tests, so nothing else runs them; when a stage's schema gained a required
field, bench/rollout_throughput.py failed at validation until someone ran it by hand.

Run: .venv/bin/pytest tests/test_bench_configs.py -q
"""

from __future__ import annotations

from bench_support import BENCH, load_script

from medreasoner.stages import grpo, sft


def script(name: str):
    """Import bench/<name>.py."""
    return load_script(BENCH / f"{name}.py", f"bench_{name}")


def test_rollout_throughput_builds_a_valid_grpo_config(tmp_path):
    config = script("rollout_throughput").stage_config("model_dir", tmp_path / "prompts.jsonl", steps=4,
                                                       batch=128, generations=8, max_new=48)
    assert isinstance(config, grpo.Config)
    assert (config.optim.max_steps, config.optim.per_device_train_batch_size) == (4, 128)
    assert (config.grpo.num_generations, config.grpo.max_completion_length) == (8, 48)


def test_train_throughput_builds_a_valid_sft_config(tmp_path):
    config = script("train_throughput").stage_config(tmp_path / "model", tmp_path / "sft.jsonl", steps=20,
                                                     batch=8, max_length=256, bf16=False)
    assert isinstance(config, sft.Config)
    assert (config.optim.max_steps, config.optim.per_device_train_batch_size) == (20, 8)
    assert config.data.max_length == 256


def test_sft_sampler_builds_valid_sft_configs_for_both_samplers(tmp_path):
    bench = script("sft_sampler")
    configs = [bench.stage_config("model_dir", tmp_path / "sft.jsonl", steps=10, batch=16, max_length=384,
                                  strategy=strategy) for strategy in bench.STRATEGIES]
    assert all(isinstance(config, sft.Config) for config in configs)
    assert [config.optim.model_extra["train_sampling_strategy"] for config in configs] == ["random",
                                                                                        "group_by_length"]
