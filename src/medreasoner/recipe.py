"""Recipes: one YAML file naming every knob of every stage, checked against each stage's typed ``Config``.

Format (full reference in docs/recipes.md)::

    name: tiny                       # run directory: runs/<name>/ unless --output is given
    seed: 0
    logging: {report_to: [tensorboard]}   # optional; any of tensorboard, wandb, mlflow
    stages:
      - name: world                  # unique; also the output directory RUN_DIR/world
        kind: world                  # a key of medreasoner.stages.STAGES
        config: {...}                # validated by medreasoner.stages.<kind>.Config
      - name: sft
        kind: sft
        config:
          data: {train: "${world}/sft/train.jsonl", ...}   # ${stage} -> RUN_DIR/<stage>

Loading order: parse the YAML, recording the line of every key -> apply ``key=value`` overrides ->
check the top level -> replace ``${stage}`` references -> validate each stage's ``config``. Every
problem is an :class:`InputError` naming the recipe file, the YAML line and the field path
(``stages[3].config.optim.learning_rate``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medreasoner.errors import InputError
from medreasoner.files import read_text_utf8
from medreasoner.recipe_errors import Source, format_field, raise_validation_error
from medreasoner.stages import STAGES, load_stage

# Top-level keys; a stage may not take one of these names (they would be ambiguous in overrides).
TOP_LEVEL_KEYS = ("name", "seed", "logging", "stages")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
# Bounds on a YAML document, counted with aliases expanded: a few hundred bytes of nested aliases
# ("billion laughs") expand to 10^9 nodes, which every later walk (lines, overrides, validation) would
# visit. The largest shipped recipe has about 1,500 nodes and 8 levels; configs stay far below both.
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that also reads ``1e-5`` as a float (YAML 1.2; PyYAML's 1.1 rules need ``1.0e-5``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


class LoggingSpec(BaseModel):
    """Where metrics go besides ``metrics.jsonl`` (always written): ``tensorboard``, ``wandb``, ``mlflow``."""

    model_config = ConfigDict(extra="forbid")
    report_to: list[Literal["tensorboard", "wandb", "mlflow"]]


class StageSpec(BaseModel):
    """One entry of ``stages:``; ``config`` is checked later against the stage module's ``Config``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    kind: str
    config: dict


class RecipeSpec(BaseModel):
    """The recipe's top level. ``logging`` may be omitted: metrics then go to JSONL and TensorBoard."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: int
    logging: LoggingSpec = LoggingSpec(report_to=["tensorboard"])
    stages: list[StageSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Stage:
    """A validated stage: ``config`` is an instance of ``medreasoner.stages.<kind>.Config``.

    ``references`` names the earlier stages whose outputs this stage's config uses (``${name}``).
    """

    index: int
    name: str
    kind: str
    config: BaseModel
    references: tuple[str, ...]

    def config_dict(self) -> dict:
        """The resolved config as plain YAML/JSON data, every field included (defaults too)."""
        return self.config.model_dump(mode="json")


@dataclass(frozen=True)
class Recipe:
    """A loaded, overridden, reference-resolved and validated recipe."""

    path: Path
    name: str
    seed: int
    report_to: tuple[str, ...]
    run_dir: Path
    stages: tuple[Stage, ...]
    source: Source = field(compare=False, repr=False)  # the lines and overrides, for errors found after loading

    def resolved(self) -> dict:
        """The whole resolved recipe (printed at start of a run and saved as ``RUN_DIR/recipe.yaml``)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "logging": {"report_to": list(self.report_to)},
            "stages": [{"name": s.name, "kind": s.kind, "config": s.config_dict()} for s in self.stages],
        }


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
                run_dir: str | Path | None = None) -> Recipe:
    """Load and validate a recipe.

    Args:
        path: the recipe YAML file.
        overrides: ``key=value`` strings applied before validation (see :func:`apply_overrides`).
        run_dir: the run's output directory; ``runs/<recipe name>`` when None. ``${stage}`` references
            resolve to ``run_dir/<stage>``.

    Raises:
        InputError: naming the file, YAML line and field path of the first problem.
    """
    path = Path(path)
    data, lines = parse_yaml(path, read_text_utf8(path, "recipe"))
    source = Source(path, lines, {})
    if not isinstance(data, dict):
        raise InputError(path, "a recipe is a mapping with keys name, seed, stages", line=1)
    source.overrides.update(apply_overrides(path, data, overrides))
    try:
        spec = RecipeSpec.model_validate(data)
    except ValidationError as error:
        raise_validation_error(source, (), error, RecipeSpec)
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / spec.name
    return Recipe(path=path, name=spec.name, seed=spec.seed, report_to=tuple(spec.logging.report_to),
                  run_dir=run_dir, stages=tuple(_validate_stages(source, spec, run_dir)), source=source)


