"""Local Hugging Face backend: batched ``model.generate`` with left padding and length-sorted batches.

Prompts are sorted by token length (longest first, so an out-of-memory batch shows up at once) and
cut into batches of ``batch_size``; results go back in the caller's order. Left padding keeps every
row's last prompt token at the end of the batch, where ``generate`` appends.

Thinking budget (``settings.thinking_budget = N``): the reply is opened with ``<think>\\n`` when the
chat template has not already opened it; phase 1 generates at most N tokens and stops at ``</think>``
or end of sequence; a row still thinking after N tokens gets ``\\n</think>\\n\\n`` appended (forced
close); phase 2 continues every row that has not ended for up to ``max_new_tokens - N`` tokens, so
the model always gets to write an answer. The recorded text contains the whole think block.
"""

from __future__ import annotations

import time

import torch
from transformers import GenerationConfig

from medreasoner.eval.generation import BatchCallback, Completion, GenerationSettings, Prompt
from medreasoner.think import THINK_CLOSE, THINK_OPEN
from medreasoner.model import load_model, load_tokenizer

FORCED_CLOSE = f"\n{THINK_CLOSE}\n\n"
DTYPES = ("float32", "bfloat16", "float16")


class HFBackend:
    """Generate with a local causal LM.

    Args:
        model_path: Hugging Face model directory (or hub id when online).
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU) or one of :data:`DTYPES`.
    """

    name = "hf"

    def __init__(self, model_path: str, *, dtype: str):
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = ("bfloat16" if self.device == "cuda" else "float32") if dtype == "auto" else dtype
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose auto or one of {DTYPES}")
        self.model_path = str(model_path)
        self.tokenizer = load_tokenizer(model_path, padding_side="left")
        self.model = load_model(model_path, dtype=self.dtype).to(self.device).eval()
        self.eos_ids = self._eos_ids()

    def describe(self) -> dict:
        """Backend facts recorded in results.json."""
        return {"backend": self.name, "model": self.model_path, "dtype": self.dtype, "device": self.device,
                "context_length": getattr(self.model.config, "max_position_embeddings", None)}

    def _eos_ids(self) -> list[int]:
        configured = self.model.generation_config.eos_token_id
        ids = configured if isinstance(configured, list) else [configured]
        return sorted({i for i in [*ids, self.tokenizer.eos_token_id] if i is not None})

    def prompt_text(self, prompt: Prompt) -> str:
        """The exact string the model sees (chat template applied for chat prompts)."""
        if prompt.style == "chat":
            return self.tokenizer.apply_chat_template(list(prompt.messages), tokenize=False, add_generation_prompt=True)
        return prompt.text

    def encode(self, prompt: Prompt) -> list[int]:
        """Token ids of :meth:`prompt_text` (no extra special tokens: the template has them)."""
        return self.tokenizer(self.prompt_text(prompt), add_special_tokens=False)["input_ids"]

    def generate(self, prompts: list[Prompt], settings: GenerationSettings,
                 on_batch: BatchCallback | None = None) -> list[Completion]:
        """Completions for ``prompts`` in their order; ``on_batch`` is called after each batch."""
        torch.manual_seed(settings.seed)
        encoded = [self.encode(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        results: list[Completion | None] = [None] * len(prompts)
        for start in range(0, len(order), settings.batch_size):
            indices = order[start:start + settings.batch_size]
            began = time.perf_counter()
            rows = self._generate_rows([encoded[i] for i in indices], settings)
            latency = time.perf_counter() - began
            completions = [Completion(text, prompt_tokens, completion_tokens, latency, finish)
                           for text, prompt_tokens, completion_tokens, finish in rows]
            for index, completion in zip(indices, completions):
                results[index] = completion
            if on_batch is not None:
                on_batch(indices, completions)
        return results

    def _generate_rows(self, prompts: list[list[int]], settings: GenerationSettings) -> list[tuple]:
        """(text, prompt_tokens, completion_tokens, finish_reason) per prompt of one batch."""
        if settings.thinking_budget is None:
            generated = self._run(prompts, settings.max_new_tokens, settings, self.eos_ids)
            return [self._row(len(p), [], g) for p, g in zip(prompts, generated)]
        close_id = self.tokenizer.convert_tokens_to_ids(THINK_CLOSE)
        if close_id is None or close_id == self.tokenizer.unk_token_id:
            raise ValueError(f"--thinking-budget needs a tokenizer with a single {THINK_CLOSE} token")
        prefills = [self._think_prefill(p) for p in prompts]
        starts = [p + f for p, f in zip(prompts, prefills)]
        phase1 = self._run(starts, settings.thinking_budget, settings, [*self.eos_ids, close_id])
        forced_close = self.tokenizer(FORCED_CLOSE, add_special_tokens=False)["input_ids"]
        continued = []
        for row in phase1:
            ended = bool(row) and row[-1] in self.eos_ids
            closed = bool(row) and row[-1] == close_id
            continued.append(None if ended else row + ([] if closed else forced_close))
        todo = [i for i, row in enumerate(continued) if row is not None]
        phase2 = self._run([starts[i] + continued[i] for i in todo], settings.max_new_tokens - settings.thinking_budget,
                           settings, self.eos_ids) if todo else []
        answers = dict(zip(todo, phase2))
        rows = []
        for i, prompt in enumerate(prompts):
            tokens = phase1[i] if continued[i] is None else continued[i] + answers[i]
            rows.append(self._row(len(prompt), prefills[i], tokens))
        return rows

    def _think_prefill(self, prompt: list[int]) -> list[int]:
        """``<think>\\n`` tokens unless the prompt already ends inside an opened think block."""
        text = self.tokenizer.decode(prompt[-8:], skip_special_tokens=False)
        if text.rstrip().endswith(THINK_OPEN):
            return []
        return self.tokenizer(THINK_OPEN + "\n", add_special_tokens=False)["input_ids"]

    def _row(self, prompt_tokens: int, prefill: list[int], generated: list[int]) -> tuple:
        finish = "stop" if generated and generated[-1] in self.eos_ids else "length"
        visible = generated[:-1] if finish == "stop" else generated
        text = self.tokenizer.decode(prefill + visible, skip_special_tokens=False)
        return text, prompt_tokens + len(prefill), len(generated), finish

    @torch.inference_mode()
    def _run(self, prompts: list[list[int]], max_new_tokens: int, settings: GenerationSettings,
             stop_ids: list[int]) -> list[list[int]]:
        """One left-padded ``generate`` call; each row cut after its first stop token."""
        batch = self.tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt").to(self.device)
        sample = settings.temperature > 0
        # A full GenerationConfig, so a checkpoint's own sampling defaults (top_k, top_p, repetition
        # penalty) never leak into the run: what results.json records is all that was applied.
        config = GenerationConfig(
            max_new_tokens=max_new_tokens, do_sample=sample, temperature=settings.temperature if sample else None,
            top_p=settings.top_p if sample else None, top_k=0 if sample else None, eos_token_id=stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        output = self.model.generate(**batch, generation_config=config)
        new_tokens = output[:, batch["input_ids"].shape[1]:].tolist()
        rows = []
        for row in new_tokens:
            stop_at = next((k for k, token in enumerate(row) if token in stop_ids), None)
            rows.append(row if stop_at is None else row[:stop_at + 1])
        return rows
