"""Training stages log to the recipe's trackers through transformers/TRL callbacks: namespaced TensorBoard
scalars in the stage's tb/, hparams and the resolved config, GRPO completion samples; metrics.jsonl stays.
The eval command logs its headline metrics when asked.

Run: .venv/bin/python -m pytest tests/test_tracking_callbacks.py -q
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from eval_support import tiny_model, write_medqa
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from medreasoner import rewards
from medreasoner.cli import main
from medreasoner.stages import grpo, sft
from medreasoner.stages.context import StageContext
from medreasoner.tracking import MetricsLog
from stage_testing import cpu_optim, distinct_characters_reward, small_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return small_world(tmp_path_factory.mktemp("tracking"))


def tensorboard(directory) -> event_accumulator.EventAccumulator:
    """Every event file of a TensorBoard directory, all values kept."""
    events = event_accumulator.EventAccumulator(str(directory), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    events.Reload()
    return events


def texts(events, tag: str) -> list[tuple[int, str]]:
    return [(e.step, e.tensor_proto.string_val[0].decode()) for e in events.Tensors(f"{tag}/text_summary")]


def hparams(events) -> dict:
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    values = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    return {key: value.number_value if value.HasField("number_value") else value.string_value
            for key, value in values.items()}


def tracked_ctx(out_dir, logged: list) -> StageContext:
    out_dir.mkdir(parents=True, exist_ok=True)
    return StageContext(run_dir=out_dir.parent, out_dir=out_dir, seed=0, report_to=("tensorboard",),
                        log=lambda metrics, step: logged.append((step, metrics)))


@pytest.mark.slow
def test_sft_logs_namespaced_scalars_hparams_and_config(world):
    root, files, model = world
    config = sft.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(files["sft"]), "max_length": 64, "packing": False, "assistant_only_loss": False},
        "optim": cpu_optim(max_steps=2, save_steps=2, adam_beta2=0.98),
    })
    out, logged = root / "run" / "sft", []
    sft.run(config, tracked_ctx(out, logged))

    events = tensorboard(out / "tb")
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "train/grad_norm"} <= scalars
    assert "loss" not in scalars  # one writer, the Trainer's callback: no flat copy of the tags
    assert not (out / "checkpoints" / "runs").exists()  # not transformers' default directory
    # The same values as metrics.jsonl (MetricsCallback), at the same optimizer steps.
    from_jsonl = [(step, m["loss"]) for step, m in logged if "loss" in m]
    from_tensorboard = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert [s for s, _ in from_tensorboard] == [s for s, _ in from_jsonl] == [1, 2]
    assert [v for _, v in from_tensorboard] == pytest.approx([v for _, v in from_jsonl], rel=1e-6)

    values = hparams(events)
    assert values["learning_rate"] == pytest.approx(1e-3) and values["adam_beta2"] == pytest.approx(0.98)
    assert values["stage/data.max_length"] == 64 and values["stage/model.chat_template"] == "model"
    [(_, resolved)] = texts(events, "medreasoner/resolved_config")
    assert "max_length: 64" in resolved and "adam_beta2: 0.98" in resolved
    assert '"adam_beta2": 0.98' in texts(events, "args")[0][1]  # TensorBoardCallback's own args text


@pytest.mark.slow
def test_grpo_logs_reward_scalars_and_completion_samples(world, monkeypatch):
    monkeypatch.setitem(rewards.REWARDS, "distinct_characters_reward", distinct_characters_reward)
    root, files, model = world
    config = grpo.Config.model_validate({
        "model": {"path": str(model), "dtype": "float32", "chat_template": "model"},
        "data": {"train": str(files["grpo"]), "max_prompt_length": 64, "limit": None},
        "grpo": {"num_generations": 4, "beta": 0.0, "epsilon": 0.2, "temperature": 1.0, "max_completion_length": 8,
                 "steps_per_generation": 1, "loss_type": "grpo", "scale_rewards": "group", "use_vllm": False},
        "rewards": [{"name": "distinct_characters_reward", "weight": 1.0, "params": {"scale": 0.1}}],
        "optim": cpu_optim(max_steps=2, per_device_train_batch_size=8, save_steps=2,
                           log_completions=True, num_completions_to_print=2),
    })
    out, logged = root / "run" / "grpo", []
    grpo.run(config, tracked_ctx(out, logged))

    events = tensorboard(out / "tb")
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/rewards/distinct_characters_reward/mean", "train/reward"} <= scalars
    assert hparams(events)["stage/grpo.num_generations"] == 4
    samples = texts(events, "train/completion_samples")
    assert [step for step, _ in samples] == [1, 2]  # one summary per logging step
    for _, text in samples:
        assert text.count("**row ") == 2 and "distinct_characters_reward" in text and "advantage" in text
        assert "user: Case " in text and "completion:" in text
    assert all("rewards/distinct_characters_reward/mean" in m for _, m in logged if "loss" in m)  # metrics.jsonl


def test_metrics_log_leaves_tensorboard_to_the_trainer_in_training_stages(tmp_path):
    for name, trainer_stage in (("train", True), ("data", False)):
        out = tmp_path / name
        out.mkdir()
        log = MetricsLog(out, report_to=("tensorboard",), project="p", stage_name=name, config={"seed": 1},
                         enabled=True, trainer_stage=trainer_stage)
        log.log({"count": 3.0}, 0)
        log.close()
        assert json.loads((out / "metrics.jsonl").read_text())["count"] == 3.0
    assert not (tmp_path / "train" / "tb").exists()
    events = tensorboard(tmp_path / "data" / "tb")
    assert [e.value for e in events.Scalars("count")] == [3.0]
    assert "seed: 1" in texts(events, "medreasoner/resolved_config")[0][1]


@pytest.mark.slow
def test_eval_and_report_commands_log_headline_metrics_when_asked(tmp_path_factory, tmp_path):
    data = write_medqa(tmp_path / "q.jsonl", 4)
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_model(tmp_path_factory)), "--benchmark", "medqa", "--data", str(data),
                 "--limit", "3", "--max-new-tokens", "4", "--output", str(out), "--no-progress",
                 "--report-to", "tensorboard"]) == 0
    results = json.loads((out / "medqa_answer" / "results.json").read_text())
    events = tensorboard(out / "tb")
    assert [e.value for e in events.Scalars("medqa/answer/accuracy")] == pytest.approx([results["metrics"]["accuracy"]])
    assert "medqa" in texts(events, "medreasoner/resolved_config")[0][1]

    # The report of that output logs its table's accuracy, one scalar per row, named after the row.
    assert main(["report", str(out), "--output", str(tmp_path / "report"), "--report-to", "tensorboard"]) == 0
    events = tensorboard(tmp_path / "report" / "tb")
    accuracy = [e.value for e in events.Scalars("eval/medqa/answer/accuracy")]
    assert accuracy == pytest.approx([results["metrics"]["accuracy"]])


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_eval_command_refuses_a_tracker_that_is_not_installed(tmp_path_factory, tmp_path, capsys):
    data = write_medqa(tmp_path / "q.jsonl", 1)
    assert main(["eval", "--model", str(tiny_model(tmp_path_factory)), "--benchmark", "medqa", "--data", str(data),
                 "--output", str(tmp_path / "eval"), "--report-to", "wandb"]) == 2
    assert "--report-to: wandb is not installed" in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()  # refused before anything was evaluated or written
