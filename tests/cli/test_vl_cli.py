"""The ``classify`` and ``search`` commands on a few real AID images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from terrasight.cli import main  # noqa: E402
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


def test_an_open_clip_checkpoint_through_the_commands(tmp_path: Path) -> None:
    """A tiny open_clip-format checkpoint given with --checkpoint, its vocabulary beside it."""
    import gzip

    import numpy as np
    import torch
    from PIL import Image

    from terrasight.models.clip_net import ClipArch, ClipNet

    merges = [("r", "i"), ("ri", "v"), ("e", "r</w>")]
    vocab = "#version: tiny\n" + "".join(f"{a} {b}\n" for a, b in merges)
    (tmp_path / "bpe_simple_vocab_16e6.txt.gz").write_bytes(gzip.compress(vocab.encode()))
    arch = ClipArch(
        16,
        32,
        8,
        64,
        1,
        context_length=16,
        vocab_size=256 * 2 + len(merges) + 2,
        text_width=64,
        text_heads=1,
        text_layers=1,
    )
    g = torch.Generator().manual_seed(0)
    state = {
        k: 0.2 * torch.randn(v.shape, generator=g) for k, v in ClipNet(arch).state_dict().items()
    }
    torch.save(state, tmp_path / "tiny.pt")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(images / f"{i}.png")
    opts = ["--model", "open-clip-vit", "--checkpoint", str(tmp_path / "tiny.pt"), "--json"]
    result = CliRunner().invoke(
        classify, [str(images / "0.png"), "--labels", "river,forest", *opts]
    )
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.stdout)
    assert {r["label"] for r in ranked} == {"river", "forest"}
    assert abs(sum(r["score"] for r in ranked) - 1) < 1e-3
    result = CliRunner().invoke(search, ["a river", str(images), "-k", "2", *opts])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2
    args = ["classify", str(images / "0.png"), "--labels", "a,b", *opts[:2]]
    result = CliRunner().invoke(main, args)  # through the group: one clear line, no traceback
    assert result.exit_code == 7 and "Error: model 'open-clip-vit'" in result.output
    assert "--checkpoint PATH" in result.output and "Traceback" not in result.output
    args[-1:] = ["open-clip-vit", "--checkpoint", str(tmp_path / "nope.pt")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 7 and "nope.pt does not exist" in result.output
