"""Land-cover training pieces: the Dice loss, the scores, and starting from an ONNX file."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from terrasight.errors import ModelWeightsError  # noqa: E402
from terrasight.training.landcover import (  # noqa: E402
    LandCoverTrainConfig,
    confusion,
    iou_table,
    soft_dice_loss,
)
from terrasight.training.landcover_data import IGNORE  # noqa: E402


def _logits(labels: torch.Tensor, n: int = 5, scale: float = 30.0) -> torch.Tensor:
    onehot = torch.nn.functional.one_hot(labels.clamp(max=n - 1), n).permute(0, 3, 1, 2)
    return onehot.float() * scale


def test_dice_is_low_when_right_high_when_wrong_and_ignores_unlabelled() -> None:
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.integers(0, 5, (2, 16, 16)))
    assert float(soft_dice_loss(_logits(y), y)) < 0.01
    wrong = (y + 1) % 5
    assert float(soft_dice_loss(_logits(wrong), y)) > 0.9
    # unlabelled pixels predicted anything change nothing
    y_ign = y.clone()
    y_ign[:, :4] = IGNORE
    pred = _logits(y)
    pred[:, :, :4] = _logits(wrong)[:, :, :4]
    assert float(soft_dice_loss(pred, y_ign)) < 0.01


def test_dice_weighs_a_rare_class_like_a_common_one() -> None:
    y = torch.zeros((1, 20, 20), dtype=torch.long)
    y[0, :2, :2] = 2  # 1% of the pixels
    miss_rare = _logits(torch.zeros_like(y))
    # missing 1% of the pixels costs a whole class's share of the loss (1/5 of it, less the
    # smoothing) while cross-entropy would lose 1%
    assert 0.15 < float(soft_dice_loss(miss_rare, y)) - float(soft_dice_loss(_logits(y), y))


def test_iou_counts_unknown_as_a_miss() -> None:
    labels = np.array([0, 0, 1, 1])
    with_unknown = iou_table(confusion(np.array([0, 5, 1, 1]), labels), ("a", "b"))
    right = iou_table(confusion(np.array([0, 0, 1, 1]), labels), ("a", "b"))
    assert right["mean_iou"] == 1.0 and with_unknown["a"] == 0.5


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(TypeError):
        LandCoverTrainConfig(**{"dice": 1.0, "no_such_option": 1})  # type: ignore[arg-type]


def test_start_from_the_shipped_onnx_file_gives_its_predictions() -> None:
    import onnxruntime as ort

    from terrasight.models.onnx_landcover import landcover_entry
    from terrasight.models.weights import weights_dir
    from terrasight.training.landcover_init import net_from_onnx

    entry = landcover_entry()
    path = weights_dir() / entry["weights"]["file"]
    width = entry["training"]["config"]["width"]
    net = net_from_onnx(path, width, 11).eval()
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
    x[:, :, :32] = 40  # a dark patch and a bright one: not one class everywhere
    x[:, :, 32:, :48] = 230
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = session.run(None, {"rgb": x})[0]
    with torch.no_grad():
        got = torch.softmax(net(torch.from_numpy(x)), 1).numpy()
    # the file's activations are 8-bit, the torch ones float: close, not equal
    assert np.abs(got - want).mean() < 0.02
    assert (got.argmax(1) == want.argmax(1)).mean() > 0.95
    with pytest.raises(ModelWeightsError, match="width"):
        net_from_onnx(path, width + 16, 11)


def test_recorded_command_repeats_the_configuration() -> None:
    from dataclasses import asdict

    from terrasight.training.landcover_export import train_command

    default = train_command(asdict(LandCoverTrainConfig()), "1")
    assert default.endswith("-o runs/landcover --version 1")
    cfg = asdict(LandCoverTrainConfig(lr=1e-3, backbone_lr=2e-4, dice=1.0, init="v1.onnx"))
    cmd = train_command(cfg, "2")
    for part in ("--lr 0.001", "--backbone-lr 0.0002", "--dice 1.0", "--init v1.onnx"):
        assert part in cmd
    # the command's own default for the encoder's rate (a tenth of --lr) is left implicit
    assert "--backbone-lr" not in train_command(
        asdict(LandCoverTrainConfig(lr=1e-3, backbone_lr=1e-4)), "2"
    )
