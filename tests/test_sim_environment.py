"""Diagnostic-chain environment: TRL tool discovery, episode mechanics, reward range.

Run: .venv/bin/python -m pytest tests/test_sim_environment.py -q
"""

from __future__ import annotations

import inspect
import json
import random

import pytest

from medreasoner.sim import environment
from medreasoner.sim.chain import probability_model
from medreasoner.rewards.environment import diagnostic_env_reward
from medreasoner.sim.environment import DiagnosticEnvironment, environment_factory
from medreasoner.sim.kb import load_knowledge_base
from medreasoner.sim.sampler import sample_case
from medreasoner.sim.world import env_case

WEIGHTS = {"correct_weight": 1.0, "evidence_weight": 0.5, "cost_weight": 0.5, "cost_budget": 1.0}
MAX_REWARD = WEIGHTS["correct_weight"] + WEIGHTS["evidence_weight"]
MIN_REWARD = -WEIGHTS["cost_weight"]


@pytest.fixture(scope="module")
def rows():
    """Env rows (as written to env/train.jsonl) of cases that need at least one key exam."""
    kb = load_knowledge_base()
    model = probability_model(kb, 0.0)
    rng = random.Random(3)
    found = []
    while len(found) < 25:
        case = sample_case(kb, model.present, rng, {"primary_care": 1.0, "emergency": 1.0, "inpatient": 1.0})
        hidden = env_case(model, case, f"c{len(found)}", enable_pertinent_negatives=True)
        if hidden["key_exams"] and len(hidden["key_exams"]) < len(hidden["menu"]):
            found.append({"prompt": [{"role": "user", "content": environment.INSTRUCTIONS}], "case": json.dumps(hidden)})
    return found


def test_trl_sees_exactly_two_documented_tools():
    from transformers.utils import get_json_schema  # what TRL uses to render tools; imports torch

    # GRPOTrainer lists public functions of the class, minus reset/get_reward, as tools
    env = environment_factory(max_turns=4)()
    names = [n for n, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
             if n not in ("reset", "get_reward") and not n.startswith("_")]
    assert names == ["request_exam", "submit_diagnosis"]
    assert not hasattr(env, "get_reward")  # the reward is a registered function with recipe weights
    for name in names:
        schema = get_json_schema(getattr(env, name))  # what TRL renders into the prompt; raises if undocumented
        assert schema["function"]["parameters"]["required"] and schema["function"]["description"]


def test_reset_presents_the_summary_and_menu_from_the_case_column(rows):
    env = DiagnosticEnvironment(max_turns=4)
    case = json.loads(rows[0]["case"])
    text = env.reset(**rows[0])  # TRL passes the whole row
    assert text.startswith("\n\n") and case["summary"] in text
    assert all(exam["name"] in text for exam in case["menu"].values())
    assert all(exam["result"] not in text for exam in case["menu"].values() if exam["result"] not in case["summary"])


def test_scripted_right_policy_earns_the_maximum_and_wrong_one_the_minimum(rows):
    rewards_right, rewards_wrong = [], []
    for row in rows:
        case = json.loads(row["case"])
        right = DiagnosticEnvironment(max_turns=len(case["menu"]) + 1)
        right.reset(**row)
        for exam_id in case["key_exams"]:
            assert right.request_exam(case["menu"][exam_id]["name"]) == f"{case['menu'][exam_id]['name']}: {case['menu'][exam_id]['result']}"
        right.submit_diagnosis(case["label"]["name"])
        rewards_right.append(diagnostic_env_reward(["done"], environments=[right], **WEIGHTS)[0])

        wrong = DiagnosticEnvironment(max_turns=len(case["menu"]) + 1)
        wrong.reset(**row)
        useless = [e for e in case["menu"] if e not in case["key_exams"]]
        for exam_id in useless:
            wrong.request_exam(exam_id)
        wrong.submit_diagnosis("Hypochondriasis")
        reward = diagnostic_env_reward(["done"], environments=[wrong], **WEIGHTS)[0]
        cost = sum(case["menu"][e]["cost"] for e in useless)
        rewards_wrong.append(reward if cost >= WEIGHTS["cost_budget"] else MIN_REWARD)
    assert rewards_right == pytest.approx([MAX_REWARD] * len(rows))
    assert rewards_wrong == pytest.approx([MIN_REWARD] * len(rows))