def parse_yaml(path: Path, text: str, loader: type = _Loader) -> tuple[object, dict[tuple, int]]:
    """Parse YAML text; return the data and the 1-based line of every mapping key and list item.

    Keys of the line map are paths such as ``("stages", 3, "config", "optim")``. A key repeated in
    one mapping is an error (plain YAML loaders silently keep the last one), and so is a document
    beyond :data:`MAX_YAML_NODES` nodes (aliases expanded) or :data:`MAX_YAML_DEPTH` levels.
    ``loader`` is a SafeLoader subclass (plain ``yaml.SafeLoader`` for files ``yaml.safe_dump`` wrote).
    """
    loader = loader(text)
    lines: dict[tuple, int] = {}
    try:
        node = loader.get_single_node()
        if node is not None:  # before construction, which flattens `<<` merge keys into the mappings
            _check_size(path, node)
            _record_lines(path, node, (), lines)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise InputError(path, f"not valid YAML here: nested deeper than {MAX_YAML_DEPTH} levels") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise InputError(path, f"not valid YAML: {error.problem or error.context}",
                         line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise InputError(path, f"not valid YAML: {error}") from None
    finally:
        loader.dispose()
    return data, lines


def _check_size(path: Path, root: yaml.Node) -> None:
    # Iterative walk that follows aliases (an alias is the very node object it names), so the count
    # is the expanded size; it stops at the first node over a bound instead of expanding everything.
    stack, count = [(root, 1)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_YAML_NODES:
            raise InputError(path, f"YAML expands to more than {MAX_YAML_NODES} nodes (anchors/aliases "
                             "included); refusing it as a likely alias bomb", line=node.start_mark.line + 1)
        if depth > MAX_YAML_DEPTH:
            raise InputError(path, f"YAML nested deeper than {MAX_YAML_DEPTH} levels", line=node.start_mark.line + 1)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((part, depth + 1) for pair in node.value for part in pair)


def _record_lines(path: Path, node: yaml.Node, prefix: tuple, lines: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: keys given here win
                merged.extend(value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node])
                continue
            key = key_node.value
            if key in seen:
                raise InputError(path, f"key {key!r} appears twice in the same mapping",
                                 line=key_node.start_mark.line + 1, field=format_field(prefix + (key,)))
            seen.add(key)
            lines[prefix + (key,)] = key_node.start_mark.line + 1
            _record_lines(path, value_node, prefix + (key,), lines)
        for source in merged:
            inherited: dict[tuple, int] = {}
            _record_lines(path, source, prefix, inherited)
            for loc, line in inherited.items():
                lines.setdefault(loc, line)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[prefix + (index,)] = item.start_mark.line + 1
            _record_lines(path, item, prefix + (index,), lines)


def parse_override(path: Path, text: str) -> tuple[list[str], object]:
    """Split ``a.b.c=value`` into its key path and its value, parsed as a YAML scalar (or flow list/map).

    >>> parse_override(Path("r.yaml"), "sft.optim.learning_rate=1e-4")
    (['sft', 'optim', 'learning_rate'], 0.0001)
    """
    key, separator, value = text.partition("=")
    parts = key.split(".")
    if not separator or not all(parts):
        raise InputError(path, f"override {text!r} is not of the form key.path=value (e.g. sft.optim.learning_rate=1e-4)")
    try:
        return parts, parse_yaml(path, value)[0]  # the same bounds as a recipe file
    except InputError as error:
        raise InputError(path, f"override {text!r}: value is not valid YAML ({error.message})") from None


def apply_overrides(path: Path, data: dict, overrides: list[str] | tuple[str, ...]) -> dict[tuple, str]:
    """Apply ``key=value`` overrides to raw recipe data in place; return {data path: override text}.

    Key forms: ``seed=1`` / ``name=x`` / ``logging.report_to=[wandb]`` (top level);
    ``<stage>.<config path>=v`` (shorthand for a stage's config, e.g. ``sft.optim.learning_rate=1e-4``);
    ``stages.<stage name or index>.<key path>=v`` (full form, e.g. ``stages.sft.kind=cpt``).
    Missing mappings along the path are created; the schema then rejects unknown keys.
    """
    origins: dict[tuple, str] = {}
    for text in overrides:
        parts, value = parse_override(path, text)
        if parts[0] in TOP_LEVEL_KEYS and parts[0] != "stages":
            target = tuple(parts)
        elif parts[0] == "stages":
            if len(parts) < 3:
                raise InputError(path, f"override {text!r}: use stages.<stage>.<key>=value")
            target = ("stages", _stage_index(path, data, parts[1], text), *parts[2:])
        else:
            if len(parts) < 2:
                raise InputError(path, f"override {text!r}: name a key inside stage {parts[0]!r}'s config")
            target = ("stages", _stage_index(path, data, parts[0], text), "config", *parts[1:])
        _set_path(path, data, target, value, text)
        origins[tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in target)] = text
    return origins


def _stage_index(path: Path, data: dict, name: str, text: str) -> int:
    stages = data.get("stages")
    names = [s.get("name") if isinstance(s, dict) else None for s in stages] if isinstance(stages, list) else []
    if name.isdigit() and int(name) < len(names):
        return int(name)
    if name not in names:
        raise InputError(path, f"override {text!r}: no stage named {name!r} (stages: {', '.join(map(str, names))})")
    return names.index(name)


def _set_path(path: Path, data: dict, target: tuple, value: object, text: str) -> None:
    # Every container on the way down is replaced by a shallow copy of itself: a YAML alias (`optim: *optim`,
    # or a mapping that `<<: *anchor` merges in) is one shared object, and setting a key in place would
    # change every stage that shares it, not only the stage the override names.
    node = data
    for depth, part in enumerate(target[:-1]):
        nxt = target[depth + 1]
        if isinstance(node, list):
            if not (isinstance(part, int) or part.isdigit()) or int(part) >= len(node):
                raise InputError(path, f"override {text!r}: {format_field(target[:depth])} has no item {part}")
            node[int(part)] = _own_copy(node[int(part)])
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node or node[part] is None:
                node[part] = [] if isinstance(nxt, int) else {}
            node[part] = _own_copy(node[part])
            node = node[part]
        else:
            raise InputError(path, f"override {text!r}: {format_field(target[:depth])} is not a mapping")
    last = target[-1]
    if isinstance(node, list) and isinstance(last, str) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise InputError(path, f"override {text!r}: cannot set {format_field(target)}")


def _own_copy(node: object) -> object:
    """A shallow copy of a mapping or list (other values as they are)."""
    if isinstance(node, dict):
        return dict(node)
    return list(node) if isinstance(node, list) else node


def _validate_stages(source: Source, spec: RecipeSpec, run_dir: Path) -> list[Stage]:
    stages: list[Stage] = []
    all_names = [s.name for s in spec.stages]
    for index, entry in enumerate(spec.stages):
        loc = ("stages", index)
        if entry.name in TOP_LEVEL_KEYS:
            source.fail(loc + ("name",), f"stage name {entry.name!r} is reserved (top-level key); pick another")
        if entry.name in all_names[:index]:
            source.fail(loc + ("name",), f"stage name {entry.name!r} is used twice; names are output directories")
        if entry.kind not in STAGES:
            source.fail(loc + ("kind",), f"unknown stage kind {entry.kind!r}; choose one of {', '.join(STAGES)}")
        try:
            module = load_stage(entry.kind)
        except ImportError as error:
            source.fail(loc + ("kind",), f"stage kind {entry.kind!r}: cannot import {STAGES[entry.kind]} ({error})")
        used: list[str] = []
        config = _resolve(source, entry.config, loc + ("config",), all_names[:index], all_names, run_dir, used)
        try:
            validated = module.Config.model_validate(config)
        except ValidationError as error:
            raise_validation_error(source, loc + ("config",), error, module.Config)
        stages.append(Stage(index=index, name=entry.name, kind=entry.kind, config=validated,
                            references=tuple(dict.fromkeys(used))))
    return stages


def _resolve(source: Source, value, loc: tuple, earlier: list[str], all_names: list[str], run_dir: Path,
             used: list[str]):
    """Replace ``${stage}`` in every string of ``value`` by ``run_dir/stage``; record the names used."""
    if isinstance(value, dict):
        return {k: _resolve(source, v, loc + (k,), earlier, all_names, run_dir, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(source, v, loc + (i,), earlier, all_names, run_dir, used) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in earlier:
            why = ("runs at or after this stage; a stage can only read outputs of earlier stages"
                   if name in all_names else f"no such stage (earlier stages: {', '.join(earlier) or 'none'})")
            source.fail(loc, f"reference ${{{name}}}: {why}")
        used.append(name)
        return str(run_dir / name)

    return _REFERENCE.sub(substitute, value)
