"""GRPO with verifiable rewards, optionally in a tool-calling environment (WiNGPT-3.0 stages S2-S4).

Data -> model -> trainer -> train -> save: prompts from ``grpo/train.jsonl`` (``prompt`` messages plus
columns such as ``item`` that rewards read) are sampled ``num_generations`` times each; every reward
named in ``rewards:`` (a key of ``medreasoner.rewards.REWARDS``, bound to its ``params``) scores each
completion, the weighted sum is normalised within the group (``scale_rewards``), and TRL's
``GRPOTrainer`` takes the clipped policy-gradient step (``loss_type``), with a KL penalty to the
starting model when ``beta > 0`` (the reference is reloaded from ``model.path``). TRL logs
``rewards/<name>/mean`` and ``/std`` for each reward; they reach metrics.jsonl through ctx.log.

With an ``environment:`` section each rollout gets its own environment instance (TRL's
``environment_factory``): its public methods are tools the model calls during generation, ``reset``
receives the dataset row, and a ``get_reward`` method adds the environment's own reward.

Differences from WiNGPT-3.0 (arXiv 2505.17387, https://arxiv.org/abs/2505.17387), sec. 4.5: the
paper uses verl with 128 prompts x 12 rollouts per step and does not state lr, KL, clip or lengths;
its S3/S4 reward is a generative verifier model (``verifier_model_reward``), S2 adds a cosine length
penalty over 8K tokens (``length_penalty_reward``). TRL's default ``loss_type: dapo`` normalises by
the number of tokens in the batch, while the paper writes the per-sequence GRPO mean (``loss_type: grpo``).
Prompts longer than ``max_prompt_length`` tokens are dropped (TRL 1.16 has no prompt truncation) and
counted in the returned metrics.

Launch (1 GPU / CPU, and multi-GPU with ZeRO-3)::

    medreasoner run recipe.yaml
    accelerate launch --config_file configs/accelerate/zero3.yaml -m medreasoner.cli run recipe.yaml
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from trl import GRPOConfig, GRPOTrainer

from medreasoner.model import load_tokenizer
from medreasoner.recipe_inputs import InputPath
from medreasoner.rewards import bind_reward
from medreasoner.stages.context import StageContext
from medreasoner.stages.datasets import load_prompts
from medreasoner.stages.peft_section import ChatModelSection, PeftSection, load_trainable_model, lora_config
from medreasoner.stages.template_probe import use_chat_template
from medreasoner.templates import RESPONSE_TEMPLATES, TEMPLATES
from medreasoner.stages.optim import optim_section, section_owners
from medreasoner.stages.trainer_logging import attach_trackers
from medreasoner.stages.training import MetricsCallback, save_final_model, train, training_arguments

# GRPOConfig fields (same names in the grpo: section) each vLLM mode reads; TRL ignores the other mode's.
VLLM_MODE_FIELDS = {
    "colocate": ("vllm_gpu_memory_utilization", "vllm_tensor_parallel_size", "vllm_max_model_length",
                 "vllm_enable_sleep_mode"),
    "server": ("vllm_server_host", "vllm_server_port"),
}

# environment name -> (module, attribute): ``attribute(**params)`` returns TRL's zero-argument factory.
ENVIRONMENTS = {"diagnostic_chain": ("medreasoner.sim.environment", "environment_factory")}


class RewardEntry(BaseModel):
    """One reward: ``name`` (a key of ``medreasoner.rewards.REWARDS``), its ``weight`` and ``params``."""

    model_config = ConfigDict(extra="forbid")
    name: str
    weight: float
    params: dict[str, Any]

    @model_validator(mode="after")
    def _bind(self) -> "RewardEntry":
        bind_reward(self.name, self.params)  # unknown names or parameters fail when the recipe loads
        return self


class EnvironmentSection(BaseModel):
    """Tool-calling environment: ``name`` (a key of :data:`ENVIRONMENTS`), factory ``params``, and the
    most tool calls per rollout."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["diagnostic_chain"]
    params: dict[str, Any]
    max_tool_calling_iterations: int = Field(ge=1)


