"""The files a recipe reads from outside its run, checked before any stage runs.

A recipe may name another run's model (``runs/tiny_s4/sft``) or data the user supplies
(``data/wingpt3/pool.jsonl``). When one is missing, the stage that reads it would fail deep inside a
loader, after the earlier stages ran and with a traceback; ``medreasoner run`` checks them first and
names the recipe line instead, and ``medreasoner validate --inputs`` runs the same check.

A config string counts as a local path when it starts with ``/``, ``./``, ``../`` or ``~``, holds two or
more ``/``, or ends in a data or model file suffix, and is not a URL. ``org/name`` is left alone: it
may be a Hugging Face Hub id, which the loader resolves. Strings under the run's own directory (its
stages' outputs, ``${stage}``) are not inputs.
"""

from __future__ import annotations

from pathlib import Path

from medreasoner.errors import InputError
from medreasoner.recipe import Recipe, Stage

# Suffixes that make a one-segment string (``train.jsonl``) a file name rather than an id or a word.
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
    """Whether a config string names a local file or directory (the rule in the module docstring)."""
    if not value.strip() or "://" in value or "\n" in value:
        return False
    if value.startswith(("/", "./", "../", "~")) or value.count("/") >= 2:
        return True
    return Path(value).suffix.lower() in FILE_SUFFIXES


def missing_inputs(recipe: Recipe, stages: list[Stage] | tuple[Stage, ...]) -> list[InputError]:
    """One error per local path in ``stages``' configs that neither exists nor lies under the run's directory.

    Each error names the recipe file, the YAML line of the field (or the override that set it) and the
    field path (``stages[0].config.model.path``).
    """
    run_dir = recipe.run_dir.resolve()
    errors = []
    for stage in stages:
        for loc, value in config_strings(stage.config_dict(), ()):
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
