"""Prompt templates (data files in ``eval/prompts/``) and their rendering into :class:`Prompt` objects.

One YAML file per benchmark family and mode (``<family>_<mode>.yaml``). A template names its text
pieces; the fields it may use come from the item (:data:`FIELDS`), and ``str.format`` fills them in
(item text is substituted, never re-parsed, so braces inside a question are safe). Chat style gives
``[system] + few-shot turns + user``; completion style joins the same pieces into one string.

IgakuQA's few-shot exemplars are not ours to ship: they are read from the ``prompts/prompt.jsonl``
of the user's IgakuQA copy (same schema as the benchmark's question rows plus ``explanation``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from medreasoner.benchmarks import BENCHMARKS, Family
from medreasoner.benchmarks.item import Item
from medreasoner.errors import InputError
from medreasoner.files import read_text_utf8
from medreasoner.eval.generation import Prompt, PromptStyle

TEMPLATE_DIR = Path(__file__).parent / "prompts"
# benchmark -> template family, from the benchmark registry (MedQA and our MCQ JSONL share the plain
# multiple-choice prompt; rl_rows hold canonical items and take the held-out items' prompts).
FAMILIES = {name: spec.family for name, spec in BENCHMARKS.items()}
MODES = ("answer", "explain")
TEMPLATE_KEYS = {"version", "system", "option_line", "user", "user_by_verifier", "user_open", "fewshot_assistant",
                 "completion_join", "completion_reply_join", "completion_cue"}


@dataclass(frozen=True)
class Template:
    """A parsed template file; ``source`` is its text, recorded in results.json with its SHA-256."""

    path: Path
    source: str
    version: int
    system: str | None
    option_line: str | None
    user: str
    user_by_verifier: dict[str, str]
    user_open: str | None
    fewshot_assistant: str | None
    completion_join: str
    completion_reply_join: str
    completion_cue: str

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the template file's text."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Exemplar:
    """One IgakuQA few-shot demonstration (a row of ``prompts/prompt.jsonl``)."""

    problem_id: str
    question: str
    options: dict[str, str]
    answer: list[str]
    explanation: str | None


def load_template(benchmark: str, mode: str, template_dir: Path = TEMPLATE_DIR) -> Template:
    """Read ``<family>_<mode>.yaml`` for ``benchmark`` (a key of :data:`FAMILIES`) and ``mode``."""
    if benchmark not in FAMILIES:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose one of {sorted(FAMILIES)}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    path = template_dir / f"{FAMILIES[benchmark]}_{mode}.yaml"
    from medreasoner.recipe import parse_yaml  # bounded (alias bombs, nesting); lazy: recipe imports stages

    source = read_text_utf8(path, "prompt template")
    data = parse_yaml(path, source)[0]
    if not isinstance(data, dict) or set(data) != TEMPLATE_KEYS:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise InputError(path, f"a prompt template needs exactly the keys {sorted(TEMPLATE_KEYS)}, got {got}")
    return Template(path=path, source=source, **data)


def find_igakuqa_prompts(data_path: str | Path) -> Path | None:
    """The ``prompts/prompt.jsonl`` of the IgakuQA copy that ``data_path`` belongs to, if any.

    ``data_path`` may be the IgakuQA root, its ``data/`` dir, a year dir or a section file, so the
    root is searched for upwards (at most three levels).
    """
    path = Path(data_path).resolve()
    for candidate in [path, *path.parents][:4]:
        if (candidate / "prompts" / "prompt.jsonl").is_file():
            return candidate / "prompts" / "prompt.jsonl"
    return None


def load_igakuqa_exemplars(path: str | Path) -> list[Exemplar]:
    """Parse an IgakuQA exemplar file (or a ``prompts/`` dir holding ``prompt.jsonl``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "prompt.jsonl"
    if not path.is_file():
        raise InputError(path, "IgakuQA few-shot file not found (expected prompts/prompt.jsonl)")
    exemplars = []
    for number, line in enumerate(read_text_utf8(path, "IgakuQA few-shot file").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(path, f"not valid JSON ({error.msg})", line=number) from None
        except RecursionError:  # the stdlib decoder recurses once per nesting level
            raise InputError(path, "JSON nested too deeply to read", line=number) from None
        if not isinstance(row, dict):
            raise InputError(path, f"expected a JSON object, got {type(row).__name__}", line=number)
        for key, kind in (("problem_id", str), ("problem_text", str), ("choices", list), ("answer", list)):
            if not isinstance(row.get(key), kind):
                raise InputError(path, f"expected a {kind.__name__}", line=number, field=key)
        explanation = row.get("explanation")
        exemplars.append(Exemplar(
            problem_id=row["problem_id"],
            question=row["problem_text"],
            options={chr(ord("a") + i): str(choice) for i, choice in enumerate(row["choices"])},
            answer=[str(letter) for letter in row["answer"]],
            explanation=explanation if isinstance(explanation, str) else None,
        ))
    if not exemplars:
        raise InputError(path, "no exemplars in the file")
    return exemplars


def _option_fields(question: str, options: dict[str, str], template: Template) -> dict:
    lines = [template.option_line.format(letter=k, text=v) for k, v in options.items()] if template.option_line else []
    return {"question": question, "options": "\n".join(lines), "letters": ",".join(options)}


def mcq_fields(item: Item, template: Template) -> dict:
    """Fields of a multiple-choice item: question, options (one rendered line each), letters."""
    return _option_fields(item.question, item.options, template)


def medcalc_fields(item: Item, template: Template) -> dict:
    """Fields of a MedCalc-Bench item: the patient note and the task (the CSV's Question)."""
    return {"patient_note": item.meta["patient_note"], "task": item.question}


def igakuqa_fields(item: Item, template: Template) -> dict:
    """Fields of an IgakuQA item: multiple-choice fields plus the number of answers to pick."""
    return {**_option_fields(item.question, item.options, template), "num_answers": item.meta["num_answers"]}


# template family -> fields function; the template may use any subset of the fields.
FIELDS: dict[Family, Callable[[Item, Template], dict]] = {
    "mcq": mcq_fields, "medcalc": medcalc_fields, "igakuqa": igakuqa_fields, "items": mcq_fields,
}


class PromptBuilder:
    """Renders items of one benchmark and mode into prompts of one style.

    Args:
        benchmark: a key of :data:`FAMILIES`.
        mode: ``"answer"`` or ``"explain"``.
        style: ``"chat"`` or ``"completion"``.
        exemplars: few-shot demonstrations (IgakuQA); ``[]`` for zero-shot.
        exemplar_source: the file they came from (recorded in results.json).
    """

    def __init__(self, benchmark: str, mode: str, style: PromptStyle, exemplars: list[Exemplar],
                 exemplar_source: Path | None):
        self.benchmark, self.mode, self.style = benchmark, mode, style
        self.template = load_template(benchmark, mode)
        self.exemplars = exemplars
        self.exemplar_source = exemplar_source
        if exemplars and self.template.fewshot_assistant is None:
            raise InputError(self.template.path, f"few-shot exemplars given but the {benchmark} template has none")
        if mode == "explain" and any(e.explanation is None for e in exemplars):
            raise InputError(exemplar_source or "exemplars", "explain mode needs an 'explanation' in every exemplar",
                             field="explanation")

    def _user(self, fields: dict, item: Item) -> str:
        """The user turn: ``user_by_verifier[item.verifier]`` when the template has one (select-all
        items, boxed answers), else ``user_open`` for items without options, else ``user``."""
        text = self.template.user
        if item.verifier in self.template.user_by_verifier:
            text = self.template.user_by_verifier[item.verifier]
        elif not item.options and self.template.user_open is not None:
            text = self.template.user_open
        try:
            return text.format(**fields)
        except (KeyError, IndexError) as error:
            raise InputError(self.template.path, f"template uses a field this benchmark lacks: {error}") from None

    def _turns(self, item: Item) -> list[dict]:
        fields = FIELDS[FAMILIES[self.benchmark]]
        turns = []
        for exemplar in self.exemplars:
            shot = Item(exemplar.problem_id, exemplar.question, exemplar.options, "", "igakuqa",
                        {"num_answers": len(exemplar.answer)})
            reply = self.template.fewshot_assistant.format(answer=",".join(exemplar.answer),
                                                           explanation=exemplar.explanation)
            turns += [{"role": "user", "content": self._user(fields(shot, self.template), shot)},
                      {"role": "assistant", "content": reply}]
        turns.append({"role": "user", "content": self._user(fields(item, self.template), item)})
        return turns

    def render(self, item: Item) -> Prompt:
        """The prompt for ``item`` in this builder's style."""
        turns = self._turns(item)
        if self.style == "chat":
            system = [{"role": "system", "content": self.template.system}] if self.template.system else []
            return Prompt(style="chat", messages=tuple(system + turns))
        parts = [self.template.system] if self.template.system else []
        for user, reply in zip(turns[:-1:2], turns[1::2]):
            parts.append(user["content"] + self.template.completion_reply_join + reply["content"])
        parts.append(turns[-1]["content"] + self.template.completion_cue)
        return Prompt(style="completion", text=self.template.completion_join.join(parts))

    def describe(self) -> dict:
        """What results.json records about the prompt: template file, version, text and hashes."""
        source = self.exemplar_source
        return {
            "template": self.template.path.name,
            "template_version": self.template.version,
            "template_sha256": self.template.sha256,
            "template_text": self.template.source,
            "style": self.style,
            "fewshot_file": str(source) if source else None,
            "fewshot_sha256": hashlib.sha256(source.read_bytes()).hexdigest() if source else None,
            "fewshot_ids": [e.problem_id for e in self.exemplars],
        }
