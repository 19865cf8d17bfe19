"""Model-based rewards on tiny random checkpoints built in a temp dir (a few forward passes).

Run: .venv/bin/python -m pytest tests/test_rewards_models.py -q
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from medreasoner.errors import InputError
from medreasoner.model import build_tiny_model
from medreasoner.rewards import bind_reward
from medreasoner.rewards.reward_model import load_reward_model
from test_rewards_total import COMPLETIONS as COMPLETIONS_ANY
from test_rewards_total import JUNK, MESSAGE, TEXT

CORPUS = ["The patient has a fever and a cough.", "Answer: B", "Rest and fluids.", "\\boxed{1}"] * 20
PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What helps a cold?"}]
COMPLETIONS = [
    [{"role": "assistant", "content": "<think>\nviral\n</think>\n\nRest and fluids."}],
    [{"role": "assistant", "content": "Rest and fluids."}],
    [{"role": "assistant", "content": "Antibiotics for everyone, always."}],
    [{"role": "assistant", "content": ""}],
]


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("judge") / "model", size="tiny-0.5m", corpus=CORPUS, seed=0,
                            vocab_size=400, max_position_embeddings=2048)


@pytest.fixture(scope="module")
def reward_model_dir(judge_dir, tmp_path_factory):
    """A sequence-classification checkpoint (random score head, fixed seed) with the judge's tokenizer."""
    out = tmp_path_factory.mktemp("rm") / "model"
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(judge_dir, num_labels=1)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(judge_dir).save_pretrained(out)
    return out


def rm_reward(path, **overrides):
    params = {"model_path": str(path), "device": "cpu", "dtype": "float32", "batch_size": 4, "max_length": 512,
              "strip_reasoning": False, "offset": 0.0, "scale": 1.0, **overrides}
    return bind_reward("reward_model_reward", params)


def test_reward_model_reward_is_the_logit_of_the_chat_rendered_pair(reward_model_dir):
    rewards = rm_reward(reward_model_dir)(COMPLETIONS[:3], prompts=[PROMPT] * 3)
    model, tokenizer = load_reward_model(str(reward_model_dir), "cpu", "float32")
    # Hand computation for the third completion: template over prompt + answer, one forward pass.
    text = tokenizer.apply_chat_template(PROMPT + [COMPLETIONS[2][0]], tokenize=False)
    with torch.inference_mode():
        logit = model(**tokenizer(text, return_tensors="pt", add_special_tokens=False)).logits[0, 0].item()
    assert rewards[2] == pytest.approx(logit, abs=1e-5)
    assert len(set(rewards)) == 3  # different answers, different scores


def test_reward_model_scores_do_not_depend_on_batching(reward_model_dir):
    # Right padding + config.pad_token_id: the head reads each row's last real token whatever the batch.
    batched = rm_reward(reward_model_dir)(COMPLETIONS, prompts=[PROMPT] * 4)
    single = rm_reward(reward_model_dir, batch_size=1)(COMPLETIONS, prompts=[PROMPT] * 4)
    assert batched == pytest.approx(single, abs=1e-5)


def test_reward_model_offset_scale_and_reasoning_stripping(reward_model_dir):
    raw = rm_reward(reward_model_dir)(COMPLETIONS[:2], prompts=[PROMPT] * 2)
    shifted = rm_reward(reward_model_dir, offset=1.5, scale=2.0)(COMPLETIONS[:2], prompts=[PROMPT] * 2)
    assert shifted == pytest.approx([(r - 1.5) * 2.0 for r in raw], abs=1e-5)
    # With strip_reasoning the think block is not scored: completions 0 and 1 then read the same.
    stripped = rm_reward(reward_model_dir, strip_reasoning=True)(COMPLETIONS[:2], prompts=[PROMPT] * 2)
    assert raw[0] != pytest.approx(raw[1]) and stripped[0] == pytest.approx(stripped[1], abs=1e-5)


def test_reward_model_loads_once_and_takes_string_prompts(reward_model_dir):
    load_reward_model.cache_clear()
    reward = rm_reward(reward_model_dir)
    first = reward(["Rest.", ""], prompts=["What helps a cold? ", ""])
    second = reward(["Rest.", ""], prompts=["What helps a cold? ", ""])
    assert first == second and len(first) == 2
    assert load_reward_model.cache_info().misses == 1 and load_reward_model.cache_info().hits == 1


def test_reward_model_path_must_be_a_local_checkpoint(tmp_path):
    with pytest.raises(InputError, match="not a local Hugging Face model directory"):
        rm_reward(tmp_path / "missing")(["a"], prompts=["q"])


def test_verifier_model_reward_with_a_local_judge(judge_dir):
    reward = bind_reward("verifier_model_reward", {
        "judge_path": str(judge_dir), "device": "cpu", "dtype": "float32", "batch_size": 2,
        "max_new_tokens": 4, "temperature": 0.0,
    })
    references = ["Rest and fluids.", "Rest and fluids.", "Rest and fluids.", None]
    logged = []
    rewards = reward(COMPLETIONS, prompts=[PROMPT] * 4, reference=references,
                     log_extra=lambda c, v: logged.append((c, v)))
    # A random judge writes no \boxed{1}: judged rows score 0 (unparseable), the empty answer 0, no reference None.
    assert rewards == [0.0, 0.0, 0.0, None]
    (column, first), = logged
    assert column == "verifier_model_reward/judge_output"
    assert all(isinstance(o, str) for o in first[:3]) and first[3] is None
    # Greedy decoding is deterministic and batching does not change it: row 1 judged alone gives the same output.
    reward(COMPLETIONS[1:2], prompts=[PROMPT], reference=references[1:2], log_extra=lambda c, v: logged.append((c, v)))
    assert logged[1][1] == first[1:2]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(completions=COMPLETIONS_ANY, prompt=st.lists(MESSAGE, max_size=3) | TEXT | JUNK)
def test_model_rewards_are_total(reward_model_dir, judge_dir, completions, prompt):
    # Malformed prompts and completions still give one finite float per completion (None without reference).
    n = len(completions)
    scores = rm_reward(reward_model_dir)(completions, prompts=[prompt] * n)
    assert len(scores) == n and all(isinstance(s, float) and math.isfinite(s) for s in scores)
    judge = bind_reward("verifier_model_reward", {
        "judge_path": str(judge_dir), "device": "cpu", "dtype": "float32", "batch_size": 4,
        "max_new_tokens": 4, "temperature": 0.0,
    })
    # Only the first completion is judged (the judge's prompt handling is covered with a fake judge).
    verdicts = judge(completions, prompts=[prompt] * n, reference=["Rest."] + [None] * (n - 1))
    assert len(verdicts) == n and verdicts[0] in (0.0, 1.0) and verdicts[1:] == [None] * (n - 1)
