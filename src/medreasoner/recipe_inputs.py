"""The files a recipe reads from outside its run, checked before any stage runs.

A recipe may name another run's model (``runs/tiny_s4/sft``) or data the user supplies
(``data/wingpt3/pool.jsonl``). When one is missing, the stage that reads it would fail deep inside a
loader, after the earlier stages ran and with a traceback; ``medreasoner run`` checks them first and
names the recipe line instead, and ``medreasoner validate --inputs`` runs the same check.

Which fields are inputs is declared where the field is: a stage's ``Config`` types it :data:`InputPath`
(``train: InputPath``, ``corpus: list[InputPath]``, ``world: InputPath | None``). Free text (templates,
regexes, an endpoint's served model name) stays ``str`` and is never checked. A declared value is
taken for a local path unless it could be a Hugging Face Hub id (``org/name``, which the loader
resolves) or is a URL; values under the run's own directory (its stages' outputs, ``${stage}``) are
not inputs.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator

from medreasoner.errors import InputError

if TYPE_CHECKING:  # the recipe module imports the stages, whose Configs import this one
    from medreasoner.recipe import Recipe, Stage


class _InputPathMark:
    """Metadata marking a config string as a file or directory the stage reads."""

    def __repr__(self) -> str:
        return "InputPath"


INPUT_PATH = _InputPathMark()
InputPath = Annotated[str, INPUT_PATH]  # a str to pydantic; an input to check to run and validate --inputs

# Suffixes that make a one-segment or org/name-shaped value (``train.jsonl``) a file rather than a Hub id.
FILE_SUFFIXES = frozenset({".jsonl", ".json", ".csv", ".parquet", ".txt", ".yaml", ".yml", ".jinja",
                           ".safetensors", ".bin", ".gguf"})


def config_strings(value, loc: tuple):
    """Yield ``(loc, text)`` for every string inside a config's nested dicts and lists (``loc`` a key/index tuple)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from config_strings(item, loc + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from config_strings(item, loc + (index,))
    elif isinstance(value, str):
        yield loc, value


def looks_local(value: str) -> bool:
    """Whether a declared input value names a local file or directory rather than a Hub id or a URL.

    Local: starts with ``/``, ``./``, ``../`` or ``~``, holds two or more ``/``, or ends in a data or model
    file suffix. ``Qwen/Qwen2.5-32B`` and ``gpt2`` may be Hub ids and are left to the loader.
    """
    if not value.strip() or "://" in value:
        return False
    if value.startswith(("/", "./", "../", "~")) or value.count("/") >= 2:
        return True
    return Path(value).suffix.lower() in FILE_SUFFIXES


def input_paths(config, loc: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Yield ``(loc, value)`` for every :data:`InputPath` value in a validated config (a pydantic model),
    nested sections, lists and dicts included; ``loc`` holds the YAML keys and list indices."""
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        if any(isinstance(meta, _InputPathMark) for meta in field.metadata) or _marked(field.annotation):
            yield from config_strings(value, loc + (name,))
        else:
            yield from _sections(value, loc + (name,))


def _sections(value, loc: tuple) -> Iterator[tuple[tuple, str]]:
    if hasattr(type(value), "model_fields"):
        yield from input_paths(value, loc)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _sections(item, loc + (index,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _sections(item, loc + (key,))


def _marked(annotation) -> bool:
    """Whether ``InputPath`` appears anywhere in a type (``list[InputPath]``, ``InputPath | None``)."""
    if typing.get_origin(annotation) is Annotated and any(isinstance(m, _InputPathMark) for m in annotation.__metadata__):
        return True
    return any(_marked(arg) for arg in typing.get_args(annotation))


def missing_inputs(recipe: Recipe, stages: list[Stage] | tuple[Stage, ...]) -> list[InputError]:
    """One error per local :data:`InputPath` in ``stages``' configs that neither exists nor lies under the
    run's directory.

    Each error names the recipe file, the YAML line of the field (or the override that set it) and the
    field path (``stages[0].config.model.path``).
    """
    run_dir = recipe.run_dir.resolve()
    errors = []
    for stage in stages:
        for loc, value in input_paths(stage.config):
            if not looks_local(value):
                continue
            path = Path(value).expanduser()
            if path.exists() or path.resolve().is_relative_to(run_dir):
                continue
            errors.append(recipe.source.error(
                ("stages", stage.index, "config") + loc,
                f"{value} does not exist (stage {stage.name!r} reads it from outside this run: build or supply it "
                "first)"))
    return errors
