"""``lit-projection`` entries with fine-tuned backbone blocks (variant ``tune-last``): weights
files holding ``encoder.<name>`` keys load over the ImageNet backbone, and only those."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from terrasight.models import create_model, create_model_from_file  # noqa: E402
from terrasight.models.vl_net import (  # noqa: E402
    PooledTail,
    heads_from_params,
    tuned_parameter_names,
)
from terrasight.models.weights import (  # noqa: E402
    ModelWeightsError,
    save_npz,
    shipped_weights_entry,
)

BACKBONE = "efficientnet-lite0-head"
PARAMS = {"image_dim": 1280, "text_dim": 384, "dim": 16, "variant": "linear", "image_size": 64}


@pytest.fixture(scope="module")
def pretrained():
    return create_model(BACKBONE)


def _entry(tmp_path: Path, params: dict, state: dict) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = save_npz(state, tmp_path / "m-v1.npz")
    entry = {
        "name": "m",
        "kind": "vl",
        "arch": "lit-projection",
        "backbone": BACKBONE,
        "params": params,
        "weights": shipped_weights_entry(path, "1"),
    }
    (tmp_path / "m.json").write_text(json.dumps(entry))
    return tmp_path / "m.json"


def _tuned_state(pretrained, start: int) -> tuple[dict, dict]:
    torch.manual_seed(0)
    heads = heads_from_params(PARAMS).state_dict()
    own = dict(pretrained.named_parameters())
    tuned = {
        n: (own[n].detach() + 0.01 * torch.randn_like(own[n])).half().float()
        for n in tuned_parameter_names(pretrained, start)
    }
    return heads, tuned


def test_tuned_names_cover_the_last_blocks_and_the_head(pretrained) -> None:
    last = tuned_parameter_names(pretrained, 15)
    assert all(n.startswith(("blocks.15.", "head.")) for n in last)
    assert {"blocks.15._expand_conv.weight", "head.0.weight", "head.1.bias"} <= set(last)
    assert not any("running" in n for n in last)  # batch-norm statistics stay ImageNet's
    two = tuned_parameter_names(pretrained, 14)
    assert set(last) < set(two) and any(n.startswith("blocks.14.") for n in two)
    assert tuned_parameter_names(pretrained, 16) == [n for n in last if n.startswith("head.")]
    with pytest.raises(ValueError, match="tuned_from_block"):
        tuned_parameter_names(pretrained, 17)


def test_the_split_tower_equals_the_whole_one(pretrained) -> None:
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        whole = pretrained(x)[-1].mean(dim=(2, 3))
        for block in (14, 15, 16):
            split = PooledTail(pretrained, block)(pretrained.entering(x, block))
            torch.testing.assert_close(split, whole)


def test_a_tune_last_entry_loads_its_blocks_over_the_pretrained_backbone(
    pretrained, tmp_path: Path
) -> None:
    heads, tuned = _tuned_state(pretrained, 15)
    params = {**PARAMS, "variant": "tune-last", "projection": "linear", "tuned_from_block": 15}
    model = create_model_from_file(
        _entry(tmp_path, params, {**heads, **{f"encoder.{k}": v for k, v in tuned.items()}})
    )
    reference = pretrained.state_dict()
    for name, value in model.encoder.state_dict().items():
        expected = tuned.get(name, reference[name])
        assert torch.equal(value, expected), name  # tuned ones replaced, all else untouched
    assert not any(p.requires_grad for p in model.parameters())
    for name, value in heads.items():
        torch.testing.assert_close(model.heads.state_dict()[name], value, atol=1e-3, rtol=1e-3)
    image = np.random.default_rng(0).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    frozen = create_model_from_file(_entry(tmp_path / "frozen", PARAMS, heads))
    assert not np.allclose(model.embed_images([image]), frozen.embed_images([image]), atol=1e-4)


def test_weights_that_do_not_match_the_variant_fail_clearly(pretrained, tmp_path: Path) -> None:
    heads, tuned = _tuned_state(pretrained, 15)
    encoder = {f"encoder.{k}": v for k, v in tuned.items()}
    params = {**PARAMS, "variant": "tune-last", "projection": "linear", "tuned_from_block": 15}
    incomplete = dict(list(encoder.items())[1:])
    with pytest.raises(ModelWeightsError, match="missing keys"):
        create_model_from_file(_entry(tmp_path / "a", params, {**heads, **incomplete}))
    with pytest.raises(ModelWeightsError, match="unknown keys"):  # a frozen-backbone entry
        create_model_from_file(_entry(tmp_path / "b", PARAMS, {**heads, **encoder}))
    frozen_block = {"encoder.blocks.3._bn0.weight": torch.ones(144)}
    with pytest.raises(ModelWeightsError, match="outside the blocks tuned from block 15"):
        create_model_from_file(_entry(tmp_path / "c", params, {**heads, **encoder, **frozen_block}))
