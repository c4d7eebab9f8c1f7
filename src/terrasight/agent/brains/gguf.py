"""The ``gguf`` brain: a local GGUF model through llama-cpp-python, tool calls constrained to JSON.

Install with ``pip install 'terrasight[llm]'`` and give a model file, e.g. a
small instruction model such as SmolLM2 or Qwen2.5 in GGUF. Each reply of the
model is held to a JSON schema by llama.cpp's grammar sampler: either
``{"tool": NAME, "arguments": {...}}`` with the arguments of that tool's own
schema, or ``{"answer": "..."}``, so even a small model cannot send a tool call
that does not parse.

Example:
    >>> brain = GGUFBrain(model_path="SmolLM2-1.7B-Instruct-Q4_K_M.gguf")  # doctest: +SKIP
    >>> reply_schema([{"type": "function", "function": {"name": "locate", "parameters": {}}}])["anyOf"][0]["required"]
    ['tool', 'arguments']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.agent.brains.base import BrainReply, Message, TextSink, ToolCall
from terrasight.errors import BrainError, InvalidOptionError, MissingDependencyError

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

INSTRUCTIONS = (
    'Reply with one JSON object only: {"tool": NAME, "arguments": {...}} to call a tool, '
    'or {"answer": TEXT} once a tool result answers the question; answer with the words and '
    "numbers of the result. Tools:\n"
)
PARTIAL_ANSWER = re.compile(r'\s*\{\s*"answer"\s*:\s*"((?:[^"\\]|\\.)*)')
"""The start of an answer the token limit cut."""


class GGUFBrain:
    """A local GGUF model as the brain.

    Args:
        model_path: the ``.gguf`` file.
        n_ctx: the context length in tokens.
        max_tokens: the longest reply (a cut answer is kept with a note; a cut tool call
            is an error naming this option).
        temperature: sampling temperature.
        llm: an already loaded ``llama_cpp.Llama`` (or anything with its
            ``create_chat_completion``) instead of ``model_path``.
        cache: keeps the loaded model for other agents with the same cache.

    Raises:
        MissingDependencyError: llama-cpp-python is not installed.
        InvalidOptionError: no model file, or it does not exist.
    """

    name = "gguf"

    def __init__(
        self,
        model_path: str | Path | None = None,
        n_ctx: int = 8192,
        max_tokens: int = 256,
        temperature: float = 0.0,
        llm: Any = None,
        cache: ModelCache | None = None,
    ) -> None:
        self.max_tokens, self.temperature = max_tokens, temperature
        self.llm = llm if llm is not None else _load(model_path, n_ctx, cache)

    def respond(
        self, messages: list[Message], tools: list[dict[str, Any]], on_text: TextSink | None = None
    ) -> BrainReply:
        """One constrained completion: a tool call or the answer.

        Raises:
            BrainError: the conversation no longer fits the context, the token limit cut a
                tool call, or the reply is not the JSON it was held to.
        """
        try:
            out = self.llm.create_chat_completion(
                messages=plain_messages(messages, tools),
                response_format={"type": "json_object", "schema": reply_schema(tools)},
                temperature=self.temperature,
                max_tokens=self.max_tokens,
            )
        except ValueError as exc:  # llama-cpp-python: "Requested tokens (N) exceed context window"
            if "context" not in str(exc):
                raise
            raise BrainError(
                f"the conversation no longer fits the gguf model's context ({exc}); raise "
                "n_ctx (--n-ctx) or start a new conversation."
            ) from None
        try:
            choice = out["choices"][0]
            text = str(choice["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise BrainError(f"the gguf model sent no chat completion: {str(out)[:200]}") from None
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        return read_reply(text, choice.get("finish_reason"), self.max_tokens, turn)


def read_reply(text: str, finish: str | None, max_tokens: int, turn: int = 0) -> BrainReply:
    """The brain's reply from the model's JSON text; an answer the token limit cut is kept
    with a note, a cut tool call is an error that says which limit to raise.

    Raises:
        BrainError: a cut tool call, or text that is neither a tool call nor an answer.

    Example:
        >>> read_reply('{"answer": "6 changes', "length", 8).notes[0][:37]
        'the answer was cut at max_tokens=8 (r'
    """
    cut = finish == "length"
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("tool"), str):
        raw = data.get("arguments")
        args: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return BrainReply(tool_calls=(ToolCall(f"gguf-{turn}", data["tool"], args),))
    if isinstance(data, dict) and "answer" in data:
        return BrainReply(text=str(data["answer"]))
    partial = PARTIAL_ANSWER.match(text)
    if cut and partial:
        note = (
            f"the answer was cut at max_tokens={max_tokens} (raise max_tokens, --max-tokens, "
            "for a full one)."
        )
        return BrainReply(text=partial.group(1) + "...", notes=(note,))
    if cut:
        raise BrainError(
            f"the gguf model's reply was cut at max_tokens={max_tokens} before it was a whole "
            f"tool call ({text[:120]!r}...); raise max_tokens (--max-tokens)."
        )
    raise BrainError(
        f"the gguf model replied {text[:200]!r}: neither a tool call nor an answer; a model "
        "that cannot follow the JSON format needs llama-cpp-python's grammar support."
    )


def _load(model_path: str | Path | None, n_ctx: int, cache: ModelCache | None) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise MissingDependencyError(
            "the gguf brain needs llama-cpp-python: pip install 'terrasight[llm]'"
        ) from None
    if model_path is None or not Path(model_path).is_file():
        raise InvalidOptionError(
            f"the gguf brain needs model_path= a .gguf file (got {model_path!r}); e.g. a "
            "SmolLM2 or Qwen2.5 instruct model in GGUF."
        )

    def build() -> Any:
        return Llama(model_path=str(model_path), n_ctx=n_ctx, verbose=False)

    if cache is None:
        return build()
    return cache.get(("gguf", str(Path(model_path).resolve()), n_ctx), build)


def reply_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON schema every reply is held to: one tool call (with that tool's arguments)
    or an answer."""
    calls = [
        {
            "type": "object",
            "properties": {
                "tool": {"type": "string", "enum": [t["function"]["name"]]},
                "arguments": t["function"].get("parameters") or {"type": "object"},
            },
            "required": ["tool", "arguments"],
        }
        for t in tools
        if "function" in t
    ]
    answer = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    return {"anyOf": [*calls, answer]}


