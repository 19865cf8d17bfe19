"""``medreasoner serve``: an OpenAI-compatible HTTP API for a local checkpoint, on FastAPI and uvicorn.

Routes: ``GET /health`` (no key needed), ``GET /v1/models``, ``GET /v1/models/{id}``,
``POST /v1/chat/completions`` and ``POST /v1/completions`` (both with ``stream``, ``n``, ``stop``,
``temperature``, ``top_p``, ``seed``, ``max_tokens``). Requests become rows of the batching engine
(:mod:`.server_engine`): requests that arrive together are generated in one batch. Requests are
validated by :mod:`.server_schema` (unsupported parameters are refused with 400) and answered by
:mod:`.server_responses`. Greedy replies equal ``medreasoner eval --model`` replies: the same
model, chat template, greedy ``GenerationConfig`` and decoding as the HF eval backend.

Why not ``transformers serve`` (transformers 5.24, ``transformers/cli/serving/``): without
continuous batching it generates one request at a time on one thread; its continuous batching
takes the first request's generation config for every request; it ignores ``n``, ``logprobs``,
``response_format`` and other unsupported fields with a log warning instead of an error; it loads
any requested model name (from the hub, which we cannot reach) instead of refusing it; it has no API
key; and ``max_tokens`` defaults to at least 1024 whatever the context. Its reasoning split and
SSE format are what this module also provides.

Errors are OpenAI-style bodies (``{"error": {"message", "type", "param", "code"}}``): 400 for a bad
body or parameter, 401 for a missing or wrong key, 404 for another model name or route, 408 for a
body that does not arrive within :data:`BODY_TIMEOUT_S`, 413 above :data:`MAX_BODY_BYTES`, 500 when
generation fails. Each request is logged in one access-log line (logger ``medreasoner.serve``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from jinja2 import TemplateError
from starlette.exceptions import HTTPException

from medreasoner.eval.backends.hf import HFBackend
from medreasoner.eval.generation import Prompt
from medreasoner.eval.server_engine import BatchEngine, Job, RowSpec
from medreasoner.eval.server_responses import ReplyShape, stream_reply, whole_reply
from medreasoner.eval.server_schema import APIError, ChatRequest, CompletionRequest, parse_chat, parse_completion
from medreasoner.think import THINK_OPEN

log = logging.getLogger("medreasoner.serve")
MAX_BODY_BYTES = 16 * 2**20  # a request body above 16 MiB is refused (413)
BODY_TIMEOUT_S = 30.0  # a body still incomplete after this many seconds is refused (408), not waited for
SHUTDOWN_GRACE_S = 5  # on Ctrl-C, open streams get this long to finish


class ModelServer:
    """Turns validated requests into engine jobs and their replies.

    Args:
        backend: the loaded HF backend (chat template, context length).
        engine: the batching engine generating with ``backend``'s model.
        model_name: the one model id this server answers to.
        api_key: the key clients must send as ``Authorization: Bearer <key>``; None = no key needed.
        default_max_tokens: generated-token cap of requests without ``max_tokens``; None = the rest
            of the context window (as vLLM does).
        split_reasoning: chat replies carry ``<think>`` reasoning as ``reasoning_content``.
    """

    def __init__(self, backend: HFBackend, engine: BatchEngine, *, model_name: str, api_key: str | None,
                 default_max_tokens: int | None, split_reasoning: bool):
        self.backend, self.engine = backend, engine
        self.model_name, self.api_key = model_name, api_key
        self.default_max_tokens = default_max_tokens
        self.split_reasoning = split_reasoning
        self.context_length: int | None = backend.describe()["context_length"]
        self.created = int(time.time())

    def model_card(self) -> dict:
        """The served model as ``/v1/models`` lists it."""
        return {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "medreasoner",
                "max_model_len": self.context_length}

    def check_model(self, name: str) -> None:
        """404 unless ``name`` is the served model."""
        if name != self.model_name:
            raise APIError(404, f"The model '{name}' does not exist; this server serves '{self.model_name}'",
                           param="model", code="model_not_found")

    async def chat(self, request: ChatRequest):
        """The response to a chat request (JSON, or an SSE stream)."""
        self.check_model(request.model)
        messages = tuple(message.for_template() for message in request.messages)
        try:
            text = self.backend.prompt_text(Prompt(style="chat", messages=messages))
        except TemplateError as error:
            raise APIError(400, f"the chat template rejected the messages: {error}", param="messages") from None
        ids = self.engine.encode(text)
        rows = self._rows([ids], request, param="messages")
        shape = ReplyShape(chat=True, model=self.model_name, prompt_tokens=(len(ids),),
                           split=self.split_reasoning, opened=text.rstrip().endswith(THINK_OPEN),
                           include_usage=request.include_usage)
        return await self._respond(rows, shape, request.stream)

    async def complete(self, request: CompletionRequest):
        """The response to a text-completion request (JSON, or an SSE stream)."""
        self.check_model(request.model)
        encoded = [self.engine.encode(prompt) for prompt in request.prompts]
        rows = self._rows(encoded, request, param="prompt")
        shape = ReplyShape(chat=False, model=self.model_name, prompt_tokens=tuple(map(len, encoded)),
                           split=False, opened=False, include_usage=request.include_usage)
        return await self._respond(rows, shape, request.stream)

    def _rows(self, encoded: list[list[int]], request: ChatRequest | CompletionRequest, *, param: str) -> list[RowSpec]:
        """``n`` rows per prompt, prompt-major (choice ``p * n + j``); seeds ``seed + j``."""
        if len(encoded) * request.n > self.engine.max_batch_rows:
            raise APIError(400, f"{len(encoded)} prompt(s) x n={request.n} is more choices than one batch holds "
                                f"({self.engine.max_batch_rows}, --max-batch-size)", param="n")
        rows = []
        for ids in encoded:
            cap = self._token_cap(len(ids), request.token_cap, param)
            for j in range(request.n):
                rows.append(RowSpec(prompt_ids=tuple(ids), max_new_tokens=cap, temperature=request.temperature,
                                    top_p=request.top_p, seed=None if request.seed is None else request.seed + j,
                                    stop=request.stop))
        return rows

    def _token_cap(self, prompt_tokens: int, requested: int | None, param: str) -> int:
        """The generated-token cap: the request's, else the default, never past the context window."""
        if self.context_length is None:
            cap = requested or self.default_max_tokens
            if cap is None:
                raise APIError(400, "the model's context length is unknown: send max_tokens", param="max_tokens")
            return cap
        room = self.context_length - prompt_tokens
        if room < 1:
            raise APIError(400, f"the prompt has {prompt_tokens} tokens; the model's context is {self.context_length} "
                                "tokens, which leaves no room to generate", param=param,
                           code="context_length_exceeded")
        return min(requested or self.default_max_tokens or room, room)

    async def _respond(self, rows: list[RowSpec], shape: ReplyShape, stream: bool):
        job = Job(rows, stream=stream, loop=asyncio.get_running_loop())
        try:
            self.engine.submit(job)
        except RuntimeError as error:
            raise APIError(503, str(error), kind="server_error") from None
        if stream:
            return StreamingResponse(stream_reply(job, shape), media_type="text/event-stream")
        try:
            return JSONResponse(await whole_reply(job, shape))
        finally:
            job.cancelled = True  # no effect once every row is done; frees the rows of an abandoned request


