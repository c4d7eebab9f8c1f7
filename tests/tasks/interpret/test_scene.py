"""Scene captions from caption banks built on real AID images and RSICD captions."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from terrasight.errors import InvalidOptionError, ModelWeightsError
from terrasight.tasks.interpret.bank import CaptionBank, class_words
from terrasight.tasks.interpret.scene import SceneCaption, caption_embedding, consensus_scores

CLASSES = ("Airport", "Beach", "Forest")


def test_consensus_prefers_the_caption_the_others_agree_with() -> None:
    texts = [
        "many green trees are in a forest .",
        "a piece of green forest with many trees .",
        "many green trees are in a dense forest .",
        "a yellow beach is near the blue sea .",
    ]
    scores = consensus_scores(texts)
    assert scores.shape == (4,)
    assert int(np.argmax(scores)) in (0, 2) and scores[3] == scores.min()
    assert consensus_scores(["only one ."]).tolist() == [0.0]


def test_scene_caption_to_dict() -> None:
    cap = SceneCaption("a river .", (("river", 0.75),), (("a lake .", 0.5),))
    assert cap.to_dict() == {
        "text": "a river .",
        "classes": [{"class": "river", "score": 0.75}],
        "candidates": [{"text": "a lake .", "score": 0.5}],
        "caveats": [],
    }


def _toy_bank(dim: int = 4) -> CaptionBank:
    emb = np.eye(dim, dtype=np.float32)[:3]
    return CaptionBank(
        captions=("a forest .", "a green forest .", "a river .", "a yellow beach ."),
        image_names=("f1.jpg", "f2.jpg", "b1.jpg"),
        classes=("Beach", "Forest"),
        image_class=np.array([1, 1, 0]),
        image_embeddings=emb,
        pair_image=np.array([0, 0, 1, 1, 2]),
        pair_caption=np.array([0, 1, 0, 1, 3]),
        model_name="toy",
        model_sha256="0" * 64,
        probe=np.zeros(dim, np.float32),
    )


def test_caption_embedding_on_a_toy_bank() -> None:
    bank = _toy_bank()
    cap = caption_embedding(np.array([1.0, 0.9, 0.0, 0.0]), bank, k=2)
    assert cap.text in ("a forest .", "a green forest .")
    assert cap.classes == (("forest", 1.0),)
    assert [t for t, _ in cap.candidates] == [c for c in bank.captions[:2] if c != cap.text]
    with pytest.raises(InvalidOptionError, match="at least 1"):
        caption_embedding(np.ones(4), bank, k=0)
    with pytest.raises(InvalidOptionError, match="4 dimensions"):
        caption_embedding(np.ones(3), bank)


def test_class_words() -> None:
    assert class_words("BaseballField") == "baseball field"


# --- with the image-text model ------------------------------------------------------------

learned = pytest.mark.skipif(
    any(
        __import__("importlib").util.find_spec(m) is None
        for m in ("torch", "sentence_transformers", "efficientnet_lite_pytorch")
    ),
    reason="needs the learned extras (pip install terrasight[learned])",
)


SHARED_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
    )
).resolve()


@pytest.fixture(scope="module")
def data_dir() -> Path:
    if not (SHARED_DATA / "aid").is_dir() or not (SHARED_DATA / "rsicd").is_dir():
        pytest.skip(f"AID/RSICD not found under {SHARED_DATA} (set TERRASIGHT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def small_bank(data_dir: Path) -> CaptionBank:
    from terrasight.training.caption_bank import build_caption_bank

    return build_caption_bank(data_dir, classes=list(CLASSES), per_class=15, threads=1)


@pytest.fixture(scope="module")
def held_out(data_dir: Path) -> list:
    from terrasight.training.caption_bank import caption_eval_pairs

    pairs = caption_eval_pairs(data_dir, 0.1, "dev")
    return [[p for p in pairs if p.label == c][0] for c in CLASSES]


@learned
def test_a_held_out_image_gets_a_caption_of_its_class(small_bank, held_out) -> None:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.interpret.scene import caption_image

    cache = ModelCache()
    for pair in held_out:
        assert pair.name not in small_bank.image_names
        cap = caption_image(pair.path, bank=small_bank, cache=cache, k=10)
        own = {
            small_bank.captions[c]
            for i, c in zip(small_bank.pair_image, small_bank.pair_caption, strict=True)
            if small_bank.classes[small_bank.image_class[i]] == pair.label
        }
        assert cap.text in own, (pair.name, cap.text)
        assert cap.classes[0][0] == class_words(pair.label)
        assert 0 < cap.classes[0][1] <= 1
        assert len(cap.candidates) == 4 and cap.text not in dict(cap.candidates)
        assert all(s <= cap.candidates[0][1] + 1e-12 for _, s in cap.candidates)


@learned
def test_array_file_and_geotiff_give_the_same_caption(small_bank, held_out, make_raster) -> None:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.interpret.scene import caption_image

    cache = ModelCache()
    path = held_out[1].path
    arr = np.asarray(Image.open(path).convert("RGB"))
    tif = make_raster("scene.tif", np.moveaxis(arr, -1, 0))
    from_file = caption_image(path, bank=small_bank, cache=cache)
    assert caption_image(arr, bank=small_bank, cache=cache) == from_file
    assert caption_image(tif, bank=small_bank, cache=cache) == from_file
    again = caption_image(path, bank=small_bank)  # no cache: a fresh model, same answer
    assert again.to_dict() == from_file.to_dict()


@learned
def test_a_bank_of_another_model_is_refused(small_bank, held_out) -> None:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.embed import load_model
    from terrasight.tasks.interpret.scene import caption_image

    cache = ModelCache()
    other = dataclasses.replace(small_bank, model_sha256="f" * 64)
    with pytest.raises(ModelWeightsError, match="terrasight train caption-bank"):
        caption_image(held_out[0].path, bank=other, cache=cache)
    renamed = dataclasses.replace(small_bank, model_name="remoteclip-vit-b-32")
    with pytest.raises(ModelWeightsError, match="built with model 'remoteclip-vit-b-32'"):
        caption_image(held_out[0].path, bank=renamed, cache=cache)
    vl = load_model("terrasight-vl", cache=cache)  # a loaded model: told apart by the probe
    assert caption_image(held_out[0].path, model=vl, bank=small_bank).text
    flipped = dataclasses.replace(small_bank, probe=-small_bank.probe)
    with pytest.raises(ModelWeightsError, match="embeds images differently"):
        caption_image(held_out[0].path, model=vl, bank=flipped)


@learned
def test_the_shipped_bank_captions_a_caption_test_image(data_dir) -> None:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.interpret.scene import caption_image
    from terrasight.training.caption_bank import caption_eval_pairs

    pair = caption_eval_pairs(data_dir, 0.1, "test")[0]
    cache = ModelCache()
    cap = caption_image(pair.path, cache=cache)
    assert cap.text and cap.classes and len(cap.candidates) == 4
    assert caption_image(pair.path, cache=cache) == cap
