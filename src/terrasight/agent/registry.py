"""Tools and brains are found through entry points, terrasight's own as any other package's.

Two groups, read afresh on each call (nothing is kept between calls)::

    [project.entry-points."terrasight.tools"]
    count_changes = "terrasight.agent.tools:count_changes"
    [project.entry-points."terrasight.brains"]
    offline = "terrasight.agent.brains.offline:OfflineBrain"

A tool is a function (see :mod:`terrasight.agent.tools`); a brain entry point
names a factory called with the brain's options and ``cache=`` (the agent's
model cache) that returns a :class:`~terrasight.agent.brains.base.Brain`.

Example:
    >>> {"offline", "openai", "gguf"} <= set(list_brains())
    True
    >>> "count_changes" in list_tools()
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING, Any

from terrasight.agent.schema import SESSION, check_arguments, tool_schema
from terrasight.errors import InvalidOptionError, TerrasightError, ToolArgumentError
from terrasight.plugins import entry_point_table, load_entry_point

if TYPE_CHECKING:
    from terrasight.agent.brains.base import Brain
    from terrasight.agent.session import Session

TOOLS = "terrasight.tools"
BRAINS = "terrasight.brains"


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return entry_point_table(group)


def _load(ep: EntryPoint) -> Any:
    return load_entry_point(ep)


def list_tools() -> list[str]:
    """Names of the installed tools (their modules are not imported)."""
    return sorted(_entry_points(TOOLS))


def load_tools(names: list[str] | None = None) -> dict[str, Callable[..., dict[str, Any]]]:
    """The installed tools by name (all, or ``names``), each checked to have a schema.

    Raises:
        InvalidOptionError: a name is not an installed tool.
        TerrasightError: a tool cannot be loaded or has no schema (no type hints, no docstring).
    """
    eps = _entry_points(TOOLS)
    unknown = sorted(set(names or ()) - set(eps))
    if unknown:
        raise InvalidOptionError(f"unknown tool {', '.join(unknown)}; installed: {sorted(eps)}.")
    out = {}
    for name in names or sorted(eps):
        fn = _load(eps[name])
        try:
            tool_schema(fn)
        except TypeError as exc:
            raise TerrasightError(
                f"tool {name!r} ({eps[name].value}) cannot be offered: {exc}"
            ) from exc
        out[name] = fn
    return out


NEEDS = "terrasight_needs"
"""Attribute of a tool that names what the conversation must hold: ``"pair"``, ``"series"``,
``"scene"`` (one image) or ``"archive"`` (an archive index)."""


def needs(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a tool as serving only conversations that hold a ``"pair"``, a ``"series"`` or
    an ``"archive"`` index.

    Example:
        >>> @needs("series")
        ... def when(session, question: str) -> dict: ...
        >>> when.terrasight_needs
        'series'
    """
    if what not in ("pair", "series", "scene", "archive"):
        raise ValueError(f"a tool needs 'pair', 'series', 'scene' or 'archive', not {what!r}")

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, NEEDS, what)
        return fn

    return mark


def usable_tools(session: Session) -> dict[str, Callable[..., dict[str, Any]]]:
    """The installed tools that the conversation's inputs can serve (see :func:`needs`): no
    archive search without an index, no series question without a series..."""
    have = {
        "pair": session.pair,
        "series": session.series is not None,
        "scene": session.scene is not None,
        "archive": session.db is not None,
    }
    return {
        name: fn for name, fn in load_tools(None).items() if have.get(getattr(fn, NEEDS, ""), True)
    }


def schemas(tools: dict[str, Callable[..., Any]]) -> list[dict[str, Any]]:
    """The chat-completions ``tools`` list: ``{"type": "function", "function": schema}``."""
    return [
        {"type": "function", "function": {**tool_schema(fn), "name": n}} for n, fn in tools.items()
    ]


def call_tool(
    tools: dict[str, Callable[..., dict[str, Any]]],
    session: Session,
    name: str,
    arguments: str | dict[str, Any] | None,
) -> dict[str, Any]:
    """Run one tool call; a bad call or a failing tool gives ``{"error": why}``, never raises.

    ``arguments`` may be the JSON text a chat-completions server sends. Errors that are
    not terrasight's (bugs) are not caught.

    Example:
        >>> call_tool({}, None, "fly", "{}")["error"]
        "there is no tool 'fly'; the tools are: none."
    """
    fn = tools.get(name)
    if fn is None:
        offered = ", ".join(sorted(tools)) or "none"
        return {"error": f"there is no tool {name!r}; the tools are: {offered}."}
    try:
        args = parse_arguments(name, arguments)
        checked = check_arguments(fn, args)
        return fn(session, **checked) if _takes_session(fn) else fn(**checked)
    except (ToolArgumentError, TerrasightError) as exc:
        return {"error": str(exc)}


def parse_arguments(name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    """Tool-call arguments as a dict, from the JSON text of a chat-completions tool call.

    Raises:
        ToolArgumentError: not JSON, or not a JSON object.

    Example:
        >>> parse_arguments("measure", '{"object_ids": [2]}')
        {'object_ids': [2]}
    """
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError) as exc:
        raise ToolArgumentError(
            f"{name}: the arguments are not valid JSON ({exc}): {str(arguments)[:200]!r}; "
            'send a JSON object such as {"object_ids": [1, 2]}.'
        ) from None
    if not isinstance(value, dict):
        raise ToolArgumentError(f"{name}: the arguments must be a JSON object, not {value!r:.80}.")
    return value


def _takes_session(fn: Callable[..., Any]) -> bool:
    import inspect

    return SESSION in inspect.signature(fn).parameters


def list_brains() -> list[str]:
    """Names of the installed brains (their modules are not imported)."""
    return sorted(_entry_points(BRAINS))


def create_brain(name: str, **options: Any) -> Brain:
    """The brain ``name`` built with ``options`` (e.g. ``base_url``, ``model``, ``cache``).

    Raises:
        InvalidOptionError: no brain of that name (the message lists the installed ones),
            or an option it does not take.
        MissingDependencyError: the brain needs a package that is not installed.
    """
    eps = _entry_points(BRAINS)
    if name not in eps:
        raise InvalidOptionError(
            f"unknown brain {name!r}; installed brains: {', '.join(sorted(eps))}."
        )
    factory = _load(eps[name])
    try:
        return factory(**options)
    except TypeError as exc:
        raise InvalidOptionError(f"brain {name!r}: {exc}") from None
