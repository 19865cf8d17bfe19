"""The diagnostic environment inside TRL's GRPOTrainer: tools run, results are masked, reward flows.

The tiny random model cannot write tool calls, so generation is scripted (first turn: a
``request_exam`` call; after the tool result: a boxed diagnosis); everything else is TRL's own
code path (response parsing, tool loop, ``tool_mask``, reward call with ``environments``).

Run: .venv/bin/python -m pytest tests/test_sim_trl.py -q
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

WEIGHTS = {"correct_weight": 1.0, "evidence_weight": 0.5, "cost_weight": 0.5, "cost_budget": 10.0}


def test_grpo_step_runs_environment_tools_and_masks_their_results(tmp_path, monkeypatch):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from medreasoner.model import build_tiny_model, load_tokenizer
    from medreasoner.sim.config import WorldConfig
    from medreasoner.rewards.environment import diagnostic_env_reward
    from medreasoner.sim.environment import DiagnosticEnvironment, environment_factory
    from medreasoner.sim.world import build_world

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    world = tmp_path / "world"
    build_world(WorldConfig(
        seed=0, knowledge_base=None, setting_weights={"emergency": 1.0}, noise=0.0, enable_pertinent_negatives=False,
        num_exams_revealed=2, num_options=5, chain_verbosity="short", plausible_threshold=0.15,
        num_cases={"train": 4, "validation": 0, "test": 0, "rl": 0}, train_tasks=["diagnosis"], cpt_languages=["en"],
        num_cpt_case_reports=0, num_calculator_tasks=0, cpt_only_conditions=[]), world)
    rows = [json.loads(line) for line in (world / "env/train.jsonl").read_text().splitlines()][:2]
    corpus = [json.loads(line)["text"] for line in (world / "cpt/train.jsonl").read_text().splitlines()]
    model_dir = build_tiny_model(tmp_path / "tiny", size="tiny-0.5m", corpus=corpus, seed=0, vocab_size=800,
                                 max_position_embeddings=4096)
    tokenizer = load_tokenizer(model_dir, padding_side="left")

    def env_reward(completions, **columns):
        return diagnostic_env_reward(completions, **WEIGHTS, **columns)

    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=1024, max_steps=1, use_cpu=True, report_to=[], beta=0.0,
                      max_tool_calling_iterations=2, logging_steps=1, save_strategy="no")
    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=[env_reward], args=args,
                          train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                          environment_factory=environment_factory(max_turns=3))

    # Scripted policy: ask for the vital signs, then answer with the case label.
    first_exam = {json.loads(r["case"])["id"]: next(iter(json.loads(r["case"])["menu"].values()))["name"] for r in rows}
    calls = {"n": 0}

    def scripted(prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        calls["n"] += 1
        texts = []
        for env in trainer.environments:
            if calls["n"] == 1:
                call = {"name": "request_exam", "arguments": {"name": first_exam[env.case["id"]]}}
                texts.append(f"<tool_call>\n{json.dumps(call)}\n</tool_call><|im_end|>")
            else:
                texts.append(f"\\boxed{{{env.case['label']['name']}}}<|im_end|>")
        # after the first turn only the rollouts that called a tool are continued (all of them here)
        return [tokenizer.encode(t, add_special_tokens=False) for t in texts[: len(prompt_ids)]], None

    monkeypatch.setattr(trainer, "_generate_single_turn", scripted)
    captured = {}
    original = trainer._generate_and_score_completions

    def capture(inputs):
        captured["output"] = original(inputs)
        captured["environments"] = list(trainer.environments)
        return captured["output"]

    monkeypatch.setattr(trainer, "_generate_and_score_completions", capture)
    trainer.train()

    output = captured["output"]
    tool_mask, completion_mask = output["tool_mask"], output["completion_mask"]
    for row in range(tool_mask.shape[0]):
        env = captured["environments"][row]
        assert isinstance(env, DiagnosticEnvironment) and len(env.requested) == 1  # the tool really ran
        result = env.case["menu"][env.requested[0]]["result"]
        ids = output["completion_ids"][row][completion_mask[row].bool()].tolist()
        masked = [t for t, m in zip(ids, tool_mask[row][completion_mask[row].bool()].tolist()) if m == 0]
        assert result in tokenizer.decode(masked)  # the exam result sits in the masked (not trained) span
        trained = [t for t, m in zip(ids, tool_mask[row][completion_mask[row].bool()].tolist()) if m == 1]
        assert result not in tokenizer.decode(trained) and "\\boxed{" in tokenizer.decode(trained)
    logged = trainer.state.log_history[0]
    # right diagnosis (1.0) plus the share of key exams seen (0.5 x fraction), minus any waste
    assert logged["rewards/env_reward/mean"] > 0.9