def plain_messages(messages: list[Message], tools: list[dict[str, Any]]) -> list[Message]:
    """The conversation in roles every chat template knows: the tools listed in the system
    message, tool calls as the assistant's JSON, tool results as user messages.

    Example:
        >>> plain_messages([{"role": "tool", "name": "locate", "content": "{}"}], [])[1]
        {'role': 'user', 'content': 'Result of locate: {}'}
    """
    listing = "\n".join(_listed(t["function"]) for t in tools if "function" in t)
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    out: list[Message] = [
        {"role": "system", "content": f"{system}\n\n{INSTRUCTIONS}{listing}".strip()}
    ]
    for m in messages:
        role = m.get("role")
        if role == "tool":
            out.append(
                {
                    "role": "user",
                    "content": f"Result of {m.get('name', 'the tool')}: {m['content']}",
                }
            )
        elif role == "assistant" and m.get("tool_calls"):
            call = m["tool_calls"][0]["function"]
            text = json.dumps(
                {"tool": call["name"], "arguments": json.loads(call["arguments"] or "{}")}
            )
            out.append({"role": "assistant", "content": text})
        elif role in ("user", "assistant"):
            out.append({"role": role, "content": m.get("content") or ""})
    return out


def _listed(function: dict[str, Any]) -> str:
    """One line of the tool listing: name, argument names, the description's first line."""
    args = ", ".join((function.get("parameters") or {}).get("properties", {}))
    about = str(function.get("description", "")).strip().splitlines()
    return f"- {function['name']}({args}): {about[0] if about else ''}"
