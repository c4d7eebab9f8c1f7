"""The backbone's padding fix and the Siamese change network."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from efficientnet_lite_pytorch import EfficientNet  # noqa: E402

from terrasight.models import create_model, get_config  # noqa: E402
from terrasight.models.backbones import SamePadConv2d  # noqa: E402
from terrasight.models.weights import resolve  # noqa: E402


def _package_features(image_size, x: torch.Tensor) -> torch.Tensor:
    """Stride-16 features of the package's own model, with its own padding."""
    net = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    state = torch.load(resolve(get_config("efficientnet-lite0").weights), weights_only=True)
    net.load_state_dict(state)
    net.eval()
    with torch.inference_mode():
        y = net._swish(net._bn0(net._conv_stem(x)))
        for block in net._blocks[:11]:
            y = block(y)
    return y


@pytest.fixture(scope="module")
def encoder():
    return create_model("efficientnet-lite0")


def test_features_equal_the_package_at_224(encoder):
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ours = encoder(x)[-1]
    assert torch.allclose(ours, _package_features(224, x), atol=1e-4)


def test_other_sizes_pad_like_tensorflow_same(encoder):
    x = torch.randn(1, 3, 200, 136, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ours = encoder(x)[-1]
    assert ours.shape[-2:] == (13, 9)  # ceil(200 / 16), ceil(136 / 16)
    # the package's fixed 224 px padding gets the size wrong; its dynamic mode is right
    assert _package_features(224, x).shape[-2:] != ours.shape[-2:]
    assert torch.allclose(ours, _package_features(None, x), atol=1e-4)


def test_same_pad_conv_output_size():
    conv = SamePadConv2d(3, 4, 5, stride=2)
    assert conv(torch.zeros(1, 3, 31, 32)).shape[-2:] == (16, 16)


def test_change_net_any_size_and_frozen_layers():
    model = create_model("siamese-effnet-lite0", pretrained=False).train()
    b = torch.randn(2, 3, 70, 45)
    out = model(b, b.flip(-1))
    assert out.shape == (2, 1, 70, 45)
    out.mean().backward()
    trained = model.trained_keys()
    for name, p in model.named_parameters():
        assert (p.grad is not None) == (name in trained), name
    bns = [m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)


def test_identical_dates_give_low_change_probability():
    model = create_model("siamese-effnet-lite0")
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(2)).clamp(-1, 1)
    with torch.inference_mode():
        prob = torch.sigmoid(model(x, x))
    assert float(prob.mean()) < 0.2


def test_folding_batch_norms_keeps_the_output():
    import copy

    from terrasight.models.change_net import fold_batch_norms

    model = create_model("siamese-effnet-lite0")
    folded = fold_batch_norms(copy.deepcopy(model))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert torch.allclose(model(x, x.flip(-1)), folded(x, x.flip(-1)), atol=1e-4)
