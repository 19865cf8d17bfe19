r"""Environment episodes of the world (WiNGPT-3.0 S4): env rows, the tool schemas, expert demonstrations.

``build_world`` writes, with the helpers here:

- ``env/{train,validation,test}.jsonl``: ``{"prompt", "case", "reference"}`` rows (:func:`env_row`), the
  input of ``GRPOTrainer(environment_factory=...)`` and of the ``episodes`` evaluation stage;
- ``env/sft_train.jsonl``: one expert demonstration per training case (:func:`demonstration`) in TRL's
  conversational SFT format with a ``tools`` column, so that SFT teaches the tool-call format the
  GRPO rollouts and the evaluator use.

What a demonstration renders to is, token for token, what ``GRPOTrainer`` builds during an episode:

- the user turn is the row's prompt with :meth:`DiagnosticEnvironment.reset`'s observation appended
  to the last user message (TRL: ``prompts[i] = prompt[:-1] + [{**prompt[-1], "content": content +
  observation}]``);
- ``tools`` are the environment's public methods as TRL lists them (``inspect.getmembers`` order:
  alphabetical, ``reset``/``get_reward``/private names excluded), converted to JSON schemas with
  ``transformers.utils.get_json_schema`` (what ``apply_chat_template(tools=[callables])`` does);
- assistant turns call ``request_exam`` (``{"type": "function", "function": {"name", "arguments"}}``,
  arguments a dict) and each tool message is ``{"role": "tool", "name": ..., "content": str(result)}``
  with the environment's real result, as TRL's ``_tool_call_loop`` appends them;
- the last assistant turn states the expert's diagnosis as ``\boxed{}``.

The expert (:mod:`medreasoner.sim.expert`) is label-blind: it orders exams by their expected value for
the diagnosis given what it has seen, at most :data:`medreasoner.sim.expert.MAX_EXAMS` of them, so an
episode fits an environment with ``max_turns >= MAX_EXAMS`` (and GRPO's ``max_tool_calling_iterations``
as large), and states the posterior's best diagnosis given the results.

``tools`` is stored as a JSON string (TRL's ``SFTTrainer`` ``json.loads`` a string ``tools`` value):
the rows stay Arrow-friendly, and the tiny model's tokenizer corpus (every string value of the rows)
sees the schema text exactly as the chat template prints it.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from transformers.utils import get_json_schema

from medreasoner.sim import environment
from medreasoner.sim.environment import DiagnosticEnvironment

# Methods TRL never exposes as tools (GRPOTrainer.__init__ / _generate_and_score_completions).
_NOT_TOOLS = ("reset", "get_reward")


def tool_methods(env: DiagnosticEnvironment) -> list:
    """The bound methods TRL exposes as tools of ``env``, in TRL's order (``inspect.getmembers``, by name)."""
    return [
        getattr(env, name)
        for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
        if name not in _NOT_TOOLS and not name.startswith("_")
    ]


def tool_schemas() -> list[dict]:
    """JSON schemas of the environment's tools, as ``apply_chat_template(tools=[methods])`` derives them."""
    return [get_json_schema(method) for method in tool_methods(DiagnosticEnvironment(max_turns=1))]


def env_row(hidden: dict) -> dict:
    """The ``env/*.jsonl`` row of a hidden case: instructions prompt, case JSON, reference answer."""
    return {
        "prompt": [{"role": "user", "content": environment.INSTRUCTIONS}],
        "case": json.dumps(hidden, ensure_ascii=False, sort_keys=True),
        "reference": env_reference(hidden),
    }


def env_reference(hidden: dict) -> str:
    """Reference answer of an episode for the verifier-model reward (WiNGPT-3.0 S4 judges the diagnostic
    process and conclusion against a reference): the key exams, then the boxed label."""
    exams = ", ".join(hidden["menu"][exam]["name"] for exam in hidden["key_exams"]) or "none needed"
    return f"Key exams: {exams}. Final diagnosis: \\boxed{{{hidden['label']['name']}}}"


def observed_prompt(row: dict, env: DiagnosticEnvironment) -> list[dict]:
    """Reset ``env`` on ``row`` and return the prompt with the observation appended, as TRL does."""
    observation = env.reset(**row)
    prompt = [dict(message) for message in row["prompt"]]
    return prompt[:-1] + [{**prompt[-1], "content": prompt[-1]["content"] + observation}]


def tool_call_message(name: str, arguments: dict[str, Any]) -> dict:
    """An assistant turn that calls one tool (TRL / transformers ``tool_calls`` format)."""
    return {"role": "assistant", "content": "",
            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}]}


def answer_message(diagnosis: str) -> dict:
    r"""The expert's final turn: its diagnosis stated as ``\boxed{}``."""
    return {"role": "assistant", "content": f"Most likely diagnosis: \\boxed{{{diagnosis}}}"}


def demonstration(row: dict, exams: list[str], diagnosis: str) -> dict:
    """The SFT row ``{"tools", "messages"}`` of an env row: the expert's ``exams`` (exam ids, in order) are
    played on a real environment, then ``diagnosis`` (a condition name) is stated."""
    env = DiagnosticEnvironment(max_turns=max(1, len(exams)))
    messages = observed_prompt(row, env) + _ordered(env, exams) + [answer_message(diagnosis)]
    return {"tools": json.dumps(tool_schemas(), ensure_ascii=False), "messages": messages}


def takeover(row: dict, ordered: list[str], exams: list[str], diagnosis: str) -> dict:
    """The prompt-completion SFT row ``{"tools", "prompt", "completion"}`` of an episode the expert takes
    over after the exams ``ordered`` (ids, in order): the prompt holds their calls and real results, the
    completion the expert's ``exams`` and its stated ``diagnosis``. With ``ordered`` empty, prompt +
    completion is :func:`demonstration`'s ``messages``; TRL's SFTTrainer trains on the completion only."""
    env = DiagnosticEnvironment(max_turns=max(1, len(ordered) + len(exams)))
    prompt = observed_prompt(row, env) + _ordered(env, ordered)
    completion = _ordered(env, exams) + [answer_message(diagnosis)]
    return {"tools": json.dumps(tool_schemas(), ensure_ascii=False), "prompt": prompt, "completion": completion}


def _ordered(env: DiagnosticEnvironment, exams: list[str]) -> list[dict]:
    """The call and result messages of ordering ``exams`` (ids, in order) on ``env``, as TRL appends them."""
    messages = []
    for exam in exams:
        name = env.case["menu"][exam]["name"]
        messages.append(tool_call_message("request_exam", {"name": name}))
        messages.append({"role": "tool", "name": "request_exam", "content": str(env.request_exam(name))})
    return messages
