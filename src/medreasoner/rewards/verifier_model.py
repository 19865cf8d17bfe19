"""Verifier-model rewards (WiNGPT-3.0 VRM): a generative judge compares the answer with a reference.

WiNGPT-3.0 S3/S4 (PAPERS.md 1.3 (c), Appendix B) reward the policy with "WiNGPT-as-Judge": a model
prompted as an evaluation expert with four materials, Dialogue History, Current Question,
Excellent Answer (reference) and Predicted Answer, that scores 1 when the prediction matches the
reference and meets the user's need and 0 on hallucination, omission or error, ending its output
with ``\\boxed{score}``. The prompt (our wording) is the package file
``verifier_judge_prompt.txt``; the policy's chain of thought is removed before judging, as the
paper does for all VRM inputs.

Per completion:

- the reference is the row's ``reference`` column; a row without one (None or blank) gets ``None``
  (not applicable: TRL leaves it out of the advantage baseline);
- the history and question come from the prompt messages (system turns are left out: they are
  instructions to the policy, not dialogue); a string prompt is the question with no history;
- a multi-turn completion (the S4 diagnostic environment: the policy requests exams with tool calls
  and reads the results) is judged as the whole episode, every turn with its tool calls and results
  (:func:`episode_prediction`), because WiNGPT-3.0's S4 reward judges the diagnostic process as well
  as the final diagnosis; a single-turn completion is judged as its answer;
- an answer that is empty after removing ``<think>`` (e.g. an unclosed think block) scores 0
  without calling the judge;
- the reward is the last ``\\boxed{}`` of the judge's output (its own ``<think>`` removed) read as
  0 or 1; anything else scores 0; a request the endpoint never answered gives ``None``.

Two rewards share this logic and differ in the judge: ``verifier_model_reward`` runs a local
Hugging Face causal LM, ``verifier_endpoint_reward`` calls an OpenAI-compatible server
(see :mod:`medreasoner.rewards.judges`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib import resources
from string import Template
from typing import Annotated, Any

from pydantic import Field

from medreasoner.rewards.completion import column, completion_text, message_text, prompt_messages
from medreasoner.rewards.judges import endpoint_generate, hf_generate
from medreasoner.rewards.reward_model import Device, DType
from medreasoner.verify.text import answer_region, last_boxed, strip_think, unwrap_latex

PROMPT_TEMPLATE = Template(resources.files(__package__).joinpath("verifier_judge_prompt.txt").read_text("utf-8"))

_VERDICT = re.compile(r"([01])(?:\.0+)?")

Judge = Callable[[list[str]], list[str | None]]


def fenced(text: str) -> str:
    """``text`` in a Markdown code block whose fence is longer than any backtick run inside it.

    >>> print(fenced("a ``` b"))
    ````
    a ``` b
    ````
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def build_judge_prompt(prompt: Any, prediction: str, reference: str) -> str:
    """The judge prompt for one completion (materials as described in the module docstring).

    Args:
        prompt: the policy's prompt (message list or string).
        prediction: the policy's answer with its chain of thought already removed.
        reference: the reference ("excellent") answer.
    """
    turns = [m for m in prompt_messages(prompt) if m["role"] != "system"]
    last_user = max((i for i, m in enumerate(turns) if m["role"] == "user"), default=None)
    question = "" if last_user is None else turns[last_user]["content"]
    history = turns if last_user is None else turns[:last_user]
    lines = [f"{m['role']}: {strip_think(m['content']).strip()}" for m in history]
    history_text = "\n".join(lines) or "(no earlier turns)"
    return PROMPT_TEMPLATE.substitute(
        history=fenced(history_text),
        question=fenced(f"user: {question}"),
        reference=fenced(f"assistant: {reference}"),
        prediction=fenced(f"assistant: {prediction}"),
    )


def _tool_calls(message: dict) -> list[str]:
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            arguments = function.get("arguments")
            shown = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, sort_keys=True)
            calls.append(f"[tool call] {function['name']}({shown})")
    return calls


def episode_prediction(completion: Any) -> str:
    """What the judge sees as the predicted answer, chains of thought removed.

    A single-turn completion gives its answer. A multi-turn completion (tool calls and their results)
    gives the whole episode, one ``role: text`` line per turn, tool calls written out, so the judge can
    check which exams were requested and what they showed, not only the final diagnosis; it is empty
    when the last assistant turn has no answer (the episode never concluded).

    >>> episode = [{"role": "assistant", "content": "", "tool_calls": [{"type": "function",
    ...     "function": {"name": "request_exam", "arguments": {"exam": "ecg"}}}]},
    ...     {"role": "tool", "content": "ST elevation"}, {"role": "assistant", "content": "<think>x</think>MI"}]
    >>> episode_prediction(episode).splitlines()
    ['assistant: [tool call] request_exam({"exam": "ecg"})', 'tool: ST elevation', 'assistant: MI']
    """
    answer = strip_think(completion_text(completion)).strip()
    turns = [m for m in completion if isinstance(m, dict)] if isinstance(completion, (list, tuple)) else []
    if len(turns) <= 1 or not answer:
        return answer
    lines = []
    for message in turns:
        parts = [strip_think(message_text(message)).strip(), *_tool_calls(message)]
        lines.append(f"{message.get('role', 'assistant')}: " + " ".join(part for part in parts if part))
    return "\n".join(lines)


def read_verdict(output: str) -> float | None:
    """The judge's score: the last closed ``\\boxed{}`` outside its own ``<think>``, as 1.0 or 0.0;
    None when there is no such box or it holds anything else.

    Box reading is the verifier package's (:func:`medreasoner.verify.text.last_boxed`), the same
    rule the ``boxed`` verifier grades answers with.

    >>> read_verdict("### Predicted Answer Evaluation Score\\n\\\\boxed{1}"), read_verdict("\\\\boxed{maybe}")
    (1.0, None)
    """
    boxed = last_boxed(answer_region(output))
    match = _VERDICT.fullmatch(unwrap_latex(boxed)) if boxed is not None else None
    return float(match.group(1)) if match else None


def parse_verdict(output: str) -> float:
    """:func:`read_verdict`, with an unparseable verdict scored 0 (PAPERS.md 1.3 (c) [I]).

    >>> parse_verdict("\\\\boxed{0}"), parse_verdict("I think it is fine.")
    (0.0, 0.0)
    """
    verdict = read_verdict(output)
    return 0.0 if verdict is None else verdict


def judge_rewards(completions: list[Any], columns: dict[str, Any], judge: Judge, reward: str) -> list[float | None]:
    """Score each completion with ``judge`` (a batch of prompts -> outputs, None for a failed call).

    Needs the ``prompts`` (from TRL) and ``reference`` columns. Through TRL's hooks, when present,
    logs the judge's raw outputs to the completions table (``log_extra``) and the fractions of
    judged completions whose verdict was unparseable or whose request failed (``log_metric``).
    """
    prompts = column(columns, "prompts", reward, len(completions))
    references = column(columns, "reference", reward, len(completions))
    rewards: list[float | None] = [None] * len(completions)
    outputs: list[str | None] = [None] * len(completions)
    to_judge, judge_prompts = [], []
    for i, (prompt, completion, reference) in enumerate(zip(prompts, completions, references)):
        if not isinstance(reference, str) or not reference.strip():
            continue
        prediction = episode_prediction(completion)
        if not prediction:
            rewards[i] = 0.0
            continue
        to_judge.append(i)
        judge_prompts.append(build_judge_prompt(prompt, prediction, reference))
    num_failed = num_unparseable = 0
    for i, output in zip(to_judge, judge(judge_prompts) if judge_prompts else []):
        outputs[i] = output
        verdict = None if output is None else read_verdict(output)
        num_failed += output is None
        num_unparseable += output is not None and verdict is None
        rewards[i] = None if output is None else (0.0 if verdict is None else verdict)
    # TRL's hooks; absent when the reward is called outside a trainer.
    log_extra, log_metric = columns.get("log_extra"), columns.get("log_metric")
    if callable(log_extra):
        log_extra("judge_output", outputs)
    if callable(log_metric) and to_judge:
        # A judge that stops writing verdicts (drift, truncation) shows here before the reward collapses.
        log_metric("judge_unparseable_frac", num_unparseable / len(to_judge))
        log_metric("judge_failed_frac", num_failed / len(to_judge))
    return rewards


def verifier_model_reward(
    completions: list[Any],
    *,
    judge_path: str,
    device: Device,
    dtype: DType,
    batch_size: Annotated[int, Field(gt=0)],
    max_new_tokens: Annotated[int, Field(gt=0)],
    temperature: Annotated[float, Field(ge=0)],
    **columns: Any,
) -> list[float | None]:
    """VRM reward with a local Hugging Face causal LM as the judge (0/1, None without a reference).

    Args:
        completions: TRL completions (strings or message lists).
        judge_path: local directory of the judge checkpoint and its tokenizer.
        device: ``"cpu"`` or ``"cuda"`` (this rank's device).
        dtype: judge weights dtype.
        batch_size: judge prompts per ``generate`` call.
        max_new_tokens: judge output budget (tokens); a verdict cut off before ``\\boxed{}`` scores 0.
            The Appendix B layout restates the four materials before the analysis, so allow for
            their length.
        temperature: 0 for greedy decoding, else the sampling temperature.
        **columns: needs ``prompts`` (from TRL) and ``reference``.
    """

    def judge(judge_prompts: list[str]) -> list[str | None]:
        return hf_generate(
            judge_prompts, judge_path=judge_path, device=device, dtype=dtype, batch_size=batch_size,
            max_new_tokens=max_new_tokens, temperature=temperature,
        )

    return judge_rewards(completions, columns, judge, "verifier_model_reward")


def verifier_endpoint_reward(
    completions: list[Any],
    *,
    judge_endpoint: str,
    judge_model: str,
    api_key_env: str | None,
    max_tokens: Annotated[int, Field(gt=0)],
    temperature: Annotated[float, Field(ge=0)],
    timeout_s: Annotated[float, Field(gt=0)],
    max_retries: Annotated[int, Field(ge=0)],
    max_concurrency: Annotated[int, Field(gt=0)],
    **columns: Any,
) -> list[float | None]:
    """VRM reward with a judge behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        completions: TRL completions (strings or message lists).
        judge_endpoint: base URL, e.g. ``http://localhost:8000/v1`` (vLLM, SGLang, a hosted API).
        judge_model: the ``model`` field of each request.
        api_key_env: name of the environment variable holding the API key; None sends no key.
        max_tokens: judge output budget (tokens).
        temperature: judge sampling temperature (0 = greedy).
        timeout_s: per-request timeout (seconds).
        max_retries: retries of a failed request (connection error, timeout, HTTP 408/409/429/5xx or an
            unusable body; never 400/401/404) before its completion gets None.
        max_concurrency: requests in flight at once.
        **columns: needs ``prompts`` (from TRL) and ``reference``.
    """

    def judge(judge_prompts: list[str]) -> list[str | None]:
        return endpoint_generate(
            judge_prompts, endpoint=judge_endpoint, model=judge_model, api_key_env=api_key_env,
            max_tokens=max_tokens, temperature=temperature, timeout_s=timeout_s, max_retries=max_retries,
            max_concurrency=max_concurrency,
        )

    return judge_rewards(completions, columns, judge, "verifier_endpoint_reward")
