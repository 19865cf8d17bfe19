"""A small OpenAI-compatible server for a local Hugging Face model (stdlib ``http.server``).

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions`` (non-streaming,
``n = 1``). Requests are handled one at a time behind a lock (batch of 1): the point is to let any
OpenAI-API client (``medreasoner eval --endpoint``, lm-eval's ``local-chat-completions``, scripts)
talk to a checkpoint from a training run, not to be fast. Generation goes through the HF backend
with the same chat template, so greedy answers equal ``medreasoner eval --model`` answers.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from medreasoner.eval.backends.hf import HFBackend
from medreasoner.eval.generation import GenerationSettings, Prompt


class RequestError(ValueError):
    """A client error, answered with HTTP 400 and an OpenAI-style error body."""


def _number(body: dict, key: str, kind: type, default):
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and int(value) != value):
        raise RequestError(f"'{key}' must be a {kind.__name__}")
    return kind(value)


class ModelService:
    """Turns request bodies into completions with one locked HF backend.

    Args:
        backend: the loaded :class:`HFBackend`.
        model_name: the id reported by ``/v1/models`` and echoed in responses.
        default_max_tokens: used when a request gives no ``max_tokens``.
    """

    def __init__(self, backend: HFBackend, model_name: str, default_max_tokens: int):
        self.backend = backend
        self.model_name = model_name
        self.default_max_tokens = default_max_tokens
        self.lock = threading.Lock()

    def models(self) -> dict:
        """The ``/v1/models`` body."""
        return {"object": "list", "data": [{"id": self.model_name, "object": "model", "owned_by": "medreasoner"}]}

    def _settings(self, body: dict) -> GenerationSettings:
        if body.get("stream"):
            raise RequestError("streaming is not supported")
        if body.get("n", 1) != 1:
            raise RequestError("only n = 1 is supported")
        max_tokens = _number(body, "max_tokens", int, None) or _number(body, "max_completion_tokens", int,
                                                                       self.default_max_tokens)
        try:
            # OpenAI's default temperature is 1.0; a seed is optional there, 0 here.
            return GenerationSettings(max_new_tokens=max_tokens, temperature=_number(body, "temperature", float, 1.0),
                                      seed=_number(body, "seed", int, 0), thinking_budget=None, batch_size=1)
        except ValueError as error:
            raise RequestError(str(error)) from None

    def _generate(self, prompt: Prompt, settings: GenerationSettings):
        with self.lock:
            return self.backend.generate([prompt], settings)[0]

    def _envelope(self, kind: str, choice: dict, completion) -> dict:
        return {
            "id": f"{'chatcmpl' if kind == 'chat.completion' else 'cmpl'}-{uuid.uuid4().hex}", "object": kind,
            "created": int(time.time()), "model": self.model_name, "choices": [choice],
            "usage": {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
                      "total_tokens": completion.prompt_tokens + completion.completion_tokens},
        }

    def chat(self, body: dict) -> dict:
        """The ``/v1/chat/completions`` response body for request ``body``."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in messages):
            raise RequestError("'messages' must be a non-empty list of {role, content} objects with string content")
        settings = self._settings(body)
        prompt = Prompt(style="chat", messages=tuple({"role": m["role"], "content": m["content"]} for m in messages))
        completion = self._generate(prompt, settings)
        choice = {"index": 0, "message": {"role": "assistant", "content": completion.text},
                  "finish_reason": completion.finish_reason}
        return self._envelope("chat.completion", choice, completion)

    def complete(self, body: dict) -> dict:
        """The ``/v1/completions`` response body for request ``body``."""
        if not isinstance(body.get("prompt"), str):
            raise RequestError("'prompt' must be a string")
        settings = self._settings(body)
        completion = self._generate(Prompt(style="completion", text=body["prompt"]), settings)
        choice = {"index": 0, "text": completion.text, "finish_reason": completion.finish_reason}
        return self._envelope("text_completion", choice, completion)


def make_handler(service: ModelService) -> type[BaseHTTPRequestHandler]:
    """A request-handler class bound to ``service`` (http.server wants a class, not an instance)."""
    routes_post = {"/v1/chat/completions": service.chat, "/v1/completions": service.complete}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: dict) -> None:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _error(self, status: int, message: str, kind: str) -> None:
            self._send(status, {"error": {"message": message, "type": kind}})

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, service.models())
            else:
                self._error(404, f"no route {self.path}", "not_found_error")

        def do_POST(self) -> None:  # noqa: N802
            route = routes_post.get(self.path.rstrip("/"))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if route is None:
                self._error(404, f"no route {self.path}", "not_found_error")
                return
            try:
                body = json.loads(raw or b"null")
                if not isinstance(body, dict):
                    raise RequestError("the request body must be a JSON object")
                self._send(200, route(body))
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._error(400, "the request body is not valid JSON", "invalid_request_error")
            except RequestError as error:
                self._error(400, str(error), "invalid_request_error")
            except Exception as error:  # a generation failure must not kill the server thread silently
                self._error(500, f"{type(error).__name__}: {error}", "server_error")

        def log_message(self, format: str, *args) -> None:
            pass  # one line per request would drown the eval's progress bar

    return Handler


class ListenError(Exception):
    """The server cannot bind its address (raised before the model loads)."""


def serve(model_path: str, *, host: str, port: int, model_name: str, dtype: str, default_max_tokens: int,
          announce=print) -> None:
    """Load the model and serve until interrupted; ``port=0`` picks a free port (announced).

    The port is bound before the model loads, so a port in use (or out of range) fails at once.
    """
    if not 0 <= port <= 65535:
        raise ListenError(f"port must be 0..65535, got {port}")
    try:
        httpd = ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
    except OSError as error:  # port in use, privileged port, unknown host
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        service = ModelService(HFBackend(model_path, dtype=dtype), model_name, default_max_tokens)
    except BaseException:
        httpd.server_close()
        raise
    httpd.RequestHandlerClass = make_handler(service)
    bound_host, bound_port = httpd.server_address[:2]
    announce(f"serving {model_name} on http://{bound_host}:{bound_port}/v1")
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
