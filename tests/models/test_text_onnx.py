"""The PyTorch-free text side of terrasight-vl gives the torch model's vectors and cache keys."""

from __future__ import annotations

import numpy as np
import pytest

from terrasight.models.text_onnx import text_embedder

TEXTS = ["a harbour with many boats", "dense residential area with green trees", "x"]


def test_only_lit_projection_entries_have_a_text_path():
    assert text_embedder("no-such-model") is None
    assert text_embedder("remoteclip-vit-b-32") is None


def test_onnx_text_vectors_equal_the_torch_model():
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("onnx")
    from terrasight.tasks.embed import load_model

    fast = text_embedder("terrasight-vl")
    assert fast is not None
    model = load_model("terrasight-vl")
    assert fast.cache_key(TEXTS) == model._text_key(TEXTS)  # one disk cache for both paths
    from terrasight.models.text_onnx import _unit, encode

    onnx_vectors = _unit(encode(TEXTS) @ fast.weight.T + fast.bias)  # computed, not cached
    torch_vectors = model.embed_texts(TEXTS)
    assert onnx_vectors.shape == torch_vectors.shape == (3, 128)
    np.testing.assert_allclose(onnx_vectors, torch_vectors, atol=1e-5)
    assert np.allclose(fast.embed(TEXTS), torch_vectors, atol=1e-5)  # now from the cache


def test_sentence_embeddings_equal_sentence_transformers_and_are_kept():
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("onnx")
    from terrasight.models.text_cache import text_cache_key
    from terrasight.models.text_onnx import sentence_embeddings
    from terrasight.models.vl_net import encode_sentences, load_text_encoder

    got = sentence_embeddings(TEXTS)
    want = encode_sentences(load_text_encoder(), TEXTS)
    assert got.shape == want.shape == (3, 384)
    np.testing.assert_allclose(got, want, atol=1e-5)
    from terrasight.io.cachedir import user_cache

    kept = user_cache("text-embeddings") / f"{text_cache_key([], TEXTS)}.npy"
    np.testing.assert_array_equal(np.load(kept), got)  # the next call reads no encoder
