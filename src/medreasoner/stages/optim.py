"""The ``optim:`` section of every trainer: explicit required knobs plus any field of the stage's TRL config.

The fields below are explicit (and mostly required), so a recipe always states its schedule. Any other
key is passed to the stage's TRL config (``SFTConfig`` for ``sft`` and ``cpt``, ``DPOConfig`` for
``preference``, ``RewardConfig`` for ``reward_model``, ``GRPOConfig`` for ``grpo``) as it is, after
three checks made when the recipe loads (so ``medreasoner validate`` catches them):

- the name is a field of that dataclass; otherwise the error suggests the closest field name;
- the stage does not set the field from another section (``data.max_length``, ``grpo.beta``, the
  recipe's ``seed`` and ``logging.report_to``...); otherwise the error names that section;
- the value has the field's type (bool, int, float, str, list, dict, None as the dataclass declares;
  for enum fields such as ``optim`` or ``eval_strategy``, one of the enum's values).

Each stage module builds its section with :func:`optim_section`.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import types
import typing
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from medreasoner.recipe_inputs import InputPath

# TrainingArguments fields every training stage sets itself (training.training_arguments): {field: why
# optim may not set it}, naming the section that does.
COMMON_OWNERS = {
    "output_dir": "the stage sets it (Trainer checkpoints go to <stage dir>/checkpoints)",
    "seed": "set it with the recipe's top-level seed",
    "data_seed": "set it with the recipe's top-level seed",
    "report_to": "set it with the recipe's logging.report_to",
    "logging_dir": "set by the recipe's logging section (TensorBoard writes to <stage dir>/tb)",
    "run_name": "the stage name is the run name",
    "save_strategy": "set by optim.save_steps (the stage checkpoints every save_steps steps, for resume)",
    "lr_scheduler_kwargs": "set it with optim.min_lr_rate",
}


class OptimSection(BaseModel):
    """The ``optim:`` section: optimisation and checkpointing knobs shared by every trainer.

    Exactly one of ``num_train_epochs`` / ``max_steps`` is set. Fields with defaults:
    ``min_lr_rate`` (only read by ``cosine_with_min_lr``; WiNGPT-3.0 anneals to 10 % -> 0.1),
    ``save_total_limit`` (null keeps every checkpoint, the transformers default),
    ``deepspeed`` (null: no DeepSpeed; a path such as ``configs/deepspeed/zero3.json`` otherwise),
    ``dataloader_num_workers`` (0: load in the main process, the transformers default).
    Any other key must be a field of :attr:`trl_config` (see the module docstring).

    Attributes:
        learning_rate: peak learning rate.
        warmup_steps: linear warmup length in optimizer steps.
        lr_scheduler_type: schedule after warmup.
        per_device_train_batch_size: sequences (GRPO: completions) per device per micro-step.
        gradient_accumulation_steps: micro-steps per optimizer step.
        logging_steps / save_steps: optimizer steps between logs / checkpoints.
        bf16: bf16 autocast (CPUs with AVX512_BF16 and Ampere+ GPUs).
        gradient_checkpointing: recompute activations (saves memory, ~45 % slower on CPU).
        use_cpu: train on CPU even when a GPU is visible.
    """

    model_config = ConfigDict(extra="allow")
    # Set by optim_section: the TRL dataclass extra keys go to, and {field: reason} for the fields the
    # stage sets from other sections. The bare class (no TRL config) accepts no extra key.
    trl_config: ClassVar[type | None] = None
    owners: ClassVar[dict[str, str]] = {}

    # Ranges are checked here so `validate` rejects what the Trainer would reject or silently
    # misread (max_steps -1 means "whole epochs" and 0 one step to transformers; save_steps 0 saves nothing).
    learning_rate: float = Field(gt=0)
    num_train_epochs: float | None = Field(None, gt=0)
    max_steps: int | None = Field(None, ge=1)
    per_device_train_batch_size: int = Field(ge=1)
    gradient_accumulation_steps: int = Field(ge=1)
    warmup_steps: int = Field(ge=0)
    lr_scheduler_type: Literal["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_min_lr"]
    min_lr_rate: float | None = Field(None, ge=0, le=1)
    weight_decay: float = Field(ge=0)
    max_grad_norm: float = Field(ge=0)  # 0 turns clipping off
    bf16: bool
    gradient_checkpointing: bool
    use_cpu: bool
    logging_steps: int = Field(ge=1)
    save_steps: int = Field(ge=1)
    save_total_limit: int | None = Field(None, ge=1)
    deepspeed: InputPath | None = None
    dataloader_num_workers: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "OptimSection":
        if (self.num_train_epochs is None) == (self.max_steps is None):
            raise ValueError("set exactly one of optim.num_train_epochs and optim.max_steps")
        if (self.lr_scheduler_type == "cosine_with_min_lr") != (self.min_lr_rate is not None):
            raise ValueError("optim.min_lr_rate is required by, and only read by, lr_scheduler_type cosine_with_min_lr")
        for name, value in (self.model_extra or {}).items():
            problem = self._extra_problem(name, value)
            if problem:
                raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                    type=PydanticCustomError("optim_field", problem), loc=(name,), input=value)])
        return self

    @classmethod
    def _extra_problem(cls, name: str, value: object) -> str | None:
        # What is wrong with an extra key (a TRL pass-through), in words; None when it is fine.
        if name in cls.owners:
            return f"optim cannot set {name!r}: {cls.owners[name]}"
        if cls.trl_config is None:
            return f"unknown key {name!r}"
        hints = _field_types(cls.trl_config)
        if name not in hints:
            candidates = [n for n in (*cls.model_fields, *hints) if n not in cls.owners]
            close = difflib.get_close_matches(name, candidates, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"unknown key {name!r}: not an optim field nor a field of trl's {cls.trl_config.__name__}{hint}"
        return _type_problem(cls.trl_config.__name__, name, hints[name], value)


def optim_section(trl_config: type, owners: dict[str, str], *, module: str) -> type[OptimSection]:
    """The ``optim:`` schema of a stage whose Trainer is configured by ``trl_config``.

    Args:
        trl_config: the TRL dataclass (``SFTConfig``, ``DPOConfig``, ``RewardConfig``, ``GRPOConfig``)
            extra keys are passed to.
        owners: ``{field: reason}`` for the fields of ``trl_config`` the stage sets from its other
            sections (``{"max_length": "set it with data.max_length"}``); :data:`COMMON_OWNERS` is added.
        module: the stage module, which binds the class as ``OptimSection``: pickle finds it there
            (``datasets`` hashes functions that close over a stage config by pickling them).

    Returns:
        An :class:`OptimSection` subclass checking extra keys against ``trl_config``.
    """
    unknown = sorted(set(owners) - set(_field_types(trl_config)))
    if unknown:  # a typo here would silently leave a field open to optim
        raise ValueError(f"owners name fields {trl_config.__name__} does not have: {', '.join(unknown)}")
    namespace = {"__module__": module, "__qualname__": "OptimSection", "trl_config": trl_config,
                 "__doc__": f"{OptimSection.__doc__}\n    Extra keys: fields of trl.{trl_config.__name__}.",
                 "owners": {**COMMON_OWNERS, **owners}}
    return type("OptimSection", (OptimSection,), namespace)


def section_owners(section: str, model: type[BaseModel], trl_config: type) -> dict[str, str]:
    """``{field: "set it with <section>.<field>"}`` for every field of ``model`` that ``trl_config`` also
    has (the stage passes those from its own section, e.g. ``grpo.beta``)."""
    fields = _field_types(trl_config)
    return {name: f"set it with {section}.{name}" for name in model.model_fields if name in fields}


def trl_keywords(optim: OptimSection) -> dict:
    """The extra keys of an ``optim:`` section: keyword arguments for the stage's TRL config."""
    return dict(optim.model_extra or {})


@functools.cache
def _field_types(trl_config: type) -> dict[str, object]:
    hints = typing.get_type_hints(trl_config)
    return {f.name: hints[f.name] for f in dataclasses.fields(trl_config) if f.init}


@functools.cache
def _adapter(annotation: object) -> TypeAdapter:
    # Strict: YAML already gives typed values, so "1" for an int or 1 for a bool is a mistake, not a cast.
    return TypeAdapter(annotation, config=ConfigDict(strict=True, arbitrary_types_allowed=True))


def _type_problem(config_name: str, name: str, annotation: object, value: object) -> str | None:
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    enums = [m for m in members if isinstance(m, type) and issubclass(m, enum.Enum)]
    if enums and isinstance(value, str):
        allowed = [e.value for e in enums[0]]
        if value not in allowed:
            close = difflib.get_close_matches(value, allowed, n=1)
            return (f"{value!r} is not a value of {config_name}.{name} ({enums[0].__name__})"
                    + (f"; did you mean {close[0]!r}?" if close else f": one of {', '.join(allowed)}"))
        return None
    try:
        _adapter(annotation).validate_python(value)
    except ValidationError:
        shown = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        return f"{config_name}.{name} takes {shown}, not {type(value).__name__}"
    return None
