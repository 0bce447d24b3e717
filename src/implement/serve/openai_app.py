"""Any `ChatModel` behind the OpenAI chat-completions API: what `implement serve-wm` runs without vLLM.

`create_openai_app(model, served_name=...)` is a FastAPI app with `GET /health`,
`GET /v1/models` (lists `served_name`) and `POST /v1/chat/completions` (no streaming):
choice i of a request is completion i of `model.chat(messages, n=...)`; the usage counts
whitespace-separated words as tokens. A JSON schema in the request (`response_format` of type
`json_schema`, or `json_object` with a `schema`, or vLLM's `guided_json`) is passed on to the
model (`request_schema`). Bodies that are not chat requests get 400, a wrong or
missing key (when one is required) 401, a model that fails 500, all as OpenAI-style errors.
`run_openai_server` serves it with uvicorn in the foreground.

From a shell, an offline endpoint (echo answers by default, or a JSON script; stop with Ctrl-C)::

    python -m implement.serve.openai_app --port 8000 [--model scripted:FILE] [--served-name NAME]
"""

from __future__ import annotations

import argparse
import hmac
import itertools
import os
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from implement.errors import ImplementError
from implement.llm.base import ChatModel, LLMError, Message, Schema, message_text

MAX_N = 128  # as the OpenAI API
DEFAULT_MAX_TOKENS = 512  # when a request names none


def error_response(
    status: int, message: str, kind: str, code: str | None = None, **headers: str
) -> JSONResponse:
    """An OpenAI-style error response."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def unauthorized() -> JSONResponse:
    return error_response(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")


def authorized(authorization: str, key: str | None) -> bool:
    """Whether an `Authorization` header carries `key` (always, when no key is required)."""
    return key is None or hmac.compare_digest(authorization.encode(), f"Bearer {key}".encode())


def check_chat_body(body: Any) -> str | None:
    """What is wrong with a chat request body, or None."""
    if not isinstance(body, dict):
        return f"expected a JSON object, got {type(body).__name__}"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return "'messages' must be a non-empty list of message objects"
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        return f"'n' must be an integer in [1, {MAX_N}], got {n!r}"
    if body.get("stream"):
        return "'stream' is not supported by this server"
    return None


def request_schema(body: dict[str, Any]) -> Schema | None:
    """The JSON schema a chat request asks its answer to follow, in any of the forms taken here."""
    form = body.get("response_format")
    if isinstance(form, dict) and form.get("type") == "json_schema":
        spec = form.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
    elif isinstance(form, dict) and form.get("type") == "json_object":
        schema = form.get("schema")
    else:
        schema = body.get("guided_json")
    return schema if isinstance(schema, dict) else None


def count_tokens(text: str) -> int:
    """Tokens, as this server counts them: whitespace-separated words."""
    return len(text.split())


def completion_body(
    body: dict[str, Any], texts: Sequence[str], *, served_name: str, completion_id: str
) -> dict[str, Any]:
    """A chat.completion answering the request `body` with one choice per text."""
    messages: list[Message] = body["messages"]
    prompt_tokens = sum(count_tokens(message_text(m)) for m in messages)
    completion_tokens = sum(count_tokens(t) for t in texts)
    model = body.get("model")
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model if isinstance(model, str) and model else served_name,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": "stop",
            }
            for i, text in enumerate(texts)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def create_openai_app(chat_model: ChatModel, *, served_name: str, require_key: str | None = None) -> FastAPI:
    """The OpenAI-compatible app answering with `chat_model` (see the module docstring)."""
    app = FastAPI(title="OpenAI-compatible chat server")
    ids = itertools.count(1)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models", response_model=None)
    async def models(request: Request) -> JSONResponse | dict[str, Any]:
        if not authorized(request.headers.get("authorization", ""), require_key):
            return unauthorized()
        card = {"id": served_name, "object": "model", "created": 0, "owned_by": "implement"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Response:
        if not authorized(request.headers.get("authorization", ""), require_key):
            return unauthorized()
        try:
            body = await request.json()
        except ValueError:
            return error_response(400, "the request body is not valid JSON", "invalid_request_error")
        problem = check_chat_body(body)
        if problem:
            return error_response(400, problem, "invalid_request_error")
        try:
            completions = await chat_model.chat(
                body["messages"],
                n=body.get("n", 1),
                temperature=float(body.get("temperature", 1.0)),
                max_tokens=int(
                    body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
                ),
                schema=request_schema(body),
                top_p=float(body.get("top_p", 1.0)),
            )
        except LLMError as exc:
            return error_response(500, f"the model failed: {exc}", "server_error")
        texts = [c.text for c in completions]
        return JSONResponse(
            completion_body(body, texts, served_name=served_name, completion_id=f"chatcmpl-{next(ids)}")
        )

    return app


def run_openai_server(
    chat_model: ChatModel, *, host: str, port: int, served_name: str, require_key: str | None = None
) -> None:
    """Serve `chat_model` on host:port with uvicorn, in the foreground, until interrupted."""
    import uvicorn

    app = create_openai_app(chat_model, served_name=served_name, require_key=require_key)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, lifespan="on")).run()


def add_key_option(parser: argparse.ArgumentParser) -> None:
    """`--require-key-env VAR`: the server's key, read from an environment variable (never a flag)."""
    parser.add_argument(
        "--require-key-env",
        metavar="VAR",
        help="require `Authorization: Bearer $VAR` (the key is read from this env var, never a flag)",
    )


def required_key(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The key `--require-key-env` names; an unset variable is a usage error."""
    if not args.require_key_env:
        return None
    key = os.environ.get(args.require_key_env)
    if not key:
        parser.error(f"--require-key-env: environment variable {args.require_key_env} is not set")
    return key


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a model spec over the OpenAI API in the foreground."""
    from implement.llm import make_chat_model

    parser = argparse.ArgumentParser(
        prog="python -m implement.serve.openai_app", description="An OpenAI-compatible chat server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--model", default="scripted:", help="model spec served (default scripted:, an echo; scripted:FILE)"
    )
    parser.add_argument("--served-name", help="model name listed by /v1/models (default: the spec)")
    add_key_option(parser)
    args = parser.parse_args(argv)
    key = required_key(parser, args)
    try:
        model = make_chat_model(args.model)
    except ImplementError as exc:
        parser.error(str(exc))
    run_openai_server(model, host=args.host, port=args.port, served_name=args.served_name or args.model,
                      require_key=key)  # fmt: skip


if __name__ == "__main__":
    main()