async def read_json(request: Request) -> dict:
    """The request body as a JSON object: 400 (not JSON / not an object), 408 (too slow), 413 (too large)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise APIError(413, f"the request body is over {MAX_BODY_BYTES} bytes")

    async def receive() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise APIError(413, f"the request body is over {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        raw = await asyncio.wait_for(receive(), BODY_TIMEOUT_S)
    except TimeoutError:
        raise APIError(408, f"the request body did not arrive within {BODY_TIMEOUT_S:g} s") from None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise APIError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    return body


class AccessLog:
    """ASGI middleware: one log line per request when its response has been sent (streams included).

    ``127.0.0.1:50412 "POST /v1/chat/completions" 200 0.153s`` (``client-gone`` if the client left).
    """

    def __init__(self, app, logger: logging.Logger):
        self.app, self.logger = app, logger

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status, finished = time.perf_counter(), [0], [False]

        async def send_and_watch(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished[0] = True

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            client = scope.get("client") or ("-", 0)
            self.logger.info('%s:%s "%s %s" %s %.3fs%s', client[0], client[1], scope["method"], scope["path"],
                             status[0] or 500, time.perf_counter() - began, "" if finished[0] else " client-gone")


def build_app(server: ModelServer) -> FastAPI:
    """The FastAPI application of ``server``; closing it (lifespan end) stops the engine."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await asyncio.to_thread(server.engine.close)

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(AccessLog, logger=log)

    async def require_key(request: Request) -> None:
        if server.api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), server.api_key.encode()):
            raise APIError(401, "Incorrect or missing API key: send 'Authorization: Bearer <key>'",
                           code="invalid_api_key")

    @app.exception_handler(APIError)
    async def api_error(request: Request, error: APIError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        kind = "not_found_error" if error.status_code == 404 else "invalid_request_error"
        return JSONResponse(APIError(error.status_code, f"{error.detail}: {request.method} {request.url.path}",
                                     kind=kind).body(), status_code=error.status_code)

    @app.get("/health")
    async def health() -> JSONResponse:
        if not server.engine.alive:
            return JSONResponse({"status": "unhealthy", "reason": "the generation thread stopped"}, status_code=503)
        batches = server.engine.batch_rows
        return JSONResponse({"status": "ok", "model": server.model_name, "batches": len(batches),
                             "largest_batch_rows": max(batches, default=0)})

    @app.get("/v1/models", dependencies=[Depends(require_key)])
    async def models() -> dict:
        return {"object": "list", "data": [server.model_card()]}

    @app.get("/v1/models/{model_id:path}", dependencies=[Depends(require_key)])
    async def model(model_id: str) -> dict:
        server.check_model(model_id)
        return server.model_card()

    @app.post("/v1/chat/completions", dependencies=[Depends(require_key)])
    async def chat_completions(request: Request):
        return await server.chat(parse_chat(await read_json(request)))

    @app.post("/v1/completions", dependencies=[Depends(require_key)])
    async def completions(request: Request):
        return await server.complete(parse_completion(await read_json(request)))

    return app


class ListenError(Exception):
    """The server cannot bind its address (raised before the model loads)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0 = a free port); :class:`ListenError` if impossible."""
    if not 0 <= port <= 65535:
        raise ListenError(f"port must be 0..65535, got {port}")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as error:  # port in use, privileged port, unknown host
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def base_url(sock: socket.socket) -> str:
    """``http://HOST:PORT/v1`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"


def _uvicorn(app: FastAPI) -> uvicorn.Server:
    # log_config=None: uvicorn leaves logging alone (the CLI configures it); its access log is off
    # because AccessLog writes one line per request with the duration.
    return uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False,
                                         timeout_graceful_shutdown=SHUTDOWN_GRACE_S))


def serve(model_path: str, *, host: str, port: int, model_name: str, dtype: str, api_key: str | None,
          default_max_tokens: int | None, max_batch_rows: int, batch_wait_s: float, split_reasoning: bool,
          announce: Callable[[str], None]) -> None:
    """Load the model and serve until interrupted; ``announce`` gets ``serving NAME on URL`` once it loaded.

    The port is bound before the model loads, so a port in use (or out of range) fails at once.
    Arguments are those of :class:`ModelServer` and :class:`~.server_engine.BatchEngine`.
    """
    sock = bind(host, port)
    try:
        app = make_app(HFBackend(model_path, dtype=dtype), model_name=model_name, api_key=api_key,
                       default_max_tokens=default_max_tokens, max_batch_rows=max_batch_rows,
                       batch_wait_s=batch_wait_s, split_reasoning=split_reasoning)
    except BaseException:
        sock.close()
        raise
    announce(f"serving {model_name} on {base_url(sock)}")
    _uvicorn(app).run(sockets=[sock])


def make_app(backend: HFBackend, *, model_name: str, api_key: str | None, default_max_tokens: int | None,
             max_batch_rows: int, batch_wait_s: float, split_reasoning: bool) -> FastAPI:
    """The application serving ``backend``'s model (starts its batching engine).

    Arguments are those of :class:`ModelServer` and :class:`~.server_engine.BatchEngine`.
    """
    engine = BatchEngine(backend, max_batch_rows=max_batch_rows, batch_wait_s=batch_wait_s)
    return build_app(ModelServer(backend, engine, model_name=model_name, api_key=api_key,
                                 default_max_tokens=default_max_tokens, split_reasoning=split_reasoning))


class BackgroundServer:
    """Serve ``app`` from a thread of this process on a real socket (tests, benchmarks); a context manager.

    Args:
        app: the application (:func:`build_app`).
        host: interface to bind.
        port: TCP port (0 = a free one).
    """

    def __init__(self, app: FastAPI, *, host: str, port: int):
        self.sock = bind(host, port)
        self.url = base_url(self.sock)
        self.server = _uvicorn(app)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the background server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
