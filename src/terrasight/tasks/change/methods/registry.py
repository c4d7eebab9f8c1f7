"""The registry of change methods: the entry points of group ``terrasight.change_methods``.

Every method, the built-in ones included, is published by an installed
distribution as an entry point naming its :class:`~terrasight.tasks.change.methods.base.MethodSpec`;
terrasight's own ``pyproject.toml`` declares::

    [project.entry-points."terrasight.change_methods"]
    cva = "terrasight.tasks.change.methods.cva:SPEC"

A third-party package adds a method the same way; the entry point's name is the
method's name. Nothing is cached: each call reads the installed entry points.
A method's module is imported only when that method is asked for (or when
:func:`registry` loads them all).
"""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

from terrasight.errors import PluginLoadError, UnknownMethodError
from terrasight.plugins import entry_point_table, load_entry_point, origin
from terrasight.tasks.change.methods.base import MethodSpec, did_you_mean

GROUP = "terrasight.change_methods"
"""Entry point group of change methods."""

log = logging.getLogger(__name__)


def _entry_points() -> dict[str, EntryPoint]:
    """The group's entry points by name (two packages giving one name is an error)."""
    return entry_point_table(GROUP)


def _load(ep: EntryPoint) -> MethodSpec:
    """The spec an entry point names, checked; PluginLoadError says why it cannot be used."""
    spec = load_entry_point(ep)
    if not isinstance(spec, MethodSpec) or spec.name != ep.name:
        raise PluginLoadError(
            f"change method {ep.name!r} cannot be used ({origin(ep)}): it must name a "
            f"MethodSpec called {ep.name!r}, not {spec!r:.80}"
        )
    return spec


def list_methods() -> list[str]:
    """Names of the installed change methods (their modules are not imported).

    Example:
        >>> {"cva", "irmad", "learned"} <= set(list_methods())
        True
    """
    return sorted(_entry_points())


def get_method(name: str) -> MethodSpec:
    """The installed change method ``name``.

    Raises:
        UnknownMethodError: no method of that name (the message lists the
            available ones).
        PluginLoadError: its entry point cannot be loaded or is not a MethodSpec.

    Example:
        >>> get_method("cva").overlap
        4
    """
    eps = _entry_points()
    if name not in eps:
        raise UnknownMethodError(_unknown_message(name, sorted(eps)))
    return _load(eps[name])


def registry() -> dict[str, MethodSpec]:
    """Every installed change method that loads, by name (methods that fail are logged).

    Example:
        >>> registry()["irmad"].name
        'irmad'
    """
    specs = {}
    for name, ep in sorted(_entry_points().items()):
        try:
            specs[name] = _load(ep)
        except PluginLoadError as exc:
            log.warning("%s", exc)
    return specs


def _unknown_message(name: str, available: list[str]) -> str:
    if not available:
        return (
            f"unknown change method {name!r}: no change method is installed (entry point "
            f"group {GROUP!r}); install terrasight with pip (pip install -e . in a checkout)."
        )
    return (
        f"unknown change method {name!r}.{did_you_mean(name, available)} "
        f"Available: {', '.join(available)}."
    )
