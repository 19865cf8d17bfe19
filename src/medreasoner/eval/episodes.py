r"""Play diagnostic-chain episodes (WiNGPT-3.0 S4) with a model, exactly as GRPO training does, and score them.

One episode: reset a :class:`~medreasoner.sim.environment.DiagnosticEnvironment` on an
``env/*.jsonl`` row, render the prompt with the tokenizer's chat template and the environment's tools,
generate greedily, parse the reply; while it calls tools (and fewer than ``max_turns`` rounds ran),
run them on the environment, append the tool results and generate again. The episode is scored
with :func:`medreasoner.sim.environment.episode_outcome` (the terms of the GRPO reward).

The token sequence is built the way TRL 1.16's ``GRPOTrainer`` builds it (``_tokenize_prompts``,
``_generate_single_turn``, ``_tool_call_loop``), so an evaluated episode is what the policy saw in
training and what ``env/sft_train.jsonl`` taught:

- the chat template is TRL's training template (:func:`trl.chat_template_utils.get_training_chat_template`)
  when the tokenizer's own is not prefix-preserving (the Qwen3 template is not), else the tokenizer's;
- the prompt is ``apply_chat_template([observed prompt], tools=<bound methods>, add_generation_prompt=True)``;
- a reply is cut after its first EOS and parsed with :func:`trl.chat_template_utils.parse_response`
  (the tokenizer's response template, set by ``add_response_schema`` when missing; malformed calls
  fall back to plain text);
- tools are called by name with the parsed arguments; an exception becomes ``{"error": ...}``;
  the results are appended as ``{"role": "tool", "name", "content": str(result)}`` and tokenised by
  concatenation (prompt + reply ids + :func:`tool_suffix_ids`), never by re-rendering;
- a round whose tool results would reach the model's context length is rolled back and the
  episode ends (TRL's overlong rule). Unlike TRL, ``max_new_tokens`` caps each reply, not the whole
  completion (TRL's ``max_completion_length`` counts every turn and the tool results).

The final text is the last assistant message (:func:`medreasoner.rewards.completion.completion_text`,
what the GRPO rewards read). ``generate`` is pluggable (tests script it); :func:`hf_generate` is the
Hugging Face one, greedy or sampled at a temperature and top-p (top-p 1.0: the way GRPO's rollouts sample).

:func:`summarize` reads greedy predictions (one episode per case) and sampled ones (the same case
played several times): for sampled episodes accuracy is pass@1 (the mean per-case share of correct
episodes) with a bootstrap interval over cases, and pass@k (some episode of the case correct) is
the headroom GRPO's group sampling can draw on. :func:`majority_correct` scores a case by the answer
most of its sampled episodes gave (maj@k, self-consistency decoding): the mode of the sampled policy,
which is what sharpening it by RL changes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trl.chat_template_utils import (
    add_response_schema,
    get_training_chat_template,
    is_chat_template_prefix_preserving,
    parse_response,
)

from medreasoner.eval.metrics import BOOTSTRAP, bootstrap_ci, majority_score, wilson_ci
from medreasoner.rewards.completion import completion_text
from medreasoner.sim.environment import DiagnosticEnvironment, episode_outcome
from medreasoner.sim.episodes import observed_prompt, tool_methods
from medreasoner.verify.names import normalize_name

# prompts (token ids) -> replies (token ids, cut after the first EOS, EOS included)
Generate = Callable[[list[list[int]]], list[list[int]]]


def episode_chat_template(tokenizer) -> str | None:
    """The template GRPOTrainer renders tool episodes with (None = the tokenizer's own); also adds the
    response parser TRL adds, so :func:`parse_response` can read tool calls."""
    if getattr(tokenizer, "response_template", None) is None and getattr(tokenizer, "response_schema", None) is None:
        add_response_schema(tokenizer)
    return None if is_chat_template_prefix_preserving(tokenizer) else get_training_chat_template(tokenizer)


def prompt_ids(tokenizer, prompt: list[dict], tools: list, chat_template: str | None) -> list[int]:
    """Token ids of the prompt with the tool schemas and the generation prompt (GRPOTrainer._tokenize_prompts)."""
    tokenized = tokenizer.apply_chat_template(
        conversation=[prompt], tools=tools or None, chat_template=chat_template,
        add_generation_prompt=True, tokenize=True, return_dict=True,
    )
    return list(tokenized["input_ids"][0])


def tool_suffix_ids(tokenizer, tool_messages: list[dict], chat_template: str | None) -> list[int]:
    """Tokens that follow a reply when tool results are appended (GRPOTrainer._get_tool_suffix_ids):
    render a dummy tool-calling turn with and without the results and keep the difference, cut at the
    last EOS of the shorter rendering."""
    dummy = [
        {"role": "user", "content": "dummy"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"type": "function", "function": {"name": tool_messages[0]["name"], "arguments": {}}}]},
    ]
    prefix = tokenizer.apply_chat_template(dummy, add_generation_prompt=False, tokenize=True,
                                           chat_template=chat_template, return_dict=False)
    full = tokenizer.apply_chat_template(dummy + tool_messages, add_generation_prompt=True, tokenize=True,
                                         chat_template=chat_template, return_dict=False)
    eos = [i for i, token in enumerate(prefix) if token == tokenizer.eos_token_id]
    if eos:
        prefix = prefix[: eos[-1] + 1]
    if full[: len(prefix)] != prefix:
        raise ValueError("chat template: the EOS-trimmed prefix is not a prefix of the rendering with tool results")
    return list(full[len(prefix):])


def call_tools(tool_calls: list[dict], tools: dict[str, Callable]) -> tuple[list[dict], int]:
    """Run parsed tool calls; return the tool messages and the number of failed calls (TRL's
    ``_tool_call_loop`` rules: unknown tools, bad arguments and exceptions become ``{"error": ...}``)."""
    messages, failures = [], 0
    for call in tool_calls:
        if call.get("type") != "function":
            name, result = call.get("name", "unknown"), {"error": f"Unsupported tool call type: {call.get('type')}"}
            failures += 1
        else:
            name = call["function"]["name"]
            try:
                if name not in tools:
                    raise ValueError(f"Tool {name} not found.")
                result = tools[name](**call["function"]["arguments"])
            except Exception as error:  # noqa: BLE001  (any tool failure is the model's, reported back to it)
                result = {"error": str(error)}
                failures += 1
        messages.append({"role": "tool", "name": name, "content": result if isinstance(result, list) else str(result)})
    return messages, failures


@dataclass
class Episode:
    """One episode in progress: the environment, the conversation and its token ids."""

    row: dict
    env: DiagnosticEnvironment
    prompt: list[dict]
    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    completion: list[dict] = field(default_factory=list)
    tool_calls: int = 0
    tool_failures: int = 0
    rounds: int = 0
    truncated: bool = False  # a round was rolled back: the context was full

    @property
    def ids(self) -> list[int]:
        return self.prompt_ids + self.completion_ids


def play_episodes(rows: Sequence[dict], generate: Generate, tokenizer, *, max_turns: int,
                  max_length: int) -> list[Episode]:
    """Play one episode per row with ``generate`` (all rows in one batch; chunk the rows to bound memory).

    Args:
        rows: ``env/*.jsonl`` rows (``prompt``, ``case``, ...).
        generate: the policy (prompt ids -> reply ids ending in EOS when finished).
        max_turns: environment turns and tool-calling rounds (GRPO's ``environment.params.max_turns``
            and ``max_tool_calling_iterations``).
        max_length: the model's context length; a round whose tool results reach it is rolled back.
    """
    template = episode_chat_template(tokenizer)
    episodes = []
    for row in rows:
        env = DiagnosticEnvironment(max_turns=max_turns)
        prompt = observed_prompt(copy.deepcopy(row), env)
        episodes.append(Episode(row, env, prompt, prompt_ids(tokenizer, prompt, tool_methods(env), template)))
    active = episodes
    for round_index in range(max_turns + 1):
        replies = generate([episode.ids for episode in active])
        calling = []
        for episode, reply in zip(active, replies, strict=True):
            reply = list(reply)
            message = parse_response(tokenizer, reply, prefix=episode.ids, tools=tool_methods(episode.env)) if reply else {}
            episode.completion_ids += reply
            if message:
                episode.completion.append(message)
            if message.get("tool_calls") and round_index < max_turns:
                calling.append(episode)
        active = []
        for episode in calling:
            results, failures = call_tools(episode.completion[-1]["tool_calls"],
                                           {tool.__name__: tool for tool in tool_methods(episode.env)})
            episode.tool_calls += len(results)
            episode.tool_failures += failures
            suffix = tool_suffix_ids(tokenizer, results, template)
            if len(episode.ids) + len(suffix) >= max_length:
                episode.truncated = True  # TRL rolls the results back and the rollout ends as it is
                continue
            episode.completion += results
            episode.completion_ids += suffix
            episode.rounds += 1
            active.append(episode)
        if not active:
            break
    return episodes


def score_episode(episode: Episode) -> dict[str, Any]:
    """The ``predictions.jsonl`` record of a finished episode."""
    final_text = completion_text(episode.completion)
    outcome = episode_outcome(episode.env, final_text)
    menu = episode.env.case["menu"]
    return {
        "id": episode.env.case["id"],
        "correct": outcome["correct"],
        "answer": outcome["answer"],
        "answered": outcome["answered"],
        "label": episode.env.case["label"]["name"],
        "submitted": episode.env.submitted,
        "exams": [menu[exam]["name"] for exam in episode.env.requested],
        "num_exams": len(episode.env.requested),
        "num_tool_calls": episode.tool_calls,
        "num_tool_failures": episode.tool_failures,
        "exam_cost": outcome["cost"],
        "wasted_cost": outcome["wasted_cost"],
        "key_exam_coverage": outcome["evidence"],
        "key_exams": [menu[exam]["name"] for exam in episode.env.case["key_exams"]],
        "rounds": episode.rounds,
        "truncated": episode.truncated,
        "num_completion_tokens": len(episode.completion_ids),
        "final_text": final_text,
    }


def vote_key(episode: dict) -> str | None:
    """What an episode votes for in :func:`majority_correct`: ``condition <id>`` when its ``answer_condition``
    names a knowledge-base condition, else ``text <its answer after the grader's name normalisation>``, else
    None (no diagnosis stated, or one that normalises to nothing, as ``"."`` does; the "no answer" vote of
    :func:`medreasoner.eval.metrics.majority_score`). The prefixes keep a condition's id and a free-text
    answer apart."""
    if episode.get("answer_condition"):
        return f"condition {episode['answer_condition']}"
    text = normalize_name(episode["answer"]) if episode["answer"] else ""
    return f"text {text}" if text else None


def majority_correct(episodes: list[dict]) -> float:
    """maj@k of one case: :func:`medreasoner.eval.metrics.majority_score` of its episodes' :func:`vote_key`
    and ``correct`` (ties score the share of tied answers that are right; stating no diagnosis is a wrong
    vote, as it is wrong in a greedy episode and scores the GRPO reward's floor).

    Wordings of one knowledge-base condition are one answer, for the right answer and for a wrong one
    alike; a wrong answer that names no condition splits its vote across its wordings (the tiny world's
    models answer with knowledge-base names; a real model's free text may not).
    """
    return majority_score([vote_key(episode) for episode in episodes],
                          [bool(episode["correct"]) for episode in episodes])


def summarize(predictions: list[dict]) -> dict[str, Any]:
    """Accuracy with its 95 % interval, and the means of the episode measures (fractions, counts,
    cost units, tokens); ``exam_choice_accuracy`` when every episode has ``exam_choice_correct``, and the
    expert-path rate and accuracies when every episode has ``same_exams_as_expert``.

    Greedy predictions (every id once): accuracy with its Wilson interval. Sampled predictions (some id
    more than once): accuracy is pass@1, the mean over cases of the share of the case's episodes that
    were correct, with a bootstrap interval over cases (episodes of one case are not independent, so a
    Wilson interval over all episodes would be too narrow); ``pass_at_k`` is the share of cases with
    some correct episode, ``majority_accuracy`` the mean of :func:`majority_correct` over cases (when every
    episode records its ``answer``), ``num_cases`` and ``samples_per_case`` (the fewest episodes of any
    case) say what it was drawn from. The episode measures are means over all episodes.
    """
    n = len(predictions)
    if n == 0:
        raise ValueError("no episodes to summarize")
    episodes: dict[str, list[dict]] = {}  # case id -> its episodes, in file order
    for p in predictions:
        episodes.setdefault(p["id"], []).append(p)
    by_case = {case: [bool(p["correct"]) for p in played] for case, played in episodes.items()}
    if len(by_case) == n:
        k = sum(p["correct"] for p in predictions)
        accuracy: dict[str, Any] = {"accuracy": k / n, "accuracy_ci95": list(wilson_ci(k, n))}
    else:
        shares = [sum(outcomes) / len(outcomes) for outcomes in by_case.values()]
        accuracy = {"accuracy": sum(shares) / len(shares), "accuracy_ci95": list(bootstrap_ci(shares, BOOTSTRAP)),
                    "num_cases": len(by_case), "samples_per_case": min(len(o) for o in by_case.values()),
                    "pass_at_k": sum(any(o) for o in by_case.values()) / len(by_case)}
        if all("answer" in p for p in predictions):
            accuracy["majority_accuracy"] = sum(map(majority_correct, episodes.values())) / len(episodes)
    mean = lambda key: sum(float(p[key]) for p in predictions) / n  # noqa: E731
    return {
        "num_episodes": n,
        **accuracy,
        "mean_exams": mean("num_exams"),
        "mean_tool_calls": mean("num_tool_calls"),
        "mean_key_exam_coverage": mean("key_exam_coverage"),
        "mean_exam_cost": mean("exam_cost"),
        "mean_wasted_cost": mean("wasted_cost"),
        "answered_rate": mean("answered"),
        "truncated_rate": mean("truncated"),
        "mean_completion_tokens": mean("num_completion_tokens"),
        **({"exam_choice_accuracy": mean("exam_choice_correct")}
           if all("exam_choice_correct" in p for p in predictions) else {}),
        **(_expert_path(predictions) if all("same_exams_as_expert" in p for p in predictions) else {}),
    }


def _expert_path(predictions: list[dict]) -> dict[str, float | None]:
    """Share of episodes that ordered the expert's exams (same exams, same order), and the accuracy on and
    off that path (None where no episode is)."""
    on = [p["correct"] for p in predictions if p["same_exams_as_expert"]]
    off = [p["correct"] for p in predictions if not p["same_exams_as_expert"]]
    return {"expert_path_rate": len(on) / len(predictions),
            "accuracy_on_expert_path": sum(on) / len(on) if on else None,
            "accuracy_off_expert_path": sum(off) / len(off) if off else None}


def hf_generate(model, tokenizer, *, max_new_tokens: int,
                sampling: tuple[float, float] | None) -> Generate:
    """Batched generation with a Hugging Face causal LM (left padding; replies cut after the first EOS).

    ``sampling`` None is greedy decoding; ``(temperature, top_p)`` samples at that temperature from the
    tokens in the ``top_p`` nucleus (top-k 0); ``(1.0, 1.0)`` is the full distribution, TRL GRPOConfig's
    defaults, as GRPO's rollouts sample. Sampling draws from torch's global generator: seed it
    (``torch.manual_seed``) for a reproducible run.
    """
    import torch

    eos = tokenizer.eos_token_id
    if sampling is None:
        options = {"do_sample": False}
    else:
        temperature, top_p = sampling
        options = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": top_p}

    def generate(prompts: list[list[int]]) -> list[list[int]]:
        batch = tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt").to(model.device)
        with torch.no_grad():
            output = model.generate(**batch, max_new_tokens=max_new_tokens, **options,
                                    eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
        replies = []
        for row in output[:, batch["input_ids"].shape[1]:].tolist():
            replies.append(row[: row.index(eos) + 1] if eos in row else row)
        return replies

    return generate
