"""A tool's JSON schema, derived from its signature and docstring; its arguments checked.

A tool is a plain function with type hints and a Google-style docstring: the
first paragraph describes it, the ``Args:`` section describes each parameter.
Its first parameter may be ``session`` (the conversation's change result, given
by the agent, never by the brain): it is left out of the schema.

Example:
    >>> from typing import Literal
    >>> def count(session, place: str | None = None, size: Literal["small", "large"] = "large"):
    ...     '''Count the changes.
    ...
    ...     Args:
    ...         place: a compass place, e.g. "north".
    ...         size: only changes of this size.
    ...     '''
    >>> schema = tool_schema(count)
    >>> schema["name"], schema["parameters"]["properties"]["size"]["enum"]
    ('count', ['small', 'large'])
    >>> check_arguments(count, {"size": "tiny"})
    Traceback (most recent call last):
    ...
    terrasight.errors.ToolArgumentError: count: size must be one of 'small', 'large', not 'tiny'.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

from terrasight.errors import ToolArgumentError

SESSION = "session"
"""Name of the parameter through which the agent hands a tool its session."""
_SECTIONS = re.compile(r"^(Args|Arguments|Returns|Raises|Example|Examples|Note|Notes|Yields):\s*$")
_JSON_TYPES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def tool_schema(fn: Callable[..., Any]) -> dict[str, Any]:
    """The chat-completions ``function`` schema of a tool: name, description, parameters.

    Raises:
        TypeError: a parameter has no type hint, a type JSON schema cannot say, or no
            description in the docstring's ``Args:`` section.

    Example:
        >>> def area(session, object_ids: list[int], unit: str = "m2") -> dict:
        ...     '''The area of some changes.
        ...
        ...     Args:
        ...         object_ids: ids of the change objects.
        ...         unit: the area unit.
        ...     '''
        >>> s = tool_schema(area)["parameters"]
        >>> s["required"], s["properties"]["object_ids"]
        (['object_ids'], {'type': 'array', 'items': {'type': 'integer'}, 'description': 'ids of the change objects.'})
    """
    summary, described = parse_docstring(inspect.getdoc(fn) or "")
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in _parameters(fn):
        if name not in hints:
            raise TypeError(f"tool {fn.__name__}: parameter {name!r} has no type hint")
        if name not in described:
            raise TypeError(f"tool {fn.__name__}: parameter {name!r} is not described under Args:")
        prop = json_type(hints[name], f"{fn.__name__}.{name}")
        prop["description"] = described[name]
        if param.default is inspect.Parameter.empty:
            required.append(name)
        elif param.default is not None:
            prop["default"] = param.default
        properties[name] = prop
    if not summary:
        raise TypeError(f"tool {fn.__name__} has no docstring to describe it")
    return {
        "name": fn.__name__,
        "description": summary,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def _parameters(fn: Callable[..., Any]) -> list[tuple[str, inspect.Parameter]]:
    """The parameters a brain gives: all but ``session`` and ``*args``/``**kwargs``."""
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [
        (name, p)
        for name, p in inspect.signature(fn).parameters.items()
        if name != SESSION and p.kind not in kinds
    ]


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(first paragraph in one line, {parameter: description}) of a Google-style docstring.

    Example:
        >>> parse_docstring("Say hi.\\n\\nArgs:\\n    who: the one to greet,\\n        by name.\\n")
        ('Say hi.', {'who': 'the one to greet, by name.'})
    """
    lines = doc.strip().splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTIONS.match(line.strip()):
            break
        summary.append(line.strip())
    args: dict[str, str] = {}
    inside, current, indent = False, None, 0
    for line in lines:
        text = line.strip()
        if _SECTIONS.match(text):
            inside = text.split(":")[0] in ("Args", "Arguments")
            current = None
            continue
        if not inside or not text:
            continue
        depth = len(line) - len(line.lstrip())
        match = re.match(r"^(\*{0,2}\w+)(?:\s*\([^)]*\))?:\s*(.*)$", text)
        if match and (current is None or depth <= indent):
            current, indent = match.group(1).lstrip("*"), depth
            args[current] = match.group(2)
        elif current is not None:
            args[current] = f"{args[current]} {text}".strip()
    return " ".join(summary), args


