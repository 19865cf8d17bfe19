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
cases raise. A subset's **lures** measure that pull: on the items outside the subset, each wrong
option whose text is one of the subset's gold names (whatever the item's complaint: a name offered on a
case it rarely fits counts as well). The **lure rate** is the share of the items that offer a lure where
the model picks one. The **margin** compares each name with its own pull: for each
gold name ``n`` of the subset, accuracy on the subset's items of that name minus the rate at which the
model picks ``n`` where it is offered as a lure, averaged with weights ``w_n`` = the name's share of
the subset (names no item offers as a lure are left out and the weights renormalised). Names differ in
pull, and the subset and the lures hold them in different proportions, so one pooled lure rate would
not do. A model that picks each name as often where it is a lure as where it is right has margin 0;
its interval is the MOVER interval of that linear combination of proportions
(:func:`medreasoner.eval.metrics.mover_ci`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from medreasoner.eval.metrics import mover_ci, wilson_ci


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


def lure_letters(options: dict[str, str], gold: str, names: set[str]) -> dict[str, str]:
    """The wrong options of an item whose text is one of ``names`` (a subset's gold option texts):
    ``{letter: name}``."""
    return {letter: text for letter, text in sorted(options.items()) if text in names and letter != gold}


def name_strata(rows: list[dict], subset: str, scoring: str) -> dict[str, tuple[dict[str, bool], dict[str, bool]]]:
    """Per gold name of ``subset``: ``({item id: correct}`` on the subset's items of that name,
    ``{item id: picked the name}`` on the items outside that offer it as a lure``)``. Names that no item
    offers as a lure are left out.

    Args:
        rows: the probe's predictions, each with ``subsets``, ``gold_name``, ``lures`` (subset ->
            ``{letter: name}``, on items outside the subset that offer one) and ``<scoring>_choice`` /
            ``<scoring>_correct``.
    """
    strata: dict[str, tuple[dict[str, bool], dict[str, bool]]] = {}
    for row in rows:
        if subset in row["subsets"]:
            strata.setdefault(row["gold_name"], ({}, {}))[0][row["id"]] = bool(row[f"{scoring}_correct"])
    for row in rows:
        for letter, name in row["lures"].get(subset, {}).items():
            if name in strata:
                strata[name][1][row["id"]] = row[f"{scoring}_choice"] == letter
    return {name: pair for name, pair in strata.items() if pair[1]}


def lure_summary(rows: list[dict], subset: str, scoring: str) -> dict:
    """A subset's lure rate and margin under one scoring, from prediction rows (see the module
    docstring; ``rows`` as in :func:`name_strata`).

    Returns:
        ``{"n", "rate", "ci_low", "ci_high", "margin", "margin_ci_low", "margin_ci_high", "names"}``
        (fractions): ``n`` items offer a lure and ``rate`` is the share that picked one (Wilson 95 %);
        ``margin`` is the name-weighted accuracy minus lure rate (MOVER 95 %); ``names`` holds, per
        name, its ``weight``, subset items and hits, lure items and picks.
    """
    offered = [r for r in rows if r["lures"].get(subset)]
    picks = sum(r[f"{scoring}_choice"] in r["lures"][subset] for r in offered)
    low, high = wilson_ci(picks, len(offered))
    strata = name_strata(rows, subset, scoring)
    total = sum(len(right) for right, _ in strata.values())
    names = {name: {"weight": len(right) / total, "n": len(right), "hits": sum(right.values()),
                    "n_lures": len(picked), "picks": sum(picked.values())}
             for name, (right, picked) in sorted(strata.items())}
    terms = [term for s in names.values()
             for term in ((s["weight"], s["hits"], s["n"]), (-s["weight"], s["picks"], s["n_lures"]))]
    margin = sum(c * x / n for c, x, n in terms) if terms else math.nan
    margin_low, margin_high = mover_ci(terms)
    return {"n": len(offered), "rate": picks / len(offered) if offered else math.nan, "ci_low": low,
            "ci_high": high, "margin": margin, "margin_ci_low": margin_low, "margin_ci_high": margin_high,
            "names": names}
