"""The models layer's contracts, read from the source: no import cycle inside ``models/``
(imports inside functions count), no import of a higher layer, a leaf config module,
builders that never reach back into the registry, and no module-level caches."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import terrasight
from terrasight.models.builtins import (
    EFFICIENTNET_LITE,
    LIT_PROJECTION,
    OPEN_CLIP_VIT,
    SIAMESE_FPN,
)

SRC = Path(terrasight.__file__).resolve().parent
MODELS = sorted((SRC / "models").glob("*.py"))
EMBED = SRC / "tasks" / "embed.py"
LOWER = ("terrasight.errors", "terrasight.plugins", "terrasight.io", "terrasight.models")
"""What a module of ``models/`` may import from terrasight (io -> models -> tasks -> ... -> cli)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = SRC.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> set[str]:
    """The terrasight modules ``path`` imports anywhere (functions included), except under
    ``if TYPE_CHECKING:``; ``from pkg import sub`` counts as importing ``pkg.sub``."""
    package = module_name(path.parent / "__init__.py")
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if _is_type_checking(node.test):
                for child in node.orelse:
                    self.visit(child)
            else:
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if _is_module(sub) else base)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in found if name == "terrasight" or name.startswith("terrasight.")}


def graph() -> dict[str, set[str]]:
    names = {module_name(p) for p in MODELS}
    return {module_name(p): imports(p) & names for p in MODELS}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search (one per back edge)."""
    found, state = [], dict.fromkeys(edges, 0)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state[nxt] == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif state[nxt] == 0:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if state[node] == 0:
            visit(node)
    return found


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return seen


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_models() -> None:
    edges = graph()
    assert "terrasight.models.registry" in edges and len(edges) == len(MODELS)
    assert cycles(edges) == []


def test_models_import_no_higher_layer() -> None:
    for path in MODELS:
        higher = sorted(n for n in imports(path) if not n.startswith(LOWER))
        assert higher == [], f"{path.name} imports {higher}"
    embed = imports(EMBED)
    assert not any(
        n == "terrasight"
        or n.startswith(("terrasight.cli", "terrasight.training", "terrasight.eval"))
        for n in embed
    ), sorted(embed)


def test_config_is_a_leaf() -> None:
    assert imports(SRC / "models" / "config.py") == {"terrasight.errors"}


@pytest.mark.parametrize("arch", [EFFICIENTNET_LITE, SIAMESE_FPN, LIT_PROJECTION, OPEN_CLIP_VIT])
def test_built_modules_never_reach_the_registry(arch) -> None:
    """What the registry builds gets its backbone handed to it: neither a builder's module
    nor anything it imports may import the registry, its entry-point lookups or the package."""
    start = str(arch.builder).partition(":")[0]
    reached = reachable(graph(), start)
    back = {"terrasight.models", "terrasight.models.registry", "terrasight.models.plugins"}
    assert start in reached and not reached & back, sorted(reached & back)


def _caches(path: Path) -> list[str]:
    """Module-level caches: ``lru_cache``/``cache`` decorating any function or method, or
    called in a module-level statement (a cache created inside a function is that call's)."""
    names = {"lru_cache", "cache"}

    def is_cache(node: ast.expr) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        return (isinstance(target, ast.Name) and target.id in names) or (
            isinstance(target, ast.Attribute) and target.attr in names
        )

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [
        f"{path.name}:{node.lineno} @{ast.unparse(d)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for d in node.decorator_list
        if is_cache(d)
    ]
    for statement in tree.body:
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            calls = [n for n in ast.walk(statement) if isinstance(n, ast.Call) and is_cache(n)]
            found += [f"{path.name}:{n.lineno} {ast.unparse(n)}" for n in calls]
    return found


def test_the_cache_finder_sees_decorators_and_module_level_calls(tmp_path: Path) -> None:
    code = "import functools\n@functools.lru_cache\ndef f(): pass\ng = functools.cache(f)\n"
    (tmp_path / "m.py").write_text(code)
    assert len(_caches(tmp_path / "m.py")) == 2


def test_no_module_level_cache_in_models_or_embed() -> None:
    assert [c for p in [*MODELS, EMBED] for c in _caches(p)] == []
    assert "lru_cache" not in EMBED.read_text(encoding="utf-8")


def test_thread_counts_are_set_only_through_runtime() -> None:
    setters = [
        p.name
        for p in MODELS
        if p.name != "runtime.py" and "set_num_threads" in p.read_text(encoding="utf-8")
    ]
    assert setters == []
