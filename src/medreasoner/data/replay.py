"""Data step ``replay``: mix continued-pretraining text into the SFT conversations (knowledge replay).

Preferred-MedLLM goes from CPT straight to RPO; a tiny base model cannot follow a prompt, so our
pipeline puts SFT between them, and the knowledge probe (docs/evaluation.md) shows that SFT erases what
CPT taught about conditions the SFT rows never name. Mixing pretraining data into a later training
stage is the usual guard against that forgetting (InstructGPT adds a pretraining term to its RL
objective, PPO-ptx: Ouyang et al. 2022, arXiv 2203.02155, eq. 2). Allen-Zhu & Li 2023 (arXiv
2309.14316) find that knowledge a model stores in pretraining need not be extractable by questions
after fine-tuning, which the tiny runs do not rule out (docs/results.md, "CPT replay in SFT").

TRL's ``SFTTrainer`` takes one dataset of one format, so a text row joins the conversations as an
assistant turn with no prompt: ``{"messages": [{"role": "assistant", "content": text}]}``. With
``assistant_only_loss`` every token of the text the SFT stage keeps is a target, as in CPT; the chat
template adds its turn markers around it. Unlike CPT's packed blocks, the SFT stage cuts each row at
its ``max_length``, so the end of a long document is not trained on.

``round(ratio * conversations)`` text rows (Python's ``round``: a half goes to the even neighbour) are
drawn without replacement, whole passes over the corpus first when more are asked for than it holds;
the conversations are kept as they are, the text rows follow them (the trainer shuffles). Dropped:
``not_sampled`` text rows; a text row drawn more than once counts in ``repeated_text_rows``, so
``in + repeated_text_rows == out + dropped``. Example::

    - name: sft_replay
      kind: replay
      config:
        input: ${clean_sft}/data.jsonl
        text: ${clean_cpt}/data.jsonl
        ratio: 0.3
        seed: 0
"""

from __future__ import annotations

import random
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from medreasoner.data.funnel import drop, write_step
from medreasoner.data.samples import require_field, require_messages
from medreasoner.errors import InputError
from medreasoner.files import read_jsonl
from medreasoner.recipe_inputs import InputPath
from medreasoner.stages.context import StageContext


class Config(BaseModel):
    """``kind: replay`` configuration.

    Attributes:
        input: SFT conversations, ``{"messages": [...]}`` JSONL (other keys pass through).
        text: the CPT corpus, ``{"text": str}`` JSONL.
        ratio: text rows per conversation row in the output (> 0; e.g. 0.3 = 3 text rows per 10 conversations).
        seed: seed of the draw (same seed and inputs, same output).
    """

    model_config = ConfigDict(extra="forbid")
    input: InputPath
    text: InputPath
    ratio: float = Field(gt=0, allow_inf_nan=False)
    seed: int


def _read_conversations(path: Path) -> list[dict]:
    rows = []
    for line, row in read_jsonl(path):
        require_messages(path, line, row, "messages")
        rows.append(row)
    return rows


def _read_texts(path: Path) -> list[dict]:
    rows = []
    for line, row in read_jsonl(path):
        require_field(path, line, row, "text", (str,), "the document text (a string)")
        if not row["text"].strip():
            raise InputError(path, "expected a non-empty document", line=line, field="text")
        rows.append({"id": f"text-{line}", "text": row["text"]})
    return rows


def draw(count: int, available: int, rng: random.Random) -> list[int]:
    """``count`` indices into ``available`` (> 0) rows: whole shuffled passes, then a sample without replacement.

    >>> from collections import Counter
    >>> sorted(Counter(draw(5, 3, random.Random(0))).values())  # one pass, then 2 of the 3 rows again
    [1, 2, 2]
    """
    passes, rest = divmod(count, available)
    indices = [i for _ in range(passes) for i in rng.sample(range(available), available)]
    return indices + rng.sample(range(available), rest)


def run(config: Config, ctx: StageContext) -> dict:
    """Write the conversations followed by the drawn text rows; undrawn text rows go to ``dropped.jsonl``.

    Returns:
        ``{"in", "out", "dropped/not_sampled": n, "text_rows": n}``.
    """
    conversations = _read_conversations(Path(config.input))
    texts = _read_texts(Path(config.text))
    if not conversations:
        raise InputError(config.input, "replay: no conversations to mix text into")
    if not texts:
        raise InputError(config.text, "replay: no text rows to replay")
    count = round(config.ratio * len(conversations))
    if count == 0:
        raise InputError(config.input, f"replay: the setting ratio {config.ratio} times its {len(conversations)} "
                         "conversations rounds to 0 text rows; raise ratio")
    chosen = draw(count, len(texts), random.Random(config.seed))
    replayed = [{"messages": [{"role": "assistant", "content": texts[i]["text"]}]} for i in chosen]
    drawn = set(chosen)
    dropped = [drop(row, "not_sampled", f"{count} of {len(texts)} text rows drawn")
               for i, row in enumerate(texts) if i not in drawn]
    details = {"conversations": len(conversations), "text_rows": count, "distinct_text_rows": len(drawn),
               "repeated_text_rows": count - len(drawn), "corpus_rows": len(texts), "passes": count // len(texts),
               "text": str(config.text), "ratio": config.ratio, "seed": config.seed}
    metrics = write_step(ctx.out_dir, "replay", rows_in=len(conversations) + len(texts),
                         kept=conversations + replayed, dropped=dropped, input_path=config.input, details=details)
    metrics["text_rows"] = count
    ctx.log(metrics, 0)
    return metrics
