"""Nothing is kept between calls unless the caller passes a ModelCache; label prompts are
embedded once per label set. Uses a tiny CLIP built here (random weights, a 3-merge vocabulary)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("regex")

from terrasight.models.clip_net import ClipArch, ClipModel, ClipNet  # noqa: E402
from terrasight.models.clip_tokenizer import ClipTokenizer  # noqa: E402
from terrasight.models.runtime import ModelCache  # noqa: E402
from terrasight.tasks.embed import classify, embed_texts, load_model, search  # noqa: E402

MERGES = [("r", "i"), ("ri", "v"), ("e", "r</w>")]
ARCH = ClipArch(
    16,
    32,
    8,
    64,
    1,
    context_length=16,
    vocab_size=256 * 2 + len(MERGES) + 2,
    text_width=64,
    text_heads=1,
    text_layers=1,
)
LABELS = ["river", "forest", "field"]
TEMPLATES = ["a photo of a {}.", "an aerial image of {}."]


class CountingClip(ClipModel):
    """A real tiny CLIP that records each batch of texts it is asked to embed."""

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__(ClipNet(ARCH), ClipTokenizer(MERGES), {})
        self.text_calls: list[list[str]] = []

    def embed_texts(self, texts, batch_size: int = 64) -> np.ndarray:
        self.text_calls.append(list(texts))
        return super().embed_texts(texts, batch_size)


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(n)]


def test_label_prompts_are_embedded_once_for_many_images() -> None:
    model = CountingClip()
    images = _images(5)
    ranked = classify(images, LABELS, TEMPLATES, model=model)
    assert model.text_calls == [[t.format(label) for label in LABELS for t in TEMPLATES]]
    assert len(ranked) == 5
    for ranking in ranked:
        assert sorted(name for name, _ in ranking) == sorted(LABELS)
        assert sum(p for _, p in ranking) == pytest.approx(1, abs=1e-5)
    # one image at a time gives the same rankings (the batch changes nothing)
    for image, ranking in zip(images, ranked, strict=True):
        single = classify(image, LABELS, TEMPLATES, model=model)
        assert [n for n, _ in single] == [n for n, _ in ranking]
        np.testing.assert_allclose([p for _, p in single], [p for _, p in ranking], atol=1e-5)


def test_a_cache_keeps_label_embeddings_per_model_and_label_set() -> None:
    model, other = CountingClip(0), CountingClip(1)
    cache = ModelCache()
    image = _images(1)[0]
    first = classify(image, LABELS, TEMPLATES, model=model, cache=cache)
    assert classify(image, LABELS, TEMPLATES, model=model, cache=cache) == first
    classify(_images(3, seed=1), LABELS, TEMPLATES, model=model, cache=cache)
    assert len(model.text_calls) == 1  # three calls, one embedding of the prompts
    classify(image, LABELS[:2], TEMPLATES, model=model, cache=cache)
    classify(image, LABELS, TEMPLATES[:1], model=model, cache=cache)
    assert len(model.text_calls) == 3  # another label set, other templates: embedded anew
    classify(image, LABELS, TEMPLATES, model=other, cache=cache)
    assert len(other.text_calls) == 1 and len(model.text_calls) == 3  # keyed by model too
    # without a cache nothing is kept between calls
    classify(image, LABELS, TEMPLATES, model=model)
    classify(image, LABELS, TEMPLATES, model=model)
    assert len(model.text_calls) == 5


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """A tiny open_clip-format checkpoint with its vocabulary beside it."""
    vocab = "#version: tiny\n" + "".join(f"{a} {b}\n" for a, b in MERGES)
    (tmp_path / "bpe_simple_vocab_16e6.txt.gz").write_bytes(gzip.compress(vocab.encode()))
    torch.manual_seed(0)
    torch.save(ClipNet(ARCH).state_dict(), tmp_path / "tiny.pt")
    return tmp_path / "tiny.pt"


def test_a_cache_passed_in_is_reused_across_calls(tiny_checkpoint: Path, monkeypatch) -> None:
    cache = ModelCache()
    loaded = load_model("open-clip-vit", tiny_checkpoint, cache=cache)
    monkeypatch.chdir(tiny_checkpoint.parent)
    assert load_model("open-clip-vit", "tiny.pt", cache=cache) is loaded  # same file, same entry
    assert len(cache) == 1
    # a model given by name with the cache comes from it: the same object, every call
    for _ in range(2):
        assert load_model("open-clip-vit", tiny_checkpoint, cache=cache) is loaded
    hits = search("a river", _images(3), k=2, model=loaded, cache=cache)
    assert len(hits) == 2 and hits[0][1] >= hits[1][1] and len(cache) == 1
    np.testing.assert_allclose(
        embed_texts("a river", loaded, cache=cache), loaded.embed_texts(["a river"]), atol=1e-6
    )
    # without a cache, each call loads its own model: nothing kept at module level
    first, second = (load_model("open-clip-vit", tiny_checkpoint) for _ in range(2))
    assert first is not second and loaded not in (first, second)
    cache.clear()
    assert load_model("open-clip-vit", tiny_checkpoint, cache=cache) is not loaded
