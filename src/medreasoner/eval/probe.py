"""Knowledge probe: multiple-choice accuracy by option log-likelihood, raw and calibrated.

What a model *knows* and what it *says* can differ: after fine-tuning on a closed set of answers, a
model may never generate a name it learned about in pretraining. The probe asks the weights directly.
For every option of a single-answer multiple-choice item it scores

    raw(option)        = log P(continuation(option) | context(question))
    calibrated(option) = raw(option) - log P(continuation(option) | context(premise))

and counts the item correct when the gold option scores highest. ``raw`` is rank classification by
log-likelihood, the multiple-choice protocol of lm-evaluation-harness. It also rewards a name the
model merely writes often (a corpus that mentions one condition more than the others biases it).
``calibrated`` is the domain-conditional PMI of Holtzman et al. 2021 ("Surface Form Competition",
arXiv 2104.08315, eq. 3): the premise is the question reduced to the lines that set the scene
(``premise_line_prefixes``, e.g. setting and chief complaint), so what remains is what the findings
add to each option. A model that only learned how often each name appears scores chance on it.

Calibration removes a name's prior given the premise, not a pull towards a name the findings of many
cases raise. A subset's **lure rate** measures that pull: on the items outside the subset that offer
one of the subset's gold names as a wrong option (a *lure*), the share where the model picks it. A
model that picks those names whatever the findings scores high on the subset and high on the lure
rate; the **margin**, subset accuracy minus lure rate, is what remains (Newcombe's interval for the
difference of two independent proportions, :func:`medreasoner.eval.metrics.newcombe_difference_ci`).

The context is plain text in a template (``{question}``), not a chat turn, so a base or continued-
pretraining model with no chat template can be probed, and a fine-tuned model can be probed in the
format its pretraining corpus used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from medreasoner.eval.metrics import newcombe_difference_ci, wilson_ci


@dataclass(frozen=True)
class ProbeFormat:
    """How an item becomes scored text.

    Attributes:
        context: template with ``{question}``; the option's continuation follows it directly.
        continuation: template with ``{option}`` (the option's text).
        drop_line_prefixes: question lines starting with one of these are removed first (the final
            "What is the most likely diagnosis?" line, which a corpus in report form never has).
        premise_line_prefixes: the lines kept for the calibration premise.
    """

    context: str
    continuation: str
    drop_line_prefixes: tuple[str, ...]
    premise_line_prefixes: tuple[str, ...]

    def contexts(self, question: str) -> tuple[str, str]:
        """(full context, premise context) of one question."""
        lines = [line for line in question.split("\n") if not line.startswith(self.drop_line_prefixes)]
        premise = [line for line in lines if line.startswith(self.premise_line_prefixes)]
        return (self.context.format(question="\n".join(lines)), self.context.format(question="\n".join(premise)))


def continuation_logprobs(model, tokenizer, context: str, continuations: list[str]) -> list[float]:
    """Summed log-probability (nats) of each continuation's tokens after ``context``, one batch.

    The continuation's tokens are those of ``context + continuation`` past the context's, so a
    tokenizer that merges across the boundary still scores the text the model would write.
    """
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    rows, spans = [], []
    for text in continuations:
        ids = tokenizer(context + text, add_special_tokens=False)["input_ids"]
        # Keep the shared prefix; a merge at the boundary moves the first continuation token back.
        start = next((i for i, (a, b) in enumerate(zip(ids, context_ids)) if a != b), min(len(ids), len(context_ids)))
        if start == len(ids):
            raise ValueError(f"continuation {text!r} adds no tokens to the context")
        rows.append(ids)
        spans.append((start, len(ids)))
    import torch  # here, not at import: the report reads SCORINGS and in_group without loading torch

    width = max(len(ids) for ids in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in rows])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in rows])
    with torch.no_grad():
        logprobs = model(input_ids=input_ids, attention_mask=mask).logits.float().log_softmax(-1)
    out = []
    for row, (start, end) in enumerate(spans):
        targets = input_ids[row, start:end]
        # The token at position t is predicted by the logits at t - 1.
        out.append(float(logprobs[row, start - 1:end - 1].gather(-1, targets[:, None]).sum()))
    return out


def score_item(model, tokenizer, fmt: ProbeFormat, question: str, options: dict[str, str]) -> dict:
    """Raw and calibrated scores of every option: ``{"raw": {letter: nats}, "calibrated": {...}}``."""
    full, premise = fmt.contexts(question)
    letters = sorted(options)
    continuations = [fmt.continuation.format(option=options[letter]) for letter in letters]
    raw = continuation_logprobs(model, tokenizer, full, continuations)
    prior = continuation_logprobs(model, tokenizer, premise, continuations)
    return {"raw": dict(zip(letters, raw)), "calibrated": {k: r - p for k, r, p in zip(letters, raw, prior)}}


Scoring = Literal["raw", "calibrated"]
SCORINGS: tuple[str, ...] = get_args(Scoring)


def in_group(subsets: list[str], group: str) -> bool:
    """Whether an item that belongs to ``subsets`` (a prediction's subset names) is in ``group``:
    ``all``, a subset name, or ``not_<name>`` (its complement)."""
    if group == "all":
        return True
    if group.startswith("not_"):
        return group.removeprefix("not_") not in subsets
    return group in subsets


def choice(scores: dict[str, float]) -> str:
    """The best-scoring letter; ties go to the first letter (no tie is likely with float scores)."""
    return max(sorted(scores), key=lambda letter: scores[letter])


def accuracy(correct: list[bool], chance: float) -> dict:
    """``{"n", "accuracy", "ci_low", "ci_high", "chance"}`` (fractions; Wilson 95 % interval)."""
    n = len(correct)
    low, high = wilson_ci(sum(correct), n)
    return {"n": n, "accuracy": sum(correct) / n if n else math.nan, "ci_low": low, "ci_high": high,
            "chance": chance}


def lure_letters(options: dict[str, str], gold: str, names: set[str]) -> list[str]:
    """The wrong options of an item whose text is one of ``names`` (a subset's gold option texts)."""
    return sorted(letter for letter, text in options.items() if text in names and letter != gold)


def lure_summary(rows: list[dict], subset: str, scoring: str) -> dict:
    """A subset's lure rate and margin under one scoring, from prediction rows.

    Args:
        rows: the probe's predictions; each has ``subsets``, ``lures`` (subset -> lure letters, set on
            items outside the subset that offer one) and ``<scoring>_choice`` / ``<scoring>_correct``.
        subset: the subset's name.
        scoring: ``raw`` or ``calibrated``.

    Returns:
        ``{"n", "rate", "ci_low", "ci_high", "margin", "margin_ci_low", "margin_ci_high"}``
        (fractions): ``n`` items offer a lure, ``rate`` is the share that picked one (Wilson 95 %);
        ``margin`` is the subset's accuracy minus ``rate`` (Newcombe 95 %).
    """
    offered = [r for r in rows if r["lures"].get(subset)]
    picks = sum(r[f"{scoring}_choice"] in r["lures"][subset] for r in offered)
    members = [r for r in rows if subset in r["subsets"]]
    hits = sum(bool(r[f"{scoring}_correct"]) for r in members)
    low, high = wilson_ci(picks, len(offered))
    margin_low, margin_high = newcombe_difference_ci(hits, len(members), picks, len(offered))
    rate = picks / len(offered) if offered else math.nan
    margin = hits / len(members) - rate if members else math.nan
    return {"n": len(offered), "rate": rate, "ci_low": low, "ci_high": high,
            "margin": margin, "margin_ci_low": margin_low, "margin_ci_high": margin_high}
