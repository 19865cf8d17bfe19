"""Evaluate a model in the diagnostic-chain environment (WiNGPT-3.0 S4), recipe ``kind: episodes``.

Rows -> episodes -> scores: each ``env/*.jsonl`` row (``env/validation.jsonl`` to choose settings,
``env/test.jsonl`` to report) is played by ``model`` (greedily, or ``sampling.num_samples`` times at
``sampling.temperature`` and ``sampling.top_p``) through
:func:`medreasoner.eval.episodes.play_episodes`, which renders, generates, parses tool calls and runs
the tools the way TRL's GRPOTrainer does during environment training. Writes
``<out_dir>/predictions.jsonl`` (per episode: id, correct, exams requested and their number, exam
cost, key-exam coverage, final text, ...) and ``<out_dir>/results.json`` (accuracy with its Wilson
95 % interval, mean exams, key-exam coverage and cost per episode, the fraction of episodes that
ended with an answer).

Sampled episodes are the S4 form of pass@k against pass@1 (issue 9 asks for it where RL does not
help): each case is played ``num_samples`` times at the temperature GRPO's rollouts use (or at an
evaluation protocol's temperature and nucleus, as ``s4.yaml``'s sampled test stages do), seeded with
the run's seed, and each record carries ``sample`` (0..k-1). ``results.json`` then reports accuracy
as pass@1 (with a bootstrap interval over cases), ``pass_at_k`` and ``majority_accuracy`` (maj@k:
the answer most of a case's episodes gave; with ``world`` set, each episode's ``answer_condition``
names the condition its answer is, so wordings of one condition vote together); the gap between
pass@1 and pass@k is what a GRPO group of that size can find and reinforce. A findings contrast
pairs two sampled stages case by case (``episodes: pass_at_1``, ``pass_at_k`` or ``majority``,
:mod:`medreasoner.eval.findings`).

With ``world`` set (the ``kind: world`` stage the cases come from), each episode is also scored by the
world's Bayes decision from the summary and the results of the exams it ordered
(:mod:`medreasoner.sim.world_cases`): ``exam_choice_correct`` per episode and ``exam_choice_accuracy``
overall. That is what the model's choice of exams was worth to a perfect reader; the gap to its own
accuracy is what it lost reading the results. Each episode also records the label-blind expert's exams
for its case and whether it ordered the same ones in the same order (``same_exams_as_expert``; overall
the rate and the accuracy on and off the expert's exams): where an SFT model's demonstrations lead.

Example recipe section::

    - name: episodes_sft
      kind: episodes
      config: {model: "${sft}", dtype: float32, cases: "${world}/env/validation.jsonl", world: "${world}",
               max_turns: 4, max_new_tokens: 64, limit: null, batch_size: 32, sampling: null}

    # pass@k of the same model: every case 8 times at GRPO's rollout temperature, full distribution
      config: {..., sampling: {num_samples: 8, temperature: 1.0, top_p: 1.0}}
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from medreasoner.files import read_jsonl, write_json_atomic, write_text_atomic
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext


class Sampling(BaseModel):
    """Play every case several times, sampling each reply at a temperature.

    Attributes:
        num_samples: episodes per case (k of pass@k).
        temperature: sampling temperature (top-k 0: every token is a candidate before ``top_p``).
        top_p: nucleus: sample among the likeliest tokens whose probabilities sum to at least this
            (1.0 = the full distribution, as GRPO's rollouts sample; reasoning models' recommended
            evaluation settings are typically 0.95 at temperature 0.6).
    """

    model_config = ConfigDict(extra="forbid")
    num_samples: Annotated[int, Field(ge=2, le=256)]
    temperature: Annotated[float, Field(gt=0, le=10)]
    top_p: Annotated[float, Field(gt=0, le=1)]


class Config(BaseModel):
    """``kind: episodes`` stage configuration; every field is required.

    Attributes:
        model: Hugging Face model directory (or hub id).
        dtype: weight dtype at load time (``float32`` on CPU, ``bfloat16`` on GPUs); the model runs on
            the GPU when one is visible, else on the CPU.
        cases: ``env/*.jsonl`` rows (``prompt``, ``case``).
        world: the world directory the cases come from, to score each episode's exam choice by the
            world's Bayes decision; null for cases not built by a ``kind: world`` stage.
        max_turns: environment turns and tool-calling rounds per episode (match the GRPO stage's
            ``environment.params.max_turns`` and ``max_tool_calling_iterations``).
        max_new_tokens: generated tokens per model turn.
        limit: only the first N rows (null = all).
        batch_size: episodes generated together.
        sampling: null plays each case once, greedily; set, each case ``num_samples`` times at
            ``temperature`` and ``top_p`` (seeded by the run's seed).
    """

    model_config = ConfigDict(extra="forbid")
    model: InputPath
    dtype: Literal["float32", "bfloat16", "float16"]
    cases: InputPath
    world: InputPath | None
    max_turns: Annotated[int, Field(ge=1, le=64)]
    max_new_tokens: Annotated[int, Field(ge=1, le=32768)]
    limit: Annotated[int, Field(ge=1)] | None
    batch_size: Annotated[int, Field(ge=1, le=4096)]
    sampling: Sampling | None


def run(config: Config, ctx: StageContext) -> dict:
    """Play and score the episodes; returns ``results.json``'s metrics."""
    import torch

    from medreasoner.eval.episodes import hf_generate, play_episodes, score_episode, summarize
    from medreasoner.model import load_model, load_tokenizer
    from medreasoner.sim.world_cases import load_world_cases

    rows = [row for _, row in read_jsonl(config.cases)]
    if config.limit is not None:
        rows = rows[: config.limit]
    world = None
    if config.world is not None:  # redraw the cases and check every label before a model loads
        world = load_world_cases(config.world)
        for row in rows:
            hidden = json.loads(row["case"])
            world.case(hidden["id"], hidden["label"]["name"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = load_tokenizer(config.model, padding_side="left")
    model = load_model(config.model, dtype=config.dtype).to(device).eval()
    samples = 1 if config.sampling is None else config.sampling.num_samples
    rows = [row for row in rows for _ in range(samples)]  # a case's samples together: one batch shares its prompt
    torch.manual_seed(ctx.seed)
    sampling = None if config.sampling is None else (config.sampling.temperature, config.sampling.top_p)
    generate = hf_generate(model, tokenizer, max_new_tokens=config.max_new_tokens, sampling=sampling)
    start = time.perf_counter()
    predictions = []
    with tqdm(total=len(rows), desc="episodes", unit="episode") as progress:
        for first in range(0, len(rows), config.batch_size):
            batch = rows[first: first + config.batch_size]
            episodes = play_episodes(batch, generate, tokenizer, max_turns=config.max_turns,
                                     max_length=model.config.max_position_embeddings)
            for index, episode in enumerate(episodes, start=first):
                record = score_episode(episode)
                if config.sampling is not None:
                    record["sample"] = index % samples
                if world is not None:
                    record["answer_condition"] = world.condition_named(record["answer"])
                    record["exam_choice_correct"] = world.bayes_answer(
                        record["id"], episode.env.requested, record["label"]) == record["label"]
                    expert = world.expert_exams(record["id"])
                    record["expert_exams"] = [episode.env.case["menu"][exam]["name"] for exam in expert]
                    record["same_exams_as_expert"] = list(episode.env.requested) == expert
                predictions.append(record)
            progress.update(len(batch))
    # Written once at the end through a temp file: a crash leaves no half-written predictions file.
    write_text_atomic(ctx.out_dir / "predictions.jsonl",
                      "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in predictions))
    metrics = summarize(predictions)
    metrics["seconds"] = time.perf_counter() - start
    results = {"model": config.model, "dtype": config.dtype, "cases": config.cases, "world": config.world,
               "max_turns": config.max_turns,
               "sampling": None if config.sampling is None else config.sampling.model_dump(),
               "max_new_tokens": config.max_new_tokens, "metrics": metrics}
    write_json_atomic(ctx.out_dir / "results.json", results)
    logged = {f"episodes/{key}": value for key, value in metrics.items() if isinstance(value, (int, float))}
    ctx.log(logged, 0)
    return {key: value for key, value in metrics.items() if not isinstance(value, list)}