def json_type(hint: Any, where: str = "value") -> dict[str, Any]:
    """The JSON schema of a type hint: str, int, float, bool, Literal, list, dict, Optional.

    Example:
        >>> json_type(list[int] | None), json_type(Literal["m2", "ha"])
        ({'type': 'array', 'items': {'type': 'integer'}}, {'type': 'string', 'enum': ['m2', 'ha']})
    """
    inner = _without_none(hint)
    if inner is not hint:
        return json_type(inner, where)
    origin = get_origin(hint)
    if origin is Literal:
        values = list(get_args(hint))
        kinds = {_JSON_TYPES.get(type(v)) for v in values}
        out: dict[str, Any] = {"enum": values}
        if len(kinds) == 1 and None not in kinds:
            out = {"type": kinds.pop(), **out}
        return out
    if origin in (list, tuple) or hint in (list, tuple):
        args = get_args(hint)
        items = json_type(args[0], where) if args else {}
        return {"type": "array", "items": items} if items else {"type": "array"}
    if origin is dict or hint is dict:
        return {"type": "object"}
    if hint in _JSON_TYPES:
        return {"type": _JSON_TYPES[hint]}
    raise TypeError(f"{where}: no JSON schema for the type {hint!r}")


def _without_none(hint: Any) -> Any:
    """``X`` of ``X | None`` (``Optional[X]``); the hint itself otherwise."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0]
    return hint


def check_arguments(fn: Callable[..., Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` checked against the tool's signature, lightly coerced (``3.0`` -> ``3``,
    a single id -> ``[id]``), defaults left to Python.

    Raises:
        ToolArgumentError: an argument is unknown, missing or of the wrong type; the
            message names the tool, the argument and what it takes.

    Example:
        >>> def f(session, object_ids: list[int]):
        ...     '''F.
        ...
        ...     Args:
        ...         object_ids: ids.
        ...     '''
        >>> check_arguments(f, {"object_ids": 3.0})
        {'object_ids': [3]}
    """
    if not isinstance(arguments, dict):
        raise ToolArgumentError(
            f"{fn.__name__}: arguments must be a JSON object, not {type(arguments).__name__}."
        )
    params = dict(_parameters(fn))
    unknown = sorted(set(arguments) - set(params))
    if unknown:
        raise ToolArgumentError(
            f"{fn.__name__}: unknown argument {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(params) or 'no arguments'}."
        )
    missing = [n for n, p in params.items() if p.default is p.empty and n not in arguments]
    if missing:
        raise ToolArgumentError(f"{fn.__name__}: missing argument {', '.join(map(repr, missing))}.")
    hints = typing.get_type_hints(fn)
    return {
        name: coerce(value, hints[name], f"{fn.__name__}: {name}")
        for name, value in arguments.items()
    }


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` as the type ``hint`` asks for, or a :class:`ToolArgumentError` saying why not.

    Example:
        >>> coerce("7", int, "n")
        Traceback (most recent call last):
        ...
        terrasight.errors.ToolArgumentError: n must be an integer, not '7'.
    """
    inner = _without_none(hint)
    if value is None:
        if inner is not hint or hint is type(None):
            return None
        raise ToolArgumentError(f"{where} must not be null.")
    if get_origin(inner) is Literal:
        allowed = get_args(inner)
        if value in allowed:
            return value
        raise ToolArgumentError(
            f"{where} must be one of {', '.join(map(repr, allowed))}, not {value!r}."
        )
    if get_origin(inner) in (list, tuple) or inner in (list, tuple):
        items = value if isinstance(value, list) else [value]
        args = get_args(inner)
        return [coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(items)] if args else items
    if inner is bool:
        if isinstance(value, bool):
            return value
    elif inner is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif inner is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif inner is dict or get_origin(inner) is dict:
        if isinstance(value, dict):
            return value
    elif inner is str:
        if isinstance(value, str):
            return value
    else:
        return value
    kind = json_type(inner).get("type", "value")
    article = "an" if kind[0] in "aeiou" else "a"
    raise ToolArgumentError(f"{where} must be {article} {kind}, not {value!r}.")
