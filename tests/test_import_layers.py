"""Import layers: no module cycles in change detection and io, and io never reaches up to tasks.

Imports are read from the source (``ast``), inside functions too; only those
under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import terrasight

ROOT = Path(terrasight.__file__).parent
CHECKED = ("terrasight.tasks.change", "terrasight.io", "terrasight.cli.change")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, skip_type_checking: bool = True) -> set[str]:
    """terrasight modules imported anywhere in ``tree`` (a ``from m import x`` of a module: m.x)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if skip_type_checking and isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in MODULES}


def _graph() -> dict[str, set[str]]:
    return {
        name: _imports(ast.parse(path.read_text(encoding="utf-8"))) - {name}
        for name, path in MODULES.items()
    }


def _cycle_through(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A chain of imports from ``start`` back to itself, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph[node]):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_import_cycles_in_change_detection_and_io():
    graph = _graph()
    checked = [m for m in graph if m.startswith(CHECKED)]
    assert "terrasight.tasks.change.result" in checked and len(checked) > 20
    cycles = [c for m in checked if (c := _cycle_through(m, graph))]
    assert cycles == []


def test_io_never_imports_tasks_even_for_type_checking():
    for name, path in MODULES.items():
        if name.startswith("terrasight.io"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert not any(
                m.startswith("terrasight.tasks") for m in _imports(tree, skip_type_checking=False)
            ), name


def test_result_is_data_and_its_writers_only_type_check_it():
    graph = _graph()
    change = "terrasight.tasks.change."
    assert "terrasight.tasks.products.save" in graph[change + "result"]  # result.save()
    writers = (
        change + "output.vectors",
        "terrasight.tasks.products.report",
        change + "output.quicklook",
    )
    for writer in writers:
        assert change + "result" not in graph[writer], writer
    source = MODULES[change + "result"].read_text(encoding="utf-8")
    assert "write_text" not in source and "shutil" not in source and "json.dump" not in source


def test_methods_import_the_contract_not_the_registry():
    graph = _graph()
    change = "terrasight.tasks.change."
    methods = change + "methods."
    for method in ("cva", "irmad", "learned"):
        assert methods + "base" in graph[methods + method]
        assert methods + "registry" not in graph[methods + method], method
    assert not graph[methods + "registry"] & {methods + m for m in ("cva", "irmad", "learned")}
