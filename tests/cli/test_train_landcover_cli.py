"""``terrasight train landcover``: a wrong data folder is named, with what to pass instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from terrasight.cli import main

pytest.importorskip("torch")


def test_data_folder_without_tiles_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "landcover").mkdir()
    res = CliRunner().invoke(
        main,
        ["train", "landcover", "--data", str(tmp_path), "-o", str(tmp_path / "run"), "--dice", "1"],
    )
    assert res.exit_code != 0
    assert str(tmp_path) in res.output and "--data" in res.output
    assert not (tmp_path / "run" / "best.pt").exists()


def test_negative_dice_weight_is_refused(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["train", "landcover", "--data", str(tmp_path), "--dice", "-1"])
    assert res.exit_code == 2 and "--dice" in res.output
