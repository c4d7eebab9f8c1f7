"""An OpenAI-compatible API: chat front-ends that speak chat completions talk to terrasight.

``GET /v1/models`` lists one model per finished job (``terrasight-job-<id>``) and
``terrasight``, the latest finished job. ``POST /v1/chat/completions`` answers the
last user message with terrasight's agent over that job's result, streamed as
server-sent ``chat.completion.chunk`` events when ``stream`` is true. The request
carries the whole conversation, as the protocol has it: the earlier user
messages are asked again first (cheap on a finished result), so "those" and
"there" mean what they meant. Behind the server's token like every route
(``Authorization: Bearer TOKEN`` is what the clients send as their API key).

Example:
    >>> from openai import OpenAI  # doctest: +SKIP
    >>> client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=TOKEN)  # doctest: +SKIP
    >>> client.chat.completions.create(model="terrasight",  # doctest: +SKIP
    ...     messages=[{"role": "user", "content": "how many changes are there?"}])
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from terrasight.errors import InvalidOptionError, TerrasightError, UnknownJobError, http_status
from terrasight.server.context import AppContext
from terrasight.server.jobs import Job
from terrasight.server.routes_jobs import Context

router = APIRouter(prefix="/v1", tags=["openai"])

LATEST = "terrasight"
PREFIX = "terrasight-job-"
MAX_EARLIER_TURNS = 20
"""Earlier user messages asked again to rebuild the conversation; older ones are left out."""


class ChatMessage(BaseModel):
    """One message of the conversation (text content, or a list of text parts)."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The chat-completions request; options terrasight has no use for are accepted and left."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=128, examples=[LATEST])
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


@router.get("/models")
def models(ctx: Context) -> dict[str, Any]:
    """The models: ``terrasight`` (the latest finished job) and one per finished job (changes,
    series and one image)."""
    done = _answerable(ctx)
    rows = [_model(LATEST, done[0].updated)] if done else []
    rows += [_model(PREFIX + j.id, j.updated) for j in done]
    return {"object": "list", "data": rows}


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, ctx: Context) -> JSONResponse | StreamingResponse:
    """Answer the last user message with the agent over the model's job."""
    try:
        job_id = _job_of(ctx, body.model)
        earlier, question = _questions(body.messages)
    except TerrasightError as exc:
        return _error(exc)
    reply_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if body.stream:
        return StreamingResponse(
            _stream(ctx, job_id, earlier, question, body.model, reply_id),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )
    try:
        text = await run_in_threadpool(_answer, ctx, job_id, earlier, question, None)
    except TerrasightError as exc:
        return _error(exc)
    message = {"role": "assistant", "content": text}
    return JSONResponse(
        {
            "id": reply_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    )


def _model(model_id: str, created: float) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": int(created), "owned_by": "terrasight"}


def _job_of(ctx: AppContext, model: str) -> str:
    """The finished job a model name stands for.

    Raises:
        UnknownJobError: no such model, or no finished job yet.
    """
    if model == LATEST:
        done = _answerable(ctx)
        if not done:
            raise UnknownJobError(
                "there is no finished job yet: run one (POST /api/jobs), then ask again."
            )
        return done[0].id
    if not model.startswith(PREFIX):
        raise UnknownJobError(
            f"no model {model!r}: the models are {LATEST!r} (the latest finished job) and "
            f"'{PREFIX}<job id>' (GET /v1/models lists them)."
        )
    return ctx.finished(model[len(PREFIX) :]).id


def _answerable(ctx: AppContext) -> list[Job]:
    """Finished jobs the agent can talk about (changes, series, one image), newest first."""
    return [j for j in ctx.store.all() if j.state == "done"]


def _questions(messages: list[ChatMessage]) -> tuple[list[str], str]:
    """The earlier user messages (the latest ones, at most :data:`MAX_EARLIER_TURNS`) and the
    last one, which is answered.

    Raises:
        InvalidOptionError: the conversation does not end with a user message.
    """
    users = [_text(m) for m in messages if m.role == "user"]
    if not users or messages[-1].role != "user" or not users[-1].strip():
        raise InvalidOptionError(
            "the last message must be the user's question (role 'user', with text)."
        )
    return [u for u in users[:-1] if u.strip()][-MAX_EARLIER_TURNS:], users[-1]


def _text(message: ChatMessage) -> str:
    if isinstance(message.content, list):
        return " ".join(str(p.get("text", "")) for p in message.content if p.get("type") == "text")
    return message.content or ""


def _answer(
    ctx: AppContext,
    job_id: str,
    earlier: list[str],
    question: str,
    on_text: Any,
) -> str:
    """A new agent over the job, the earlier questions asked again, then the question."""
    agent = ctx.agent_for(job_id)
    try:
        for text in earlier:
            agent.ask(text)
        return agent.ask(question, on_text=on_text).text
    finally:
        agent.close()


async def _stream(
    ctx: AppContext, job_id: str, earlier: list[str], question: str, model: str, reply_id: str
) -> AsyncIterator[str]:
    """``chat.completion.chunk`` events: the role, the text as it comes, the end, ``[DONE]``."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()

    def on_text(text: str) -> None:
        loop.call_soon_threadsafe(pieces.put_nowait, text)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        data = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(data)}\n\n"

    async def work() -> str:
        try:
            return await run_in_threadpool(_answer, ctx, job_id, earlier, question, on_text)
        finally:
            pieces.put_nowait(None)

    task = asyncio.ensure_future(work())
    yield chunk({"role": "assistant", "content": ""})
    sent = False
    while (piece := await pieces.get()) is not None:
        if piece:
            sent = True
            yield chunk({"content": piece})
    try:
        text = await task
    except TerrasightError as exc:  # the stream has begun: the error goes as an event
        error = {"message": str(exc), "type": type(exc).__name__, "code": http_status(exc)}
        yield f"data: {json.dumps({'error': error})}\n\n"
        return
    if not sent and text:
        yield chunk({"content": text})
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


def _error(exc: TerrasightError) -> JSONResponse:
    """The error as OpenAI clients read it: ``{"error": {"message", "type", "param", "code"}}``,
    a request that cannot be answered as 400 (the server's own routes say 422).

    Example:
        >>> _error(UnknownJobError("no model 'x'")).status_code
        404
    """
    status = http_status(exc)
    status = 400 if status == 422 else status
    code = "model_not_found" if isinstance(exc, UnknownJobError) else type(exc).__name__
    error = {"message": str(exc), "type": "invalid_request_error", "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=status)
