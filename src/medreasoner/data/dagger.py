r"""``dagger``: the expert takes over the episodes a model plays (WiNGPT-3.0 S4 data, DAgger).

Why: a model trained on the expert's episodes alone (``env/sft_train.jsonl``) has seen the expert's
states only. Once it orders an exam the expert would not have, it is in a state no demonstration
showed, and it reads the results there much worse than on the expert's path (``docs/sim.md``, "Exam
choice and reading"): behaviour cloning's compounding error. DAgger (Ross, Gordon and Bagnell, "A
reduction of imitation learning and structured prediction to no-regret online learning", AISTATS 2011)
labels the states the *learner* reaches with the expert's actions and trains on the union with the
demonstrations; on-policy distillation of LLMs does the same with a teacher model (Agarwal et al.,
"On-policy distillation of language models", ICLR 2024). In WiNGPT-3.0's terms this is teacher
distillation on the student's own episodes: the teacher is the world's label-blind expert
(:mod:`medreasoner.sim.expert`), which decides from what the episode shows, never from the label.

What the step does, per ``env/*.jsonl`` row (the first ``max_cases``):

1. ``model`` plays the episode greedily in the environment, exactly as the ``episodes`` stage and
   GRPO do (:func:`medreasoner.eval.episodes.play_episodes`);
2. each state it reached (the summary, then after each exam it ordered: ``state`` k = its first k
   valid exams) becomes a prompt-completion SFT row (:func:`medreasoner.sim.episodes.takeover`): the
   prompt is the episode up to that state, its calls and the environment's real results; the
   completion is what the expert does from there (the exams it would order next by their value of
   information, at most :data:`~medreasoner.sim.expert.MAX_EXAMS` in all, and the Bayes diagnosis
   from every result seen). TRL's SFTTrainer trains on the completion only: the model's own turns
   are context, not targets;
3. a state on the expert's own path (the model's first k exams are the expert's first k) is dropped
   as ``on_expert_path``: the case's demonstration already shows the expert there.

With ``demonstrations`` set (``env/sft_train.jsonl``), its rows come first, in the same layout
(prompt = the user turn, completion = the expert's whole episode; ``state`` 0), so the output is the
aggregate DAgger trains on. For DAgger's next iteration, ``demonstrations`` is the previous dagger
step's ``data.jsonl`` (its rows pass through) and ``model`` the model trained on it. The model's replies
are parsed as GRPO parses them; the prompt replays the valid exams it ordered (an unknown exam name or a
repeated one changes no state and is not replayed).

Output rows: ``{"id", "state", "source": "demonstration" | "takeover", "tools", "prompt", "completion"}``;
takeover rows also carry ``model_agrees`` (the model did what the expert does there). ``funnel.json``
details: cases played, the model's accuracy on them, states reached and taken over, and the model's
agreement with the expert on the takeover states, overall and where the expert answers at once (the
model's reading of its own off-path states, before training on them).

Example recipe section::

    - name: dagger
      kind: dagger
      config: {input: "${world}/env/train.jsonl", world: "${world}", model: "${sft}", dtype: float32,
               demonstrations: "${world}/env/sft_train.jsonl", max_cases: 1500, max_turns: 4,
               max_new_tokens: 48, batch_size: 50, progress: true}
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from medreasoner.benchmarks.item import Item
from medreasoner.data.funnel import drop, write_step
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl
from medreasoner.recipe_inputs import InputPath
from medreasoner.sim.environment import episode_answer
from medreasoner.sim.episodes import takeover
from medreasoner.sim.items import synonyms
from medreasoner.sim.world_cases import WorldCases, load_world_cases
from medreasoner.stages.context import StageContext
from medreasoner.verify import grade

STEP = "dagger"


class Config(BaseModel):
    """``kind: dagger`` settings; every field is required.

    Attributes:
        input: ``env/*.jsonl`` rows (``prompt``, ``case``) of the world in ``world``: the cases to play
            (``env/train.jsonl``; never an evaluation split).
        world: the ``kind: world`` stage the rows come from; its cases are redrawn from its manifest
            (:mod:`medreasoner.sim.world_cases`) so the expert can act from any state.
        model: the policy that plays (a Hugging Face model directory), usually the SFT model.
        dtype: weight dtype at load time (``float32`` on CPU).
        demonstrations: the expert's demonstrations (``env/sft_train.jsonl``), or an earlier dagger
            step's ``data.jsonl``, to put first in the output (DAgger's aggregate); null writes the
            takeover rows only.
        max_cases: play only the first N rows (null = all).
        max_turns: environment turns and tool-calling rounds per episode (the GRPO environment's).
        max_new_tokens: generated tokens per model turn.
        batch_size: episodes generated together.
        progress: show a progress bar over the episodes.
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    world: InputPath
    model: InputPath
    dtype: Literal["float32", "bfloat16", "float16"]
    demonstrations: InputPath | None
    max_cases: Annotated[int, Field(ge=1)] | None
    max_turns: Annotated[int, Field(ge=1, le=64)]
    max_new_tokens: Annotated[int, Field(ge=1, le=32768)]
    batch_size: Annotated[int, Field(ge=1, le=4096)]
    progress: bool


def demonstration_rows(path: str) -> list[dict]:
    """The rows of ``path`` in the takeover layout: ``{"tools", "messages"}`` demonstrations become state-0 rows
    (prompt = the user turn); prompt-completion rows (an earlier dagger step's output, for DAgger's next
    iteration) pass through as they are."""
    rows = []
    for line, row in read_jsonl(path):
        if "completion" in row and "prompt" in row:
            rows.append(row)
            continue
        messages = row.get("messages")
        if not isinstance(messages, list) or len(messages) < 2 or messages[0].get("role") != "user":
            raise InputError(path, "expected a demonstration (messages starting with the user turn) or a "
                             "prompt-completion row of an earlier dagger step", line=line, field="messages")
        tools = {"tools": row["tools"]} if "tools" in row else {}
        rows.append({"id": f"demonstration-{line}", "state": 0, "source": "demonstration", **tools,
                     "prompt": messages[:1], "completion": messages[1:]})
    return rows


def takeover_rows(row: dict, ordered: list[str], answer: str, world: WorldCases) -> tuple[list[dict], list[dict]]:
    """The takeover rows of one played episode and the drop records of its on-path states.

    Each row also records ``model_agrees``: whether the model did what the expert does at that state (the
    same next exam, or, where the expert answers, a diagnosis the ``diagnosis`` verifier accepts as the
    expert's). It measures, on the model's own states, how far it is from the expert before training.

    Args:
        row: the ``env/*.jsonl`` row played.
        ordered: the exam ids the model ordered, in order (its environment's ``requested``).
        answer: the model's answer text (its submitted diagnosis boxed, else its final message).
        world: the row's world, whose expert takes over.
    """
    hidden = json.loads(row["case"])
    case_id, label = hidden["id"], hidden["label"]["name"]
    expert = world.expert_exams(case_id)
    kb = world.model.kb
    kept, dropped = [], []
    for k in range(len(ordered) + 1):  # state k: the summary and the results of the model's first k exams
        state = {"id": case_id, "state": k}
        if ordered[:k] == expert[:k]:
            dropped.append(drop(state, "on_expert_path", f"state {k}: the expert's own first {k} exams"))
            continue
        exams, condition = world.expert_takeover(case_id, ordered[:k], label)
        if k < len(ordered):  # the model ordered another exam here
            agrees = bool(exams) and exams[0] == ordered[k]
        else:  # the model answered here
            item = Item(case_id, "", {}, condition.en, "diagnosis", {"synonyms": synonyms(kb, condition.id)})
            agrees = not exams and bool(grade(answer, item).correct)
        kept.append({**state, "source": "takeover", "model_agrees": agrees,
                     **takeover(row, ordered[:k], exams, condition.en)})
    return kept, dropped


def _share(rows: list[dict]) -> float | None:
    """Fraction of ``rows`` whose ``model_agrees`` is true (None for no rows)."""
    return sum(row["model_agrees"] for row in rows) / len(rows) if rows else None


def run(config: Config, ctx: StageContext) -> dict:
    """Play the cases, let the expert take over from every state reached; write the SFT rows."""
    import torch

    from medreasoner.eval.episodes import hf_generate, play_episodes, score_episode
    from medreasoner.model import load_model, load_tokenizer
    from medreasoner.rewards.completion import completion_text

    rows = [row for _, row in read_jsonl(config.input)][: config.max_cases]
    world = load_world_cases(config.world)
    for row in rows:  # every case must be the world's, and not a held-out one, before a model loads
        hidden = json.loads(row["case"])
        if not hidden["id"].startswith("train-"):
            raise InputError(config.input, f"case {hidden['id']} is not a training case: dagger trains on "
                             "what it writes, so it plays env/train.jsonl only", field="case")
        world.case(hidden["id"], hidden["label"]["name"])
    passed = demonstration_rows(config.demonstrations) if config.demonstrations else []
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = load_tokenizer(config.model, padding_side="left")
    model = load_model(config.model, dtype=config.dtype).to(device).eval()
    # greedy: the takeovers start from the states the policy itself reaches
    generate = hf_generate(model, tokenizer, max_new_tokens=config.max_new_tokens, sampling=None)
    takeovers, dropped, states, correct = [], [], 0, 0
    with tqdm(total=len(rows), desc="dagger episodes", unit="episode", disable=not config.progress) as progress:
        for first in range(0, len(rows), config.batch_size):
            batch = rows[first: first + config.batch_size]
            episodes = play_episodes(batch, generate, tokenizer, max_turns=config.max_turns,
                                     max_length=model.config.max_position_embeddings)
            for row, episode in zip(batch, episodes, strict=True):
                record = score_episode(episode)
                correct += record["correct"]
                answer = episode_answer(episode.env, completion_text(episode.completion))
                taken, skipped = takeover_rows(row, list(episode.env.requested), answer, world)
                takeovers += taken
                dropped += skipped
                states += len(taken) + len(skipped)
            progress.update(len(batch))
    answers = [row for row in takeovers if len(row["completion"]) == 1]  # the expert answers at once
    details = {"cases": len(rows), "model_accuracy": correct / len(rows) if rows else None,
               "states": states, "takeover_rows": len(takeovers), "demonstration_rows": len(passed),
               "model_agreement": _share(takeovers), "expert_answers_rows": len(answers),
               "model_agreement_where_expert_answers": _share(answers)}
    # rows in: the states reached plus the rows passed through (demonstrations, an earlier iteration's rows)
    return write_step(ctx.out_dir, STEP, rows_in=states + len(passed), kept=passed + takeovers, dropped=dropped,
                      input_path=config.input, details=details)
