r"""The diagnostic-chain environment (WiNGPT-3.0 stage S4) for TRL's ``GRPOTrainer(environment_factory=...)``.

One episode: the model reads the initial consultation summary and the exam menu, orders exams
with the ``request_exam`` tool (each returns the hidden results, or "not available"), and ends
with ``submit_diagnosis`` (or a final ``\boxed{}`` answer). TRL exposes every public method except
``reset`` as a tool, builds the tool schema from the type hints and Google-style docstrings, and
calls ``reset(**row)`` on a pooled instance per rollout; the row's ``case`` column (written by
``build_world`` to ``env/train.jsonl``) holds the hidden case as JSON.

Tool results are not trained on: TRL's tool loop (``GRPOTrainer._tool_call_loop``) appends the
tool-response tokens with ``tool_mask = 0`` and the loss uses ``completion_mask * tool_mask``
(see docs/sim.md). The environment deliberately has no ``get_reward`` method (TRL would add it
with a fixed weight of 1); the reward is ``medreasoner.rewards.environment.diagnostic_env_reward``, a registered reward whose
weights come from the recipe, reading the instances TRL passes as ``environments``.

Usage::

    trainer = GRPOTrainer(model, reward_funcs=[bind_reward("diagnostic_env_reward", weights)],
                          train_dataset=load_dataset("json", data_files="world/env/train.jsonl")["train"],
                          environment_factory=environment_factory(max_turns=4), args=args)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from medreasoner.benchmarks.item import Item
from medreasoner.verify import grade
from medreasoner.verify.names import normalize_name

INSTRUCTIONS = (
    "You are the physician in this consultation. Decide whether the summary is enough for a diagnosis; "
    "if not, order the examinations you need with the request_exam tool, one at a time, and reassess after "
    "each result. Unnecessary examinations have a cost. When you are ready, call submit_diagnosis with the "
    "single most likely diagnosis and state it as \\boxed{diagnosis}."
)
NOT_AVAILABLE = "not available"
TURN_LIMIT = "Turn limit reached: submit your diagnosis now."
ALREADY_SUBMITTED = "A diagnosis was already submitted; the consultation is over."


class DiagnosticEnvironment:
    """One patient consultation; TRL keeps a pool of these and calls :meth:`reset` per rollout.

    Args:
        max_turns: tool calls allowed per episode (requests beyond it are refused, not performed).
    """

    def __init__(self, max_turns: int):
        self.max_turns = max_turns
        self.case: dict[str, Any] = {}
        self.requested: list[str] = []
        self.turns = 0
        self.submitted: str | None = None

    def reset(self, **row: Any) -> str:
        """Start an episode from a dataset row; returns the consultation summary and the exam menu.

        TRL appends the returned text to the last user message of the row's prompt.
        """
        self.case = json.loads(row["case"])
        self.requested, self.turns, self.submitted = [], 0, None
        menu = ", ".join(exam["name"] for exam in self.case["menu"].values())
        return f"\n\n{self.case['summary']}\nExams you can request: {menu}."

    def request_exam(self, name: str) -> str:
        """Order one examination or test for the patient and receive its results.

        Args:
            name: The examination to order, exactly as named in the list of exams you can request.

        Returns:
            The examination results, or "not available" when it cannot be done for this patient.
        """
        if self.submitted is not None:
            return ALREADY_SUBMITTED
        if self.turns >= self.max_turns:
            return TURN_LIMIT
        self.turns += 1
        exam_id = self._exam_id(name)
        if exam_id is None:
            return NOT_AVAILABLE
        if exam_id not in self.requested:
            self.requested.append(exam_id)
        return f"{self.case['menu'][exam_id]['name']}: {self.case['menu'][exam_id]['result']}"

    def submit_diagnosis(self, diagnosis: str) -> str:
        """Submit the single most likely diagnosis; this ends the consultation.

        Args:
            diagnosis: The name of the diagnosis, e.g. "Community-acquired pneumonia".

        Returns:
            A confirmation that the diagnosis was recorded.
        """
        if self.submitted is not None:
            return ALREADY_SUBMITTED
        self.turns += 1
        self.submitted = diagnosis
        return f"Diagnosis recorded: {diagnosis}."

    def _exam_id(self, name: str) -> str | None:
        key = normalize_name(str(name))
        for exam_id, exam in self.case["menu"].items():
            if key in (normalize_name(exam["name"]), normalize_name(exam_id)):
                return exam_id
        return None


def environment_factory(max_turns: int) -> Callable[[], DiagnosticEnvironment]:
    """The zero-argument factory ``GRPOTrainer(environment_factory=...)`` expects."""

    def make() -> DiagnosticEnvironment:
        return DiagnosticEnvironment(max_turns=max_turns)

    return make


def episode_reward(
    env: DiagnosticEnvironment,
    final_text: str,
    *,
    correct_weight: float,
    evidence_weight: float,
    cost_weight: float,
    cost_budget: float,
) -> float:
    r"""Score one finished episode.

    reward = correct_weight * correct + evidence_weight * evidence - cost_weight * waste for an
    episode that commits to a diagnosis, where

    - correct: the submitted diagnosis (else the final ``\boxed{}``/``Diagnosis:`` of
      ``final_text``) matches the case label or a synonym (the ``diagnosis`` verifier);
    - evidence: fraction of the case's key exams (those revealing a finding of the labelled
      condition) that were requested; 1 when the label needs none;
    - waste: cost of requested exams that are not key exams, divided by ``cost_budget``, capped at 1.

    An episode that never commits to one (no submitted diagnosis and no final answer in
    ``final_text``) scores the floor, ``-cost_weight``. WiNGPT-3.0's S4 episode ends with a
    diagnosis; without the floor an episode cut short, by a malformed tool call for instance, kept its
    evidence credit and paid less for exams than a wrong answer after more of them, and GRPO in
    ``recipes/tiny/s4.yaml`` learned to stop that way (``docs/sim.md``, "S4 at tiny scale").

    The range is [-cost_weight, correct_weight + evidence_weight].
    """
    outcome = episode_outcome(env, final_text)
    if not outcome["answered"]:
        return -cost_weight
    waste = min(1.0, outcome["wasted_cost"] / cost_budget)
    return correct_weight * float(outcome["correct"]) + evidence_weight * outcome["evidence"] - cost_weight * waste


def episode_answer(env: DiagnosticEnvironment, final_text: str) -> str:
    """The text an episode's diagnosis is graded on: the submitted diagnosis, boxed, else the final text."""
    return f"\\boxed{{{env.submitted}}}" if env.submitted is not None else final_text


