"""Batched generation for ``medreasoner serve``: requests that arrive together share one ``generate`` call.

One worker thread owns the model. It takes the oldest queued request, then every request that
arrives within ``batch_wait_s`` (up to ``max_batch_rows`` rows; a request for ``n`` choices is ``n``
rows), and runs one left-padded ``model.generate`` over all of them. Every row keeps its own
settings inside that call:

* sampling (temperature, top-p, seed) is drawn per row by :class:`~.server_sampling.RowSampler`;
* end of sequence, ``max_tokens`` and stop strings end a row through :class:`RowTracker`, a stopping
  criterion with a per-row done mask: a finished row's reply goes back at once, and the batch stops
  when its last row is done;
* streamed rows get their new text after every step.

A row that streams or has stop strings follows its text as it grows: each step decodes a few
tokens (:class:`~.server_decode.IncrementalDecoder`) and looks for stop strings only where the new
text can complete one, so a reply costs time linear in its length. The final text of a row is its
tokens decoded whole (as the HF eval backend decodes), cut at a stop string.

This is static batching: a request arriving while a batch runs waits for the next batch. Replies
go back to the asyncio side as :class:`Delta` / :class:`Done` / :class:`Failed` events on the
request's :class:`Job`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

import torch
from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

from medreasoner.eval.backends.hf import HFBackend
from medreasoner.eval.reasoning import held_back
from medreasoner.eval.server_decode import IncrementalDecoder
from medreasoner.eval.server_sampling import RowSampler

log = logging.getLogger("medreasoner.serve")


@dataclass(frozen=True)
class RowSpec:
    """One generated choice.

    Attributes:
        prompt_ids: the prompt's token ids.
        max_new_tokens: generated-token cap (already clamped to the context).
        temperature: 0 = greedy.
        top_p: nucleus mass in (0, 1].
        seed: the row's sampling seed (None: a random one).
        stop: strings that end the reply (not included in it).
    """

    prompt_ids: tuple[int, ...]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stop: tuple[str, ...]


@dataclass(frozen=True)
class Delta:
    """New text of streamed row ``row`` (stop strings already cut)."""

    row: int
    text: str


@dataclass(frozen=True)
class Done:
    """Row ``row`` ended: its whole ``text``, generated tokens (end of sequence counted) and why."""

    row: int
    text: str
    completion_tokens: int
    finish_reason: str


@dataclass(frozen=True)
class Failed:
    """Generation failed for the whole request."""

    message: str


class Job:
    """One request's rows and the asyncio queue its events go back on.

    Args:
        rows: the request's rows (choice ``i`` is ``rows[i]``).
        stream: send :class:`Delta` events while generating.
        loop: the event loop that awaits ``events``.
    """

    def __init__(self, rows: list[RowSpec], *, stream: bool, loop: asyncio.AbstractEventLoop):
        self.rows = rows
        self.stream = stream
        self.loop = loop
        self.events: asyncio.Queue = asyncio.Queue()
        self.cancelled = False  # set by the HTTP side when the client left; its rows stop at the next step

    def post(self, event: Delta | Done | Failed) -> None:
        """Hand ``event`` to the event loop (called from the worker thread)."""
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:
            pass  # the loop is closed: the server is shutting down and nobody waits


class RowState:
    """One batch row while it generates: its tokens, text and whether it has ended."""

    def __init__(self, job: Job, index: int, spec: RowSpec, engine: BatchEngine):
        self.job, self.index, self.spec, self.engine = job, index, spec, engine
        self.temperature, self.top_p = spec.temperature, spec.top_p
        self.generator = None
        if spec.temperature > 0:
            self.generator = torch.Generator(device=engine.backend.device)
            if spec.seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(spec.seed)
        self.tokens: list[int] = []
        self.done = False
        # The text so far, followed only when streaming or stopping needs it.
        self.reader = IncrementalDecoder(engine.decode) if spec.stop or job.stream else None
        self.pieces: list[str] = []  # the text so far, in pieces (joined once, at a stop string)
        self.length = 0  # characters of the text so far
        # The last characters of the text, where a stop string could begin that the next piece ends.
        self.tail_size = max((len(stop) for stop in spec.stop), default=1) - 1
        self.tail = ""
        self.sent = 0  # characters already streamed
        self.unsent = ""  # text after them: it ends in a held-back partial stop string

    def push(self, token: int) -> None:
        """Take the row's next generated token; end the row when it should end."""
        if self.job.cancelled:
            self.done = True  # nobody reads the reply any more
            return
        if token in self.engine.eos_ids:
            self.finish("stop", self.engine.decode(self.tokens), len(self.tokens) + 1)
            return
        self.tokens.append(token)
        if self.reader is not None and self._grow(self.reader.push(token)):
            return
        if len(self.tokens) >= self.spec.max_new_tokens:
            self.finish("length", self.engine.decode(self.tokens), len(self.tokens))
        elif self.job.stream:
            self._send(self.unsent[:len(self.unsent) - held_back(self.unsent, self.spec.stop)])

    def _grow(self, piece: str) -> bool:
        """Add ``piece`` to the text; True when it completes a stop string (the row has then ended).

        No stop string lies within the earlier text (the row would have ended), so the first one
        ends in ``piece`` and begins in the tail before it.
        """
        if not piece:
            return False
        window = self.tail + piece
        hits = [at for at in (window.find(stop) for stop in self.spec.stop) if at != -1]
        if hits:
            end = self.length - len(self.tail) + min(hits)
            self.finish("stop", ("".join(self.pieces) + piece)[:end], len(self.tokens))
            return True
        if self.spec.stop:
            self.pieces.append(piece)
        self.length += len(piece)
        self.tail = window[-self.tail_size:] if self.tail_size else ""
        if self.job.stream:
            self.unsent += piece
        return False

    def finish(self, reason: str, text: str, completion_tokens: int) -> None:
        """End the row with ``text`` and tell its job."""
        self.done = True
        if self.job.stream:
            self._send(text[self.sent:])
        self.job.post(Done(self.index, text, completion_tokens, reason))

    def _send(self, new: str) -> None:
        """Stream ``new``, the text after the :attr:`sent` characters."""
        if new:
            self.job.post(Delta(self.index, new))
            self.sent += len(new)
            self.unsent = self.unsent[len(new):]