class DataSection(BaseModel):
    """Attributes: ``train``: prompts JSONL (e.g. ``${world}/grpo/train.jsonl``); ``max_prompt_length``:
    longest prompt in tokens after the chat template, before any environment observation or tool
    schema is added (longer rows are dropped and counted); ``limit``: train on the file's first N rows
    only (null = every row), e.g. to check that GRPO can fit a handful of prompts at all."""

    model_config = ConfigDict(extra="forbid")
    train: InputPath
    max_prompt_length: int = Field(ge=1)
    limit: int | None = Field(ge=1)  # required: null = every row; 0 would silently train on nothing


class GrpoSection(BaseModel):
    """The ``grpo:`` section.

    Attributes:
        num_generations: group size G (completions per prompt; WiNGPT: 12).
        beta: KL coefficient to the starting model (0 = no reference model).
        epsilon: PPO clip range ε (0.2, the PPO/DeepSeekMath value).
        temperature: sampling temperature of the rollouts.
        max_completion_length: most generated tokens per completion.
        steps_per_generation: optimizer micro-steps that reuse one generation batch.
        loss_type: TRL loss aggregation: ``grpo`` (per-sequence mean, DeepSeekMath), ``dapo``, ``dr_grpo``, ``bnpo``.
        scale_rewards: advantage normalisation by the ``group`` std, the ``batch`` std, or ``none``.
        use_vllm: generate with vLLM (GPU, ``pip install medreasoner[vllm]``); otherwise HF generate.
        vllm_mode: ``colocate`` or ``server``; required by, and only read with, ``use_vllm: true``.
        vllm_gpu_memory_utilization: colocate: fraction (0, 1] of each GPU's total memory vLLM may take
            for weights, activations and KV cache; the rest is left to training.
        vllm_tensor_parallel_size: colocate: GPUs that share one vLLM engine (must divide the number of
            training processes; TRL checks it at start).
        vllm_max_model_length: colocate: vLLM context in tokens, at least ``data.max_prompt_length +
            max_completion_length``; it also bounds the KV cache vLLM must be able to hold for one sequence.
        vllm_enable_sleep_mode: colocate: free vLLM's weights and KV cache during the optimizer step
            (more memory for training, a weight reload per generation).
        vllm_server_host, vllm_server_port: server: where ``trl vllm-serve`` listens (HTTP port, 1-65535).
    """

    model_config = ConfigDict(extra="forbid")
    num_generations: int = Field(ge=2)  # advantages are relative to the group: one completion has none
    beta: float = Field(ge=0)
    epsilon: float = Field(gt=0)
    temperature: float = Field(gt=0)  # rollouts sample; 0 is not a sampling temperature
    max_completion_length: int = Field(ge=1)
    steps_per_generation: int = Field(ge=1)
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"]
    scale_rewards: Literal["group", "batch", "none"]
    use_vllm: bool
    vllm_mode: Literal["colocate", "server"] | None = None
    # Absent (None) = not read: each field below is required by its vLLM mode and refused otherwise
    # (VLLM_MODE_FIELDS), so no TRL default is used silently.
    vllm_gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    vllm_tensor_parallel_size: int | None = Field(None, ge=1)
    vllm_max_model_length: int | None = Field(None, ge=1)
    vllm_enable_sleep_mode: bool | None = None
    vllm_server_host: str | None = Field(None, min_length=1)
    vllm_server_port: int | None = Field(None, ge=1, le=65535)

    @model_validator(mode="after")
    def _check(self) -> "GrpoSection":
        if self.use_vllm != (self.vllm_mode is not None):
            raise ValueError("grpo.vllm_mode is required by, and only read with, grpo.use_vllm: true")
        for mode, names in VLLM_MODE_FIELDS.items():
            for name in names:
                value = getattr(self, name)
                if self.vllm_mode == mode and value is None:
                    _fail((name,), f"grpo.{name} is required with vllm_mode: {mode}", self.model_dump(exclude_none=True))
                if self.vllm_mode != mode and value is not None:
                    _fail((name,), f"grpo.{name} is only read with vllm_mode: {mode} "
                          f"(vllm_mode here: {self.vllm_mode}); remove it", value)
        return self


