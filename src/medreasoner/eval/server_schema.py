"""Request bodies of ``medreasoner serve``: what is accepted, what is refused, and the error shape.

A parameter the server cannot honour is refused with HTTP 400 naming it, never silently ignored.
Refused unless absent, null or a value that changes nothing (e.g. ``logprobs: false``,
``response_format: {"type": "text"}``, ``frequency_penalty: 0``): tool calling (``tools``,
``tool_choice``, ``functions``, ...), ``logprobs``, ``response_format``, penalties, ``logit_bias``,
audio and the hosted platform's fields. Any name the OpenAI API does not have is refused too
("Unrecognized request argument"). ``user`` (an end-user id for abuse monitoring) is accepted: it
has no effect on a reply.

Messages: roles ``system``, ``developer`` (treated as ``system``, as OpenAI does for older models),
``user`` and ``assistant`` (which may carry ``reasoning_content`` for the chat template); content a
string or a list of ``{"type": "text", "text": ...}`` parts. Other roles, fields and part types are
refused.

Defaults are OpenAI's: ``temperature`` 1, ``top_p`` 1, ``n`` 1, no stop strings, no streaming.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

MAX_STOP = 4  # OpenAI's limit on stop strings

# OpenAI parameters this server does not implement -> the values that mean "not used".
NOT_IMPLEMENTED = {
    "tools": ([],), "tool_choice": ("none",), "parallel_tool_calls": (), "functions": ([],), "function_call": ("none",),
    "logprobs": (False,), "top_logprobs": (), "response_format": ({"type": "text"},), "logit_bias": ({},),
    "frequency_penalty": (0, 0.0), "presence_penalty": (0, 0.0), "audio": (), "modalities": (["text"],),
    "prediction": (), "reasoning_effort": (), "verbosity": (), "web_search_options": (), "service_tier": (),
    "store": (False,), "metadata": (), "prompt_cache_key": (), "safety_identifier": (),
}
# /v1/completions has its own names for some of them.
NOT_IMPLEMENTED_COMPLETION = {
    "echo": (False,), "suffix": (), "best_of": (1,), "logprobs": (), "logit_bias": ({},),
    "frequency_penalty": (0, 0.0), "presence_penalty": (0, 0.0),
}


class APIError(Exception):
    """An HTTP error answered with an OpenAI-style body.

    Args:
        status: HTTP status code.
        message: one line saying what is wrong.
        param: the request parameter at fault, if any.
        code: a machine-readable code (``model_not_found``, ``invalid_api_key``, ...), if any.
        kind: the error ``type`` (``invalid_request_error``, ``server_error``, ...).
    """

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict:
        """The JSON response body."""
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


class StreamOptions(BaseModel):
    """``stream_options``: ``include_usage`` adds a last chunk with the token counts."""

    model_config = ConfigDict(extra="forbid", strict=True)
    include_usage: bool | None = None


class TextPart(BaseModel):
    """One content part; only text is supported (the model reads text only)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["text"]
    text: str


class Message(BaseModel):
    """One chat message (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    reasoning_content: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_content(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, list) or not all(isinstance(part, dict) for part in value):
            raise ValueError("must be a string or a list of content parts")
        kinds = {part.get("type") for part in value} - {"text"}
        if kinds:
            raise ValueError(f"only text parts are supported, got {sorted(map(str, kinds))}")
        return value

    @model_validator(mode="after")
    def _assistant_fields(self) -> Message:
        if self.role != "assistant" and self.content is None:
            raise ValueError(f"a {self.role} message needs content")
        if self.role != "assistant" and self.reasoning_content is not None:
            raise ValueError("only assistant messages carry reasoning_content")
        return self

    def for_template(self) -> dict:
        """The message as the chat template reads it: ``developer`` becomes ``system``, parts are joined."""
        content = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content or [])
        message = {"role": "system" if self.role == "developer" else self.role, "content": content}
        if self.reasoning_content is not None:
            message["reasoning_content"] = self.reasoning_content
        return message


class GenerationRequest(BaseModel):
    """The fields both endpoints share; None for an optional field means OpenAI's default."""

    model_config = ConfigDict(extra="forbid", strict=True)
    model: str = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    n: int = Field(default=1, ge=1)
    seed: int | None = Field(default=None, ge=-(2**63), lt=2**63)  # a 64-bit seed, as torch takes
    stop: tuple[str, ...] = ()
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None

    @field_validator("temperature", "top_p", "n", "stream", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        return cls.model_fields[info.field_name].default if value is None else value

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_strings(cls, value: Any) -> tuple[str, ...]:
        stops = [] if value is None else [value] if isinstance(value, str) else value
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
            raise ValueError("must be a non-empty string or a list of non-empty strings")
        if len(stops) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop strings, got {len(stops)}")
        return tuple(stops)

    @property
    def include_usage(self) -> bool:
        """A streamed reply ends with a usage chunk."""
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatRequest(GenerationRequest):
    """A ``/v1/chat/completions`` body."""

    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)

    @property
    def token_cap(self) -> int | None:
        """The requested cap on generated tokens (``max_completion_tokens`` or ``max_tokens``)."""
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(GenerationRequest):
    """A ``/v1/completions`` body (a prompt string or a list of them)."""

    prompt: str | list[str]

    @property
    def prompts(self) -> list[str]:
        """The prompts, one or more."""
        return [self.prompt] if isinstance(self.prompt, str) else self.prompt

    @property
    def token_cap(self) -> int | None:
        """The requested cap on generated tokens."""
        return self.max_tokens


def parse_chat(body: dict) -> ChatRequest:
    """A validated chat request, or :class:`APIError` 400 naming the first bad parameter."""
    request = _parse(ChatRequest, body, NOT_IMPLEMENTED)
    if request.max_tokens and request.max_completion_tokens and request.max_tokens != request.max_completion_tokens:
        raise APIError(400, "max_tokens and max_completion_tokens differ; send one of them", param="max_tokens")
    return request


def parse_completion(body: dict) -> CompletionRequest:
    """A validated completion request, or :class:`APIError` 400 naming the first bad parameter."""
    request = _parse(CompletionRequest, body, NOT_IMPLEMENTED_COMPLETION)
    if not request.prompts:
        raise APIError(400, "Invalid 'prompt': the list is empty", param="prompt")
    return request


def _parse(model: type[GenerationRequest], body: dict, not_implemented: dict) -> Any:
    for name, no_op in not_implemented.items():
        value = body.get(name)
        if value is not None and not any(type(value) is type(ok) and value == ok for ok in no_op):
            raise APIError(400, f"'{name}' is not supported by this server; leave it out", param=name)
    fields = {name: value for name, value in body.items() if name not in not_implemented}
    try:
        request = model.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        param = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            raise APIError(400, f"Unrecognized request argument supplied: {param}", param=param) from None
        message = first["msg"].removeprefix("Value error, ")
        raise APIError(400, f"Invalid '{param}': {message}", param=param) from None
    if request.stream_options is not None and not request.stream:
        raise APIError(400, "'stream_options' is only allowed when 'stream' is true", param="stream_options")
    return request
