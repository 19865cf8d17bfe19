"""VRM judge prompt, verdict parsing and the endpoint judge (a local HTTP server, no network).

Run: .venv/bin/python -m pytest tests/test_rewards_verifier_model.py -q
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from medreasoner.rewards import bind_reward
from medreasoner.rewards.verifier_model import build_judge_prompt, judge_rewards, parse_verdict, read_verdict

HEADERS = [
    "### Dialogue History (in chronological order, from earliest to latest)",
    "### Current Question",
    "### Excellent Answer (Reference Answer)",
    "### Predicted Answer (Answer to Evaluate)",
    "### Evaluation Analysis",
    "### Predicted Answer Evaluation Score",
]
PROMPT = [
    {"role": "system", "content": "Think step by step."},
    {"role": "user", "content": "I have a fever."},
    {"role": "assistant", "content": "<think>hmm</think>How long?"},
    {"role": "user", "content": "Three days. What should I do?"},
]


def test_judge_prompt_has_the_appendix_b_layout_and_materials():
    text = build_judge_prompt(PROMPT, "Rest and fluids.", "See a doctor if it lasts over 3 days.")
    positions = [text.index(header) for header in HEADERS]
    assert positions == sorted(positions)  # the six sections, in the paper's order
    assert text.rstrip().endswith("\\boxed{score}")
    history = text[positions[0] : positions[1]]
    # history: earlier turns only, system prompt left out, the assistant's CoT removed
    assert "user: I have a fever." in history and "assistant: How long?" in history
    assert "Think step by step" not in text and "hmm" not in text
    assert "user: Three days. What should I do?" in text[positions[1] : positions[2]]
    assert "assistant: See a doctor if it lasts over 3 days." in text[positions[2] : positions[3]]
    assert "assistant: Rest and fluids." in text[positions[3] : positions[4]]


def test_judge_prompt_for_a_string_prompt_has_no_history_and_safe_fences():
    text = build_judge_prompt("What is 2+2?", "```4```", "4")
    assert "(no earlier turns)" in text and "user: What is 2+2?" in text
    # the prediction's own ``` cannot close its block early: the fence is longer
    assert "````\nassistant: ```4```\n````" in text


VERDICTS = [
    # the required layout ending with a boxed 1
    ("### Evaluation Analysis\nsame content\n### Predicted Answer Evaluation Score\n\\boxed{1}", 1.0),
    # a boxed 0
    ("\\boxed{0}", 0.0),
    # the LAST boxed counts
    ("first \\boxed{0}, on reflection \\boxed{1}", 1.0),
    ("first \\boxed{1}, on reflection \\boxed{0}", 0.0),
    # 1.0, \text{1} and $-wrapped forms are read
    ("\\boxed{1.0}", 1.0), ("\\boxed{\\text{1}}", 1.0), ("$\\boxed{ 1 }$", 1.0),
    # the judge's own reasoning is removed first: a boxed inside it does not count
    ("<think>maybe \\boxed{1}</think>\nScore: \\boxed{0}", 0.0),
    # unparseable (None, scored 0): not 0/1, no boxed at all, unclosed brace, empty
    ("\\boxed{0.5}", None), ("\\boxed{yes}", None), ("score: 1", None), ("\\boxed{1", None), ("", None),
    ("\\boxed{10}", None),
    # a boxed verdict only inside the judge's reasoning is unparseable too
    ("<think>maybe \\boxed{1}", None),
]


@pytest.mark.parametrize(("output", "expected"), VERDICTS)
def test_read_and_parse_verdict(output, expected):
    assert read_verdict(output) == expected
    assert parse_verdict(output) == (0.0 if expected is None else expected)


def test_judge_rewards_routes_rows_and_strips_the_policy_cot():
    seen, logged = [], {}

    def judge(prompts):
        seen.extend(prompts)
        predicted = [p.split("### Predicted Answer", 1)[1] for p in prompts]
        return ["\\boxed{1}" if "assistant: Rest." in p else "\\boxed{0}" for p in predicted]

    completions = [
        [{"role": "assistant", "content": "<think>secret reasoning</think>Rest."}],  # judged, matches -> 1
        [{"role": "assistant", "content": "<think>secret</think>Run a marathon."}],  # judged, no match -> 0
        [{"role": "assistant", "content": "<think>truncated reasoning"}],  # empty answer -> 0, no judge call
        [{"role": "assistant", "content": "Rest."}],  # no reference -> None
    ]
    rewards = judge_rewards(
        completions,
        {"prompts": [PROMPT] * 4, "reference": ["Rest.", "Rest.", "Rest.", None],
         "log_extra": lambda column, values: logged.update({column: values}),
         "log_metric": lambda metric, value: logged.update({metric: value})},
        judge, "verifier_model_reward",
    )
    assert rewards == [1.0, 0.0, 0.0, None]
    assert len(seen) == 2 and not any("secret" in p for p in seen)
    assert logged["judge_output"] == ["\\boxed{1}", "\\boxed{0}", None, None]
    assert logged["judge_unparseable_frac"] == 0.0 and logged["judge_failed_frac"] == 0.0


def test_judge_rewards_counts_unparseable_verdicts():
    logged = {}
    rewards = judge_rewards(
        ["a", "b", "c", "d"], {"prompts": ["q"] * 4, "reference": ["r"] * 4,
                               "log_metric": lambda metric, value: logged.update({metric: value})},
        lambda prompts: ["\\boxed{1}", "looks fine", None, "\\boxed{0}"], "verifier_model_reward",
    )
    # unparseable -> 0 and counted; a failed request -> None and counted separately
    assert rewards == [1.0, 0.0, None, 0.0]
    assert logged == {"judge_unparseable_frac": 0.25, "judge_failed_frac": 0.25}


def test_judge_rewards_needs_a_reference_column():
    with pytest.raises(ValueError, match="needs the dataset column 'reference'"):
        judge_rewards(["a"], {"prompts": ["q"]}, lambda p: p, "verifier_model_reward")


class _Judge(BaseHTTPRequestHandler):
    """A fake OpenAI-compatible judge: 1 when the predicted answer repeats the reference."""

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][0]["content"]
        self.server.requests.append((self.headers.get("Authorization"), body))
        if "FAIL" in prompt:
            self.send_response(500)
            self.end_headers()
            return
        reference = re.search(r"assistant: (.*)\n`{3,}\n\n### Predicted", prompt).group(1)
        predicted = re.search(r"### Predicted Answer \(Answer to Evaluate\)\n`{3,}\nassistant: (.*)\n", prompt).group(1)
        verdict = "1" if predicted == reference else "0"
        answer = {"choices": [{"message": {"content": f"### Evaluation Analysis\n...\n\\boxed{{{verdict}}}"}}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture()
def judge_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def endpoint_reward(server, **overrides):
    params = {"judge_endpoint": f"http://127.0.0.1:{server.server_port}/v1", "judge_model": "judge-7b",
              "api_key_env": "MEDREASONER_TEST_JUDGE_KEY", "max_tokens": 64, "temperature": 0.0,
              "timeout_s": 10.0, "max_retries": 0, "max_concurrency": 4, **overrides}
    return bind_reward("verifier_endpoint_reward", params)


def test_endpoint_reward_scores_sends_the_key_and_maps_failures_to_none(judge_server, monkeypatch):
    monkeypatch.setenv("MEDREASONER_TEST_JUDGE_KEY", "sekret")
    reward = endpoint_reward(judge_server)
    completions = ["<think>r</think>Rest.", "Run.", "FAIL", "<think>unclosed"]
    rewards = reward(completions, prompts=["I have a fever."] * 4, reference=["Rest."] * 4)
    # match -> 1, mismatch -> 0, server error -> None (not scorable), empty answer -> 0 (never sent)
    assert rewards == [1.0, 0.0, None, 0.0]
    assert len(judge_server.requests) == 3
    authorization, body = judge_server.requests[0]
    assert authorization == "Bearer sekret"
    assert body["model"] == "judge-7b" and body["max_tokens"] == 64 and body["temperature"] == 0.0


def test_endpoint_reward_raises_when_the_endpoint_answers_nothing(judge_server):
    reward = endpoint_reward(judge_server, api_key_env=None)
    with pytest.raises(RuntimeError, match="answered none of 2 requests"):
        reward(["FAIL 1", "FAIL 2"], prompts=["q", "q"], reference=["r", "r"])
    assert judge_server.requests[0][0] is None  # no key configured -> no Authorization header


def test_endpoint_reward_names_an_unset_key_variable(judge_server, monkeypatch):
    monkeypatch.delenv("MEDREASONER_TEST_JUDGE_KEY", raising=False)
    with pytest.raises(ValueError, match="MEDREASONER_TEST_JUDGE_KEY"):
        endpoint_reward(judge_server)(["a"], prompts=["q"], reference=["r"])


def test_s4_judge_sees_the_whole_episode_not_only_the_last_message():
    """WiNGPT-3.0 S4 judges the diagnostic process: the judge prompt must hold every exam request and result."""
    from medreasoner.rewards.verifier_model import judge_rewards

    episode = [
        {"role": "assistant", "content": "", "reasoning_content": "consider ACS",
         "tool_calls": [{"type": "function", "function": {"name": "request_exam", "arguments": {"exam": "ecg"}}}]},
        {"role": "tool", "name": "request_exam", "content": "ECG: ST elevation in V1-V4"},
        {"role": "assistant", "content": "<think>anterior STEMI</think>\\boxed{Acute myocardial infarction}"},
    ]
    seen: list[str] = []

    def judge(prompts):
        seen.extend(prompts)
        return ["\\boxed{1}"] * len(prompts)

    rewards = judge_rewards([episode], {"prompts": [[{"role": "user", "content": "Chest pain."}]],
                                        "reference": ["Key exams: ECG. \\boxed{Acute myocardial infarction}"]},
                            judge, "verifier_model_reward")
    assert rewards == [1.0]
    (prompt,) = seen
    assert 'request_exam({"exam": "ecg"})' in prompt and "ST elevation in V1-V4" in prompt
    assert "\\boxed{Acute myocardial infarction}" in prompt
    assert "consider ACS" not in prompt and "anterior STEMI" not in prompt  # chains of thought are removed
    # An episode that never concludes is not judged: its reward is 0.
    assert judge_rewards([episode[:2]], {"prompts": [[{"role": "user", "content": "x"}]], "reference": ["r"]},
                         judge, "verifier_model_reward") == [0.0]
