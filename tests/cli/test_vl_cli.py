"""The ``classify`` and ``search`` commands on a few real AID images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from terrasight.cli.classify import classify  # noqa: E402
from terrasight.cli.search import search  # noqa: E402


def test_classify_and_search(shared_data: Path, tmp_path: Path) -> None:
    airport = shared_data / "aid" / "Airport" / "airport_1.jpg"
    result = CliRunner().invoke(
        classify, [str(airport), "--labels", "forest, airport,beach", "--json"]
    )
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.stdout)
    assert ranked[0]["label"] == "airport" and len(ranked) == 3
    for cls in ("Airport", "Beach", "Forest"):
        src = next((shared_data / "aid" / cls).glob("*_1.jpg"))
        shutil.copy(src, tmp_path / src.name)
    result = CliRunner().invoke(
        search, ["many planes parked at an airport", str(tmp_path), "-k", "2"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].endswith("airport_1.jpg")
    result = CliRunner().invoke(classify, [str(airport), "--labels", " , "])
    assert result.exit_code != 0 and "at least one" in result.output