# optim: takes any GRPOConfig field except those run() sets from data:, grpo:, rewards: and environment:.
OptimSection = optim_section(GRPOConfig, {**section_owners("data", DataSection, GRPOConfig),
                                          **section_owners("grpo", GrpoSection, GRPOConfig),
                                          "reward_weights": "set it with rewards[].weight",
                                          "generation_batch_size": "set by grpo.steps_per_generation (TRL "
                                                                   "takes one of the two)",
                                          "max_tool_calling_iterations":
                                              "set it with environment.max_tool_calling_iterations",
                                          "eval_strategy": "grpo has no evaluation data"}, module=__name__)


class Config(BaseModel):
    """``kind: grpo`` stage configuration (``peft`` omitted = full training; ``environment`` optional)."""

    model_config = ConfigDict(extra="forbid")
    model: ChatModelSection
    data: DataSection
    grpo: GrpoSection
    rewards: list[RewardEntry]
    environment: EnvironmentSection | None = None
    optim: OptimSection
    peft: PeftSection | None = None

    @model_validator(mode="after")
    def _check(self) -> "Config":
        # TRL checks these only when the trainer is built (after the model has loaded); checking them
        # here lets `validate` reject them. TRL's generation batch is per_device_train_batch_size x
        # processes x steps_per_generation and must hold whole groups; divisibility on one process
        # implies it on any number of processes.
        batch = self.optim.per_device_train_batch_size * self.grpo.steps_per_generation
        if batch % self.grpo.num_generations:
            _fail(("grpo", "num_generations"), f"num_generations ({self.grpo.num_generations}) must divide "
                  f"optim.per_device_train_batch_size x grpo.steps_per_generation ({batch}): TRL's "
                  "generation batch holds whole groups of completions", self.grpo.num_generations)
        for index, reward in enumerate(self.rewards):
            budget, maximum = reward.params.get("budget_tokens"), reward.params.get("max_tokens")
            if isinstance(budget, int) and isinstance(maximum, int) and budget >= maximum:
                _fail(("rewards", index, "params", "budget_tokens"), f"budget_tokens ({budget}) must be below "
                      f"max_tokens ({maximum}): the length penalty grows between the two", budget)
        if self.environment is not None and self.model.chat_template in TEMPLATES \
                and self.model.chat_template not in RESPONSE_TEMPLATES:
            _fail(("model", "chat_template"), f"{self.model.chat_template} renders no tool calls, which the "
                  f"environment needs; use one of {', '.join(RESPONSE_TEMPLATES)}", self.model.chat_template)
        self._check_vllm()
        return self

    def _check_vllm(self) -> None:
        grpo = self.grpo
        needed = self.data.max_prompt_length + grpo.max_completion_length
        if grpo.vllm_max_model_length is not None and grpo.vllm_max_model_length < needed:
            _fail(("grpo", "vllm_max_model_length"), f"vllm_max_model_length ({grpo.vllm_max_model_length}) must "
                  f"be at least data.max_prompt_length + grpo.max_completion_length ({needed})",
                  grpo.vllm_max_model_length)
        if grpo.vllm_server_port is None:
            return
        # TRL's vLLM server and a judge served with `vllm serve` both default to port 8000; host names cannot
        # tell whether two URLs are one machine, so any equal port is refused.
        for index, reward in enumerate(self.rewards):
            for key, value in reward.params.items():
                if key.endswith("endpoint") and isinstance(value, str) and _url_port(value) == grpo.vllm_server_port:
                    _fail(("grpo", "vllm_server_port"), f"vllm_server_port ({grpo.vllm_server_port}) is the port of "
                          f"rewards[{index}].params.{key} ({value}): the rollout server and the judge need "
                          "different ports", grpo.vllm_server_port)


def _url_port(url: str) -> int | None:
    # The TCP port a URL names, or its scheme's default; None for a URL without one (the reward reports it).
    parts = urlsplit(url)
    try:
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a malformed port such as ':99999'
        return None


