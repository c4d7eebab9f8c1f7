"""The package's layers, kept: data flows one way and no module imports in a circle.

Layers, lowest first: ``errors`` < ``io`` < ``models``, ``samples`` < ``tasks`` < ``index`` <
``agent`` < ``eval`` < ``training`` < ``cli``, ``server``. A module may import
its own layer's modules and lower layers only (training scores its models with
``eval``'s metrics); the peers ``cli`` and ``server`` do not import each other.

Inside a layer, its sub-packages are ranked too (``SUB_RANKS``):
``tasks`` (``embed``, ``find``) < ``tasks.change`` (its rooms: ``methods`` <
the result's own modules < ``objects`` < ``output`` < ``pipeline``) < ``tasks.series`` <
``tasks.interpret`` < ``tasks.products`` (facts, caption and report written
from a result), and ``agent.brains`` < ``agent``.

Every import counts: those inside functions, those under ``if TYPE_CHECKING:``
(a type-only import still ties two modules together) and
``importlib.import_module("terrasight...")`` with a literal name. The one
door kept on purpose is listed in ``KEPT_DOORS`` with its reason. The package
root ``terrasight`` is the public facade on top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import terrasight

ROOT = Path(terrasight.__file__).resolve().parent
RANKS = {
    "errors": 0,
    "io": 1,
    "models": 2,
    "samples": 2,  # the demo pair and the simulators: a peer of models
    "plugins": 1,  # plugins.py: the one entry point loader
    "tasks": 3,
    "index": 4,
    "agent": 5,
    "eval": 6,
    "training": 7,
    "cli": 8,
    "server": 8,
    "": 9,  # the facade, terrasight/__init__.py
}
# Sub-packages in the order they may import each other (lowest first); a
# layer's own top-level modules (``tasks/embed.py``) rank as the layer's first name.
SUB_RANKS = {
    "tasks": (
        "tasks",
        "tasks.change.methods",
        "tasks.change",
        "tasks.change.objects",
        "tasks.change.output",
        "tasks.change.pipeline",
        "tasks.landcover",
        "tasks.semantic",
        "tasks.series",
        "tasks.interpret",
        "tasks.scene_ask",
        "tasks.products",
        "tasks.batch",
    ),
    "agent": ("agent.brains", "agent"),
}
# Imports allowed against the order, each with the reason; keep this short.
KEPT_DOORS = {
    ("terrasight.tasks.change.result", "terrasight.tasks.products.save"): (
        "ChangeResult.save() is public API: the method hands over to products.save_result"
    ),
    ("terrasight.tasks.change.result", "terrasight.tasks.interpret.facts"): (
        "the type of ChangeResult.save(facts=FactsOptions(...)), for type checkers only"
    ),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_checking: bool = True) -> Iterator[ast.AST]:
    """Every node under ``node``; without ``type_checking``, not the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if not type_checking and isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _walk(other, type_checking)
            continue
        yield child
        yield from _walk(child, type_checking)


def _imports(name: str, path: Path, known: set[str], type_checking: bool = True) -> set[str]:
    """The terrasight modules that ``name`` imports (submodules where named so)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk(ast.parse(path.read_text(encoding="utf-8")), type_checking):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
        elif isinstance(node, ast.Call) and _is_import_module(node):
            found.add(node.args[0].value)  # type: ignore[attr-defined]
    return {f for f in found if f == "terrasight" or f.startswith("terrasight.")}


def _is_import_module(node: ast.Call) -> bool:
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )
    return (
        named
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _graph(doors: bool = False) -> dict[str, set[str]]:
    """Module -> the modules it imports; with ``doors``, the ``KEPT_DOORS`` too."""
    modules = _modules()
    known = set(modules)
    graph = {n: _imports(n, p, known) - {n} for n, p in modules.items()}
    if not doors:
        for source, target in KEPT_DOORS:
            graph.get(source, set()).discard(target)
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _room(module: str) -> str:
    """The sub-package ``module`` ranks in (``tasks.change``), or its layer."""
    layer = _layer(module)
    parts = module.split(".")
    for depth in range(len(parts), 2, -1):  # the longest ranked prefix: tasks.change.methods
        if ".".join(parts[1:depth]) in SUB_RANKS.get(layer, ()):
            return ".".join(parts[1:depth])
    return layer


def _wrong_way(module: str, target: str) -> bool:
    here, there = _layer(module), _layer(target)
    if here != there:
        return RANKS[there] >= RANKS[here]
    order = SUB_RANKS.get(here)
    if order is None:
        return False
    a, b = order.index(_room(module)), order.index(_room(target))
    return b > a


def test_every_layer_has_a_rank():
    assert {_layer(m) for m in _modules()} <= set(RANKS)


def test_no_module_imports_a_higher_layer_or_a_peer():
    wrong = []
    for module, targets in _graph().items():
        wrong.extend(f"{module} -> {t}" for t in targets if _wrong_way(module, t))
    assert sorted(wrong) == []


def test_the_kept_doors_exist():
    """A door listed in ``KEPT_DOORS`` that no longer exists is taken off the list."""
    graph = _graph(doors=True)
    assert [d for d in KEPT_DOORS if d[1] not in graph.get(d[0], set())] == []


def test_sub_packages_rank_in_order():
    assert _wrong_way("terrasight.tasks.change.output.vectors", "terrasight.tasks.interpret.facts")
    assert not _wrong_way("terrasight.tasks.interpret.facts", "terrasight.tasks.change.result")
    assert not _wrong_way("terrasight.tasks.series.detect", "terrasight.tasks.embed")
    assert _wrong_way("terrasight.agent.brains.dialogue", "terrasight.agent.tools")
    assert not _wrong_way("terrasight.agent.tools", "terrasight.agent.brains.base")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The walker sees imports inside functions and (unless told not to) TYPE_CHECKING blocks."""
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from terrasight.cli import main\n"
        "def f():\n    from terrasight.tasks import change\n    return change\n"
        "def g():\n    importlib.import_module('terrasight.server')\n"
    )
    known = {"terrasight.tasks", "terrasight.tasks.change", "terrasight.cli"}
    assert _imports("terrasight.io.m", src, known, type_checking=False) == {
        "terrasight.tasks.change",
        "terrasight.server",
    }
    assert "terrasight.cli" in _imports("terrasight.io.m", src, known)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
