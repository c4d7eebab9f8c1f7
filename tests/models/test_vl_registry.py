"""The shipped image-text model: its registry entry, verified weights, a corrupt copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from terrasight.models import get_config, list_models
from terrasight.models.weights import ModelWeightsError, verified_path, verify_file


def test_vl_entry_is_listed_and_its_weights_verify() -> None:
    assert "terrasight-vl" in list_models("vl")
    config = get_config("terrasight-vl")
    assert config.arch == "lit-projection" and config.backbone == "efficientnet-lite0-head"
    path = verified_path(config.weights)
    assert path.suffix == ".npz" and 100_000 < path.stat().st_size < 4_000_000  # a few MB at most
    assert config.extra["training"]["validation"]["mR"] > 14.2  # beats the baseline probe


def test_a_corrupt_copy_fails_clearly(tmp_path: Path) -> None:
    spec = get_config("terrasight-vl").weights
    copy = tmp_path / spec.file
    shutil.copy(verified_path(spec), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelWeightsError, match="corrupt: sha256"):
        verify_file(copy, spec)
    copy.write_bytes(bytes(data[:-10]))
    with pytest.raises(ModelWeightsError, match="corrupt: .* bytes instead of"):
        verify_file(copy, spec)


def test_the_shipped_model_builds() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    from terrasight.models import create_model
    from terrasight.models.vl_net import tuned_parameter_names

    config = get_config("terrasight-vl")
    model = create_model("terrasight-vl")
    assert not any(p.requires_grad for p in model.parameters())
    assert model.heads.image_proj.out_features == config.params["dim"]
    start = config.params.get("tuned_from_block")
    tuned = set() if start is None else set(tuned_parameter_names(model.encoder, start))
    assert (config.params["variant"] == "tune-last") == bool(tuned)
    imagenet = create_model(config.backbone).state_dict()
    for name, value in model.encoder.state_dict().items():
        # the shipped fine-tuned blocks replace ImageNet's; everything else is ImageNet's
        assert value.equal(imagenet[name]) == (name not in tuned), name


def test_text_embeddings_are_kept_on_disk_for_these_weights(tmp_path, monkeypatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    import numpy as np
    import torch

    from terrasight.models import create_model

    monkeypatch.setenv("TERRASIGHT_CACHE", str(tmp_path))
    texts = ["an aerial image of a river.", "an aerial image of a forest."]
    first = create_model("terrasight-vl").embed_texts(texts)
    again = create_model("terrasight-vl")
    kept = again.embed_texts(texts)
    assert np.array_equal(first, kept) and not again._text  # the encoder was never loaded
    assert len(list((tmp_path / "text-embeddings").glob("*.npy"))) == 1
    with torch.no_grad():
        again.heads.text_proj.weight.mul_(-1.0)  # other weights: embedded afresh
        again.heads.text_proj.bias.mul_(-1.0)
    flipped = again.embed_texts(texts)
    assert again._text and np.allclose(flipped, -first, atol=1e-5)
