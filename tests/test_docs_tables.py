"""The docs' benchmark tables come from benchmarks/results/*.json, and every marker has a table."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _tables():
    spec = importlib.util.spec_from_file_location("gen_tables", DOCS / "gen_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_marker_in_the_docs_names_a_table():
    gen = _tables()
    used = {m for page in DOCS.rglob("*.md") for m in gen.MARKER.findall(page.read_text())}
    assert used and used <= set(gen.TABLES)
    assert "<!-- bench:" not in gen.render("\n".join(f"<!-- bench: {m} -->" for m in used))


def test_a_table_shows_the_figure_of_its_file():
    gen = _tables()
    data = json.loads((ROOT / "benchmarks/results/change_accuracy.json").read_text())
    f1 = data["airchange"]["learned"]["pooled"]["f1"]
    row = next(
        r for r in gen.change_airchange().splitlines() if r.startswith("| `learned` (default")
    )
    assert f"{f1:.3f}" in row
    assert re.search(r"change_accuracy\.json", gen.change_airchange())
