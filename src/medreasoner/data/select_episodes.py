"""``select_episodes``: S4 RL candidates, the cases whose sampled episodes are neither all right nor all wrong.

WiNGPT-3.0 (arXiv 2505.17387) sec. 4.1 chooses RL data by the SFT model's own rollouts: a question
every rollout solves teaches nothing and one no rollout solves gives no reward signal (GRPO's
group-normalised advantage is zero either way), so both are dropped and the rest are taken from
the fewest right answers up (:mod:`.select_rl` does this for questions). This step applies the same
rule to the diagnostic-chain environment, where a rollout is a whole episode: a sampled ``episodes``
stage plays each training case ``num_samples`` times at GRPO's rollout temperature, and the cases
with mixed outcomes become the GRPO stage's training rows.

Why it matters at tiny scale: GRPO on random S4 cases leaves 30-46 % of its groups without reward
spread (docs/sim.md, "Three times longer"); every selected case had spread under the SFT model.

Inputs: ``episodes``, a finished sampled ``episodes`` stage (its ``results.json`` names the cases it
played and its ``sampling``; ``predictions.jsonl`` holds one record per episode with ``id`` and
``correct``), and ``cases``, the ``env/*.jsonl`` file it played (checked against ``results.json``).
Output rows are the env rows verbatim (``prompt``, ``case``, ``reference``) plus ``n_correct`` and
``n_samples``, so the GRPO stage reads them as it reads ``env/train.jsonl``. Order: fewest right
first, ties in a seeded random order drawn per case from (seed, id), as :mod:`.select_rl`;
``max_cases`` caps in that order. Dropped (``dropped.jsonl``): ``all_correct``, ``none_correct``,
``not_played`` (a row of ``cases`` the stage did not play, e.g. beyond its ``limit``), ``over_cap``.

Example recipe section::

    - name: rollouts_s4
      kind: episodes
      config: {model: "${sft}", dtype: float32, cases: "${world}/env/train.jsonl", world: "${world}",
               max_turns: 4, max_new_tokens: 48, limit: 1000, batch_size: 64,
               sampling: {num_samples: 4, temperature: 1.0, top_p: 1.0}}
    - name: select_s4
      kind: select_episodes
      config: {episodes: "${rollouts_s4}", cases: "${world}/env/train.jsonl", max_cases: null, seed: null}
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from medreasoner.data.funnel import drop, write_step
from medreasoner.errors import InputError
from medreasoner.eval.findings import sampled_episodes_stage
from medreasoner.files import read_jsonl
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext

STEP = "select_episodes"


class Config(BaseModel):
    """``kind: select_episodes`` settings; every field is required.

    Attributes:
        episodes: directory of a finished sampled ``episodes`` stage (``sampling`` set) that played ``cases``.
        cases: the ``env/*.jsonl`` rows that stage played (``env/train.jsonl``; never an evaluation split).
        max_cases: most cases kept, fewest right first; null keeps every candidate.
        seed: seed of the tie order; null: the recipe's seed.
    """

    model_config = ConfigDict(extra="forbid")
    episodes: InputPath
    cases: InputPath
    max_cases: Annotated[int, Field(ge=1)] | None
    seed: int | None


def _played(config: Config) -> tuple[dict[str, list[bool]], int]:
    """Case id -> its episodes' correctness, and the episodes per case, from the episodes stage."""
    stage = Path(config.episodes)
    results, outcomes = sampled_episodes_stage(
        stage, "select_episodes needs a sampled episodes stage (sampling set): with one greedy episode per case "
        "every case is all right or all wrong")
    summary = stage / "results.json"
    if not isinstance(results.get("cases"), str):
        raise InputError(summary, "an episodes stage's results name the cases they played (a string)", field="cases")
    k = results["sampling"].get("num_samples") if isinstance(results["sampling"], dict) else None
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise InputError(summary, f"sampling.num_samples must be an integer >= 2, got {k!r}", field="sampling")
    if Path(results["cases"]).resolve() != Path(config.cases).resolve():
        raise InputError(summary, f"this stage played {results['cases']!r}, not cases {config.cases!r}",
                         field="cases")
    for case, episodes in outcomes.items():
        if len(episodes) != k:
            raise InputError(stage / "predictions.jsonl", f"case {case!r} has {len(episodes)} episodes, sampling "
                             f"says {k}", field="id")
    return outcomes, k


def _case_id(path: Path, line: int, row: dict) -> str:
    try:
        case_id = json.loads(row["case"])["id"]
    except (KeyError, TypeError, ValueError):
        raise InputError(path, "an env row needs 'case', a JSON string with an 'id'", line=line, field="case") from None
    if not isinstance(case_id, str):
        raise InputError(path, f"the case id must be a string, got {case_id!r}", line=line, field="case")
    if case_id.startswith(("validation-", "test-")):  # the world's held-out splits (sim.world)
        raise InputError(path, f"case {case_id} is a held-out case: select_episodes writes GRPO training rows, "
                         "so it selects from env/train.jsonl only", line=line, field="case")
    return case_id


def run(config: Config, ctx: StageContext) -> dict:
    """Drop the cases without outcome spread, order the rest fewest right first, cap; write GRPO rows.

    Returns:
        Funnel metrics: ``in`` (rows of ``cases``), ``out`` (cases kept), ``dropped/<reason>``.
    """
    outcomes, k = _played(config)
    path = Path(config.cases)
    seed = ctx.seed if config.seed is None else config.seed
    candidates, dropped, histogram, rows_in, seen = [], [], Counter(), 0, {}
    for line, row in read_jsonl(path):
        rows_in += 1
        case_id = _case_id(path, line, row)
        if case_id in seen:
            raise InputError(path, f"case {case_id} is also on line {seen[case_id]}", line=line, field="case")
        seen[case_id] = line
        if case_id not in outcomes:
            dropped.append(drop({"id": case_id}, "not_played"))
            continue
        n_correct = sum(outcomes.pop(case_id))
        histogram[f"{n_correct}/{k}"] += 1
        if n_correct in (0, k):
            dropped.append(drop({"id": case_id}, "none_correct" if n_correct == 0 else "all_correct", f"{n_correct}/{k}"))
            continue
        # Ties by a per-case seeded draw: the order of two cases does not depend on the file order.
        tie = random.Random(f"{seed}:{case_id}").random()
        candidates.append(((n_correct, tie), case_id, {**row, "n_correct": n_correct, "n_samples": k}))
    if outcomes:
        unknown = next(iter(outcomes))
        raise InputError(Path(config.episodes) / "predictions.jsonl",
                         f"case {unknown!r} (and {len(outcomes) - 1} more) is not a row of {path}", field="id")
    candidates.sort(key=lambda candidate: candidate[0])
    kept = [row for _, _, row in candidates[:config.max_cases]]
    dropped += [drop({"id": case_id}, "over_cap", f"max_cases {config.max_cases}")
                for _, case_id, _ in candidates[len(kept):]]
    details = {"episodes_per_case": k, "n_correct/n_samples": dict(sorted(histogram.items())),
               "max_cases": config.max_cases}
    return write_step(ctx.out_dir, STEP, rows_in=rows_in, kept=kept, dropped=dropped, input_path=path,
                      details=details)