def episode_outcome(env: DiagnosticEnvironment, final_text: str) -> dict[str, Any]:
    r"""What a finished episode achieved (the terms of :func:`episode_reward`, also reported by
    ``medreasoner.eval.episodes``).

    Returns:
        ``correct`` (the submitted diagnosis, else the final text's answer, matches the label or a
        synonym), ``answer`` (that diagnosis as the grader extracted it; None when there is none),
        ``answered`` (a diagnosis was submitted or the text commits to an answer),
        ``evidence`` (fraction of key exams requested; 1 when none are needed), ``cost`` (of every
        requested exam) and ``wasted_cost`` (of requested exams that are not key exams).
    """
    label = env.case["label"]
    item = Item(env.case["id"], "", {}, label["name"], "diagnosis", {"synonyms": label["synonyms"]})
    graded = grade(episode_answer(env, final_text), item)
    key = env.case["key_exams"]
    menu = env.case["menu"]
    return {
        "correct": bool(graded.correct),
        "answer": graded.extracted,
        "answered": graded.extracted is not None,
        "evidence": sum(exam in env.requested for exam in key) / len(key) if key else 1.0,
        "cost": sum(menu[e]["cost"] for e in env.requested),
        "wasted_cost": sum(menu[e]["cost"] for e in env.requested if e not in key),
    }
