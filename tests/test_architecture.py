"""The package's layers, kept: data flows one way and no module imports in a circle.

Layers, lowest first: ``errors`` < ``io`` < ``models`` < ``tasks`` < ``index`` <
``agent`` < ``eval`` < ``training`` < ``cli``, ``server``. A module may import
its own layer's modules and lower layers only (training scores its models with
``eval``'s metrics); the peers ``cli`` and ``server`` do not import each other. Every import counts, those
inside functions too; only imports under ``if TYPE_CHECKING:`` are left out
(they never run). The package root ``terrasight`` is the public facade on top.
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
    "tasks": 3,
    "index": 4,
    "agent": 5,
    "eval": 6,
    "training": 7,
    "cli": 8,
    "server": 8,
    "": 9,  # the facade, terrasight/__init__.py
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


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` except the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The terrasight modules that ``name`` imports (submodules where named so)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk(ast.parse(path.read_text(encoding="utf-8"))):
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


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {n: _imports(n, p, known) - {n} for n, p in modules.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_layer_has_a_rank():
    assert {_layer(m) for m in _modules()} <= set(RANKS)


def test_no_module_imports_a_higher_layer_or_a_peer():
    wrong = []
    for module, targets in _graph().items():
        here = _layer(module)
        for target in targets:
            there = _layer(target)
            if there != here and RANKS[there] >= RANKS[here]:
                wrong.append(f"{module} -> {target}")
    assert sorted(wrong) == []


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
    """The walker sees imports inside functions and skips TYPE_CHECKING blocks."""
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from terrasight.cli import main\n"
        "def f():\n    from terrasight.tasks import change\n    return change\n"
        "def g():\n    importlib.import_module('terrasight.server')\n"
    )
    known = {"terrasight.tasks", "terrasight.tasks.change", "terrasight.cli"}
    assert _imports("terrasight.io.m", src, known) == {
        "terrasight.tasks.change",
        "terrasight.server",
    }
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
