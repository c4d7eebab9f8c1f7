"""One way to find what installed packages add: ``importlib.metadata`` entry points.

Every registry of terrasight (change methods, architectures, backbones, model
entries, agent tools, brains) reads its group through :func:`entry_point_table`
and loads one entry through :func:`load_entry_point`, so all of them follow the
same two rules:

* **one name, one owner**: two packages giving one name in one group is a
  :class:`~terrasight.errors.DuplicatePluginError` naming both (one package
  seen twice with the same entry, e.g. on two paths of ``sys.path``, is one
  entry);
* **a broken plugin says which**: an entry point that cannot be imported is a
  :class:`~terrasight.errors.PluginLoadError` naming the entry point and its
  package.

Nothing is cached: each call reads the installed entry points afresh, so a
package installed a moment ago is seen at once.

Example:
    >>> table = entry_point_table("terrasight.change_methods")
    >>> table["cva"].value
    'terrasight.tasks.change.methods.cva:SPEC'
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from terrasight.errors import DuplicatePluginError, PluginLoadError


def origin(ep: EntryPoint) -> str:
    """Where an entry point comes from, for messages: name, value, package and group.

    Example:
        >>> origin(EntryPoint("cva", "pkg.cva:SPEC", "terrasight.change_methods"))
        "entry point 'cva' (pkg.cva:SPEC) in terrasight.change_methods"
    """
    owner = f" of {_owner(ep)}" if _owner(ep) else ""
    return f"entry point {ep.name!r} ({ep.value}){owner} in {ep.group}"


def _owner(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return "" if dist is None else str(dist.name).replace("_", "-").lower()


def entry_point_table(group: str, name: str | None = None) -> dict[str, EntryPoint]:
    """The group's entry points by name (only ``name``'s when given).

    Raises:
        DuplicatePluginError: two different entry points share a name.
    """
    found: dict[str, EntryPoint] = {}
    eps = entry_points(group=group, name=name) if name else entry_points(group=group)
    for ep in eps:
        seen = found.get(ep.name)
        if seen is not None and (seen.value, _owner(seen)) != (ep.value, _owner(ep)):
            raise DuplicatePluginError(
                f"{group} {ep.name!r} is registered twice: {origin(seen)}; {origin(ep)}. "
                "Uninstall one of these packages."
            )
        found[ep.name] = ep
    return found


def load_entry_point(ep: EntryPoint) -> Any:
    """The object an entry point names, imported.

    Raises:
        PluginLoadError: the import or the attribute lookup fails; says which entry point.
    """
    try:
        return ep.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin: say which one
        raise PluginLoadError(f"cannot load {origin(ep)}: {type(exc).__name__}: {exc}") from exc