class RowTracker:
    """Stopping criterion: feeds each row its newest token and returns the per-row done mask."""

    def __init__(self, rows: list[RowState]):
        self.rows = rows

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        newest = input_ids[:, -1].tolist()
        for row, token in zip(self.rows, newest):
            if not row.done:
                row.push(token)
        return torch.tensor([row.done for row in self.rows], dtype=torch.bool, device=input_ids.device)


class BatchEngine:
    """The worker thread that batches and generates.

    Args:
        backend: the loaded HF backend (model, tokenizer, device, end-of-sequence ids).
        max_batch_rows: most rows in one ``generate`` call.
        batch_wait_s: how long the worker waits for more requests after the first one (seconds);
            a full batch starts at once.
    """

    def __init__(self, backend: HFBackend, *, max_batch_rows: int, batch_wait_s: float):
        if max_batch_rows < 1 or batch_wait_s < 0:
            raise ValueError(f"need max_batch_rows >= 1 and batch_wait_s >= 0, got {max_batch_rows}, {batch_wait_s}")
        self.backend = backend
        self.eos_ids = set(backend.eos_ids)
        self.max_batch_rows = max_batch_rows
        self.batch_wait_s = batch_wait_s
        # Fast tokenizers are not safe to call from two threads at once: the HTTP side encodes,
        # the worker decodes, both under this lock.
        self.tokenizer_lock = threading.Lock()
        self.batch_rows: deque[int] = deque(maxlen=10_000)  # rows of each batch run, newest last
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="medreasoner-serve-generate", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """The worker thread is running."""
        return self._thread.is_alive()

    def encode(self, text: str) -> list[int]:
        """Token ids of a rendered prompt (no special tokens added: the template has them)."""
        with self.tokenizer_lock:
            return self.backend.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, tokens: list[int]) -> str:
        """Text of generated tokens, special tokens kept (as the HF eval backend decodes)."""
        with self.tokenizer_lock:
            return self.backend.tokenizer.decode(tokens, skip_special_tokens=False)

    def submit(self, job: Job) -> None:
        """Queue ``job`` for the next batch."""
        if self._closed:
            raise RuntimeError("the generation engine is shut down")
        self._queue.put(job)

    def close(self) -> None:
        """Finish the running batch, fail what is still queued, stop the worker."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        carried: Job | None = None
        while True:
            job = carried or self._queue.get()
            carried = None
            if job is None:
                break
            jobs, rows = [job], len(job.rows)
            deadline = time.monotonic() + self.batch_wait_s
            stopping = False
            while rows < self.max_batch_rows:
                try:
                    more = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                if rows + len(more.rows) > self.max_batch_rows:
                    carried = more  # first in the next batch
                    break
                jobs.append(more)
                rows += len(more.rows)
            self._run([j for j in jobs if not j.cancelled])
            if stopping:
                break
        leftover = [carried] if carried else []
        while not self._queue.empty():
            leftover.append(self._queue.get_nowait())
        for job in leftover:
            if job is not None:
                job.post(Failed("the server is shutting down"))

    def _run(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        began = time.perf_counter()
        rows = [RowState(job, index, spec, self) for job in jobs for index, spec in enumerate(job.rows)]
        try:
            self._generate(rows)
        except Exception as error:  # a failed batch fails its requests, not the server
            log.exception("generation failed")
            for job in {id(row.job): row.job for row in rows if not row.done}.values():
                job.post(Failed(f"generation failed: {type(error).__name__}: {error}"))
            return
        for row in rows:  # generate() stops at the longest cap: every row has ended by then
            if not row.done:
                row.finish("length", self.decode(row.tokens), len(row.tokens))
        self.batch_rows.append(len(rows))
        log.info("batch: %d request(s), %d row(s), %d new tokens, %.3f s", len(jobs), len(rows),
                 sum(len(row.tokens) for row in rows), time.perf_counter() - began)

    @torch.inference_mode()
    def _generate(self, rows: list[RowState]) -> None:
        backend = self.backend
        batch = backend.tokenizer.pad({"input_ids": [list(row.spec.prompt_ids) for row in rows]}, padding=True,
                                      return_tensors="pt").to(backend.device)
        # The same complete, greedy GenerationConfig as the HF eval backend (so a checkpoint's own
        # sampling defaults never leak in); sampling happens per row in RowSampler.
        config = GenerationConfig(max_new_tokens=max(row.spec.max_new_tokens for row in rows), do_sample=False,
                                  eos_token_id=sorted(self.eos_ids), pad_token_id=backend.tokenizer.pad_token_id)
        backend.model.generate(**batch, generation_config=config,
                               logits_processor=LogitsProcessorList([RowSampler(rows)]),
                               stopping_criteria=StoppingCriteriaList([RowTracker(rows)]))
