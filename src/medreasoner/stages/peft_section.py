"""The ``model:`` and ``peft:`` recipe sections: which weights to start from and whether to train LoRA adapters.

LoRA (Hu et al. 2021, arXiv 2106.09685) trains low-rank adapters on the named linear layers; QLoRA
(Dettmers et al. 2023, arXiv 2305.14314) additionally loads the frozen base in 4-bit NF4 with double
quantisation and bf16 compute, the paper's settings. Quantisation needs bitsandbytes and a CUDA GPU.

Every stage saves a *merged* full model (adapters folded into the base weights), so the next stage,
``medreasoner eval`` and vLLM load it like any other checkpoint; the adapters are also kept in
``<out_dir>/adapter`` (see :func:`medreasoner.stages.training.save_final_model`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, BitsAndBytesConfig

from medreasoner.model import load_model
from medreasoner.recipe_inputs import InputPath
from medreasoner.templates import MODEL_TEMPLATE, TEMPLATES


class ModelSection(BaseModel):
    """Starting weights.

    Attributes:
        path: a local Hugging Face directory (e.g. ``${sft}``) or a hub id (needs internet).
        dtype: weight dtype at load time; ``float32`` for CPU tests, ``bfloat16`` on GPUs.
    """

    model_config = ConfigDict(extra="forbid")
    path: InputPath
    dtype: Literal["float32", "bfloat16", "float16"]


class ChatModelSection(ModelSection):
    """Starting weights of a stage that trains on conversations (sft, preference, reward_model, grpo).

    Attributes:
        chat_template: how conversations become text: ``model`` (the tokenizer's own template), a
            shipped template (a key of ``medreasoner.templates.TEMPLATES``, e.g. ``qwen2.5-think``), or
            a path to a ``.jinja`` file (relative to the working directory). The stage checks it with a
            probe conversation before the model loads and saves it with the checkpoint.
    """

    chat_template: str

    @field_validator("chat_template")
    @classmethod
    def _known(cls, value: str) -> str:
        if value == MODEL_TEMPLATE or value in TEMPLATES:
            return value
        if not value.endswith(".jinja"):
            raise ValueError(f"unknown chat template {value!r}: use {MODEL_TEMPLATE}, one of "
                             f"{', '.join(TEMPLATES)}, or a path to a .jinja file")
        if not Path(value).is_file():
            raise ValueError(f"chat template file {value!r} does not exist")
        return value


class PeftSection(BaseModel):
    """LoRA adapters (``peft:`` section; omit it for full fine-tuning).

    Attributes:
        r: adapter rank.
        lora_alpha: scaling numerator (the update is scaled by ``lora_alpha / r``).
        lora_dropout: dropout on the adapter input.
        target_modules: module names to adapt (e.g. ``[q_proj, v_proj]``) or ``"all-linear"``.
        load_in_4bit: QLoRA: quantise the frozen base to 4-bit NF4 (bitsandbytes + CUDA only).
    """

    model_config = ConfigDict(extra="forbid")
    r: int = Field(ge=1)
    lora_alpha: int = Field(ge=1)
    lora_dropout: float = Field(ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"]
    load_in_4bit: bool


def lora_config(peft: PeftSection, *, task_type: Literal["CAUSAL_LM", "SEQ_CLS"]):
    """Build the ``peft.LoraConfig`` for a section.

    A reward model's scalar head is freshly initialised, so for ``SEQ_CLS`` it is trained in full
    (``modules_to_save=["score"]``, the Qwen2/Llama head name) rather than left random.
    """
    from peft import LoraConfig

    return LoraConfig(
        r=peft.r,
        lora_alpha=peft.lora_alpha,
        lora_dropout=peft.lora_dropout,
        target_modules=peft.target_modules,
        task_type=task_type,
        modules_to_save=["score"] if task_type == "SEQ_CLS" else None,
    )


def _four_bit_config(dtype: str) -> BitsAndBytesConfig:
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ValueError("peft.load_in_4bit: true needs bitsandbytes (pip install bitsandbytes)")
    if not torch.cuda.is_available():
        raise ValueError("peft.load_in_4bit: true needs a CUDA GPU; set it to false for CPU runs")
    # NF4 + double quantisation + 16-bit compute: the QLoRA paper's configuration (arXiv 2305.14314, sec. 3).
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=getattr(torch, dtype if dtype != "float32" else "bfloat16"),
    )


def load_trainable_model(model: ModelSection, peft: PeftSection | None, *, num_labels: int | None = None):
    """Load the starting model from ``model.path`` (so ``config._name_or_path`` names a real directory,
    which DPO and GRPO need to rebuild their reference model).

    Args:
        num_labels: ``1`` loads a scalar reward model (``AutoModelForSequenceClassification``).
    """
    if peft is None or not peft.load_in_4bit:
        return load_model(model.path, dtype=model.dtype, num_labels=num_labels)
    from accelerate import PartialState

    # A quantised model cannot be moved after loading: place it on this process's GPU directly.
    kwargs = {"dtype": getattr(torch, model.dtype), "quantization_config": _four_bit_config(model.dtype),
              "device_map": {"": PartialState().local_process_index}}
    if num_labels is None:
        return AutoModelForCausalLM.from_pretrained(model.path, **kwargs)
    loaded = AutoModelForSequenceClassification.from_pretrained(model.path, num_labels=num_labels, **kwargs)
    if loaded.config.pad_token_id is None:
        loaded.config.pad_token_id = loaded.config.eos_token_id
    return loaded