def _fail(loc: tuple, message: str, value: object) -> None:
    # A ValidationError with a location, so the recipe error names the exact field and its line.
    raise ValidationError.from_exception_data("Config", [InitErrorDetails(
        type=PydanticCustomError("value_error", message), loc=loc, input=value)])


def environment_factory(section: EnvironmentSection):
    """The zero-argument callable TRL calls once per rollout to create an environment instance."""
    module_name, attribute = ENVIRONMENTS[section.name]
    if importlib.util.find_spec(module_name) is None:
        raise ValueError(f"environment {section.name!r} needs {module_name}, which is not installed")
    return getattr(importlib.import_module(module_name), attribute)(**section.params)


def _prompt_length(tokenizer, prompt: list[dict]) -> int:
    return len(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])


def training_prompts(data: DataSection, tokenizer, cache_dir: Path) -> tuple[Any, int]:
    """The prompts GRPO trains on: the first ``data.limit`` rows of ``data.train`` (every row when null),
    less those longer than ``data.max_prompt_length`` tokens; returns ``(dataset, number dropped)``."""
    dataset = load_prompts(data.train, required_columns=("prompt",), cache_dir=cache_dir)
    if data.limit is not None:
        dataset = dataset.select(range(min(data.limit, len(dataset))))
    num_prompts = len(dataset)
    dataset = dataset.filter(lambda row: _prompt_length(tokenizer, row["prompt"]) <= data.max_prompt_length)
    if len(dataset) == 0:
        raise ValueError(f"{data.train}: every prompt is longer than data.max_prompt_length")
    return dataset, num_prompts - len(dataset)


def vllm_arguments(section: GrpoSection) -> dict:
    """GRPOConfig keywords for the vLLM fields the section's mode reads; ``{}`` with ``use_vllm: false``."""
    if not section.use_vllm:
        return {}
    return {name: getattr(section, name) for name in ("vllm_mode", *VLLM_MODE_FIELDS[section.vllm_mode])}


def run(config: Config, ctx: StageContext) -> dict:
    """GRPO-train ``config.model`` on the prompts; save the merged model at ``ctx.out_dir``."""
    if config.grpo.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ValueError("grpo.use_vllm: true needs vLLM, which is not installed (GPU: pip install "
                         "'medreasoner[vllm]'); or set grpo.use_vllm: false to generate with HF generate")
    tokenizer = load_tokenizer(config.model.path, padding_side="left")  # generation pads on the left
    use_chat_template(tokenizer, config.model.chat_template, stage_dir=ctx.out_dir, trainer="grpo",
                      tools=config.environment is not None)
    dataset, dropped = training_prompts(config.data, tokenizer, cache_dir=ctx.out_dir / "dataset_cache")

    vllm_kwargs = vllm_arguments(config.grpo)
    args = GRPOConfig(
        **training_arguments(config.optim, ctx),
        num_generations=config.grpo.num_generations,
        beta=config.grpo.beta,
        epsilon=config.grpo.epsilon,
        temperature=config.grpo.temperature,
        max_completion_length=config.grpo.max_completion_length,
        steps_per_generation=config.grpo.steps_per_generation,
        loss_type=config.grpo.loss_type,
        scale_rewards=config.grpo.scale_rewards,
        use_vllm=config.grpo.use_vllm,
        reward_weights=[entry.weight for entry in config.rewards],
        **vllm_kwargs,
        **({"max_tool_calling_iterations": config.environment.max_tool_calling_iterations}
           if config.environment else {}),
    )
    model = load_trainable_model(config.model, config.peft)

    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[bind_reward(entry.name, entry.params) for entry in config.rewards],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(config.peft, task_type="CAUSAL_LM") if config.peft else None,
        environment_factory=environment_factory(config.environment) if config.environment else None,
        callbacks=[MetricsCallback(ctx)],
    )
    attach_trackers(trainer, ctx, config)  # with optim.log_completions: completion samples in TensorBoard
    metrics = train(trainer, ctx)
    metrics["num_prompts"] = len(dataset)
    metrics["num_prompts_dropped_too_long"] = dropped
    save_final_model(trainer, tokenizer, ctx, config, metrics=metrics)
    return metrics