def test_boxed_answer_counts_when_no_diagnosis_is_submitted(rows):
    case = json.loads(rows[1]["case"])
    env = DiagnosticEnvironment(max_turns=4)
    env.reset(**rows[1])
    completion = [{"role": "assistant", "content": f"\\boxed{{{case['label']['synonyms'][0]}}}"}]
    reward = diagnostic_env_reward([completion], environments=[env], **WEIGHTS)[0]
    assert reward == pytest.approx(WEIGHTS["correct_weight"])  # correct, no evidence gathered, no cost
    assert diagnostic_env_reward([completion], **WEIGHTS) == [None]  # no environment: not applicable


def test_an_episode_without_a_diagnosis_scores_the_floor_below_any_answered_one(rows):
    # Not answering must never pay: an episode cut short (a malformed tool call ends it) keeps no
    # evidence credit, or GRPO learns to stop before the diagnosis instead of answering.
    for row in rows:
        case = json.loads(row["case"])
        stopped, wrong = (DiagnosticEnvironment(max_turns=len(case["menu"]) + 1) for _ in range(2))
        for env in (stopped, wrong):
            env.reset(**row)
            env.request_exam(case["menu"][case["key_exams"][0]]["name"])
        wrong.submit_diagnosis("Hypochondriasis")
        malformed = [{"role": "assistant", "content": '<tool_call>\n{"name": "request_exam", "argum'}]
        floor = diagnostic_env_reward([malformed], environments=[stopped], **WEIGHTS)[0]
        answered = diagnostic_env_reward(["done"], environments=[wrong], **WEIGHTS)[0]
        assert floor == pytest.approx(MIN_REWARD) and answered > floor


def test_turn_cap_unknown_exams_and_double_submission(rows):
    case = json.loads(rows[2]["case"])
    env = DiagnosticEnvironment(max_turns=2)
    env.reset(**rows[2])
    assert env.request_exam("whole-body MRI") == environment.NOT_AVAILABLE
    first = next(iter(case["menu"]))
    assert env.request_exam(first).endswith(case["menu"][first]["result"])
    assert env.request_exam(first) == environment.TURN_LIMIT  # third tool call: refused, not performed
    assert env.requested == [first]
    env.submit_diagnosis("x")
    assert env.submit_diagnosis("y") == environment.ALREADY_SUBMITTED and env.submitted == "x"
    # a new episode on the same (pooled) instance starts clean
    env.reset(**rows[3])
    assert env.requested == [] and env.submitted is None and env.turns == 0


def test_reward_signature_fits_the_reward_registry_contract(rows):
    # rewards.bind_reward binds keyword-only recipe parameters, validated against their annotations
    import typing

    from pydantic import TypeAdapter, ValidationError

    from medreasoner.rewards import BoundReward

    params = [p for p in inspect.signature(diagnostic_env_reward).parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert sorted(p.name for p in params) == sorted(WEIGHTS) and all(p.default is p.empty for p in params)
    hints = typing.get_type_hints(diagnostic_env_reward, include_extras=True)
    with pytest.raises(ValidationError):
        TypeAdapter(hints["cost_budget"]).validate_python(0.0)  # a zero budget is refused at recipe load
    reward = BoundReward("diagnostic_env_reward", diagnostic_env_reward, WEIGHTS)
    env = DiagnosticEnvironment(max_turns=2)
    env.reset(**rows[0])
    env.submit_diagnosis(json.loads(rows[0]["case"])["label"]["name"])
    assert reward(["x"], environments=[env], log_extra=lambda column, values: None)[0] >= WEIGHTS["correct_weight"]
