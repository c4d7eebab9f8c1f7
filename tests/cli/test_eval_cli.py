"""``terrasight eval change``: prints per-pair rows and pooled scores, writes JSON."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from terrasight.cli.eval import eval_group
from terrasight.errors import DatasetLayoutError


@pytest.fixture
def levir(tmp_path: Path) -> Path:
    """A LEVIR-layout folder with one 80x80 pair holding a planted bright rectangle."""
    rng = np.random.default_rng(5)
    root = tmp_path / "levir"
    for d in ("A", "B", "label"):
        (root / d).mkdir(parents=True)
    base = rng.normal(100, 12, (80, 80, 3))
    after = base * 0.9 + 8 + rng.normal(0, 3, base.shape)
    truth = np.zeros((80, 80), np.uint8)
    truth[20:44, 30:60] = 255
    after[truth > 0] = 240
    Image.fromarray(base.clip(0, 255).astype(np.uint8)).save(root / "A" / "t1.png")
    Image.fromarray(after.clip(0, 255).astype(np.uint8)).save(root / "B" / "t1.png")
    Image.fromarray(truth).save(root / "label" / "t1.png")
    return root


def test_eval_change_prints_pooled_f1_and_writes_json(levir, tmp_path):
    out = tmp_path / "scores.json"
    args = ["change", str(levir), "--layout", "levir", "--json", str(out), "--min-pixels", "5"]
    args += ["--method", "cva"]
    res = CliRunner().invoke(eval_group, args)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    f1 = data["pooled"]["f1"]
    assert f1 > 0.9 and data["pairs"][0]["name"] == "t1" and data["options"]["min_pixels"] == 5
    assert re.search(rf"F1 {f1:.4f}", res.output)
    for word in ("precision", "recall", "IoU", "overall accuracy", "kappa", "pooled"):
        assert word in res.output
    assert re.search(r"^t1\s", res.output, re.M)  # the per-pair row


def test_default_json_goes_to_the_current_folder(levir, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    res = CliRunner().invoke(eval_group, ["change", str(levir), "--layout", "levir"])
    assert res.exit_code == 0, res.output
    assert json.loads((work / "eval_change.json").read_text())["layout"] == "levir"


def test_bad_layout_raises_the_library_error(levir):
    res = CliRunner().invoke(eval_group, ["change", str(levir), "--layout", "airchange"])
    assert res.exit_code != 0
    assert isinstance(res.exception, DatasetLayoutError) and str(levir) in str(res.exception)


def test_main_cli_turns_the_error_into_a_message(levir):
    main = pytest.importorskip("terrasight.cli").main
    res = CliRunner().invoke(main, ["eval", "change", str(levir), "--layout", "airchange"])
    assert res.exit_code == 3 and "Error:" in res.output and "not an airchange-layout" in res.output
