"""A Siamese change network: one shared encoder for both dates, a light FPN decoder.

For each feature stride (2, 4, 8, 16) the two dates' features ``f1, f2`` are
fused by a 1x1 convolution of ``[|f1 - f2|, f1, f2]`` (``fusion="diff+concat"``)
or of ``|f1 - f2|`` alone (``"diff"``); a top-down decoder
merges the scales (upsample, concatenate, 3x3 convolution) and a 1x1
convolution gives change logits at stride 2, upsampled to the input size.
Only the decoder and the encoder blocks from ``train_from_block`` on are
trained; the rest is the ImageNet backbone, loaded from its own package, so
the shipped file holds only the trained layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from terrasight.errors import ModelWeightsError
from terrasight.models.checkpoints import load_partial
from terrasight.models.config import Backbone, ModelConfig
from terrasight.models.weights import load_npz, verified_path

FUSIONS = {"diff": 1, "diff+concat": 3}
"""How the two dates' features are combined, and the channel multiple it gives."""


def _conv_bn(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
    )


class SiameseDecoder(nn.Module):
    """Fuses the two dates' features scale by scale and decodes them top-down.

    Example:
        >>> dec = SiameseDecoder([16, 24], [8, 8])
        >>> f = [torch.zeros(2, 16, 8, 8), torch.zeros(2, 24, 4, 4)]
        >>> dec(f, f).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(
        self,
        feature_channels: Sequence[int],
        channels: Sequence[int],
        fusion: str = "diff+concat",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; use one of {sorted(FUSIONS)}")
        self.fusion = fusion
        k = FUSIONS[fusion]
        self.fuse = nn.ModuleList(
            _conv_bn(k * c, d, 1) for c, d in zip(feature_channels, channels, strict=True)
        )
        self.drop = nn.Dropout2d(dropout)
        self.top = _conv_bn(channels[-1], channels[-1], 3)
        self.merge = nn.ModuleList(
            _conv_bn(channels[i + 1] + channels[i], channels[i], 3)
            for i in range(len(channels) - 1)
        )
        self.head = nn.Conv2d(channels[0], 1, 1)

    def forward(self, feats1: list[torch.Tensor], feats2: list[torch.Tensor]) -> torch.Tensor:
        """Change logits at the resolution of the finest feature map."""
        fused = [
            self.drop(f(self._pair(a, b)))
            for f, a, b in zip(self.fuse, feats1, feats2, strict=True)
        ]
        y = self.top(fused[-1])
        for i in range(len(fused) - 2, -1, -1):
            y = F.interpolate(y, size=fused[i].shape[-2:], mode="bilinear", align_corners=False)
            y = self.merge[i](torch.cat([y, fused[i]], 1))
        return self.head(y)

    def _pair(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.fusion == "diff":
            return (a - b).abs()
        return torch.cat([(a - b).abs(), a, b], 1)


class SiameseChangeNet(nn.Module):
    """Change logits for a pair of images in the backbone's input units.

    Inputs of any size are padded (reflect) to a multiple of ``multiple`` and
    the output is cropped back.

    Example:
        >>> model = create_model("siamese-effnet-lite0")  # doctest: +SKIP
        >>> model(torch.zeros(1, 3, 100, 90), torch.zeros(1, 3, 100, 90)).shape  # doctest: +SKIP
        torch.Size([1, 1, 100, 90])
    """

    def __init__(
        self,
        encoder: nn.Module,
        feature_channels: Sequence[int],
        channels: Sequence[int],
        train_from_block: int,
        multiple: int = 32,
        fusion: str = "diff+concat",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = SiameseDecoder(feature_channels, channels, fusion, dropout)
        self.train_from_block = int(train_from_block)
        self.multiple = int(multiple)

    def trained_keys(self) -> set[str]:
        """State-dict keys of the trained layers (the decoder and the fine-tuned blocks)."""
        keys = set()
        for key in self.state_dict():
            if key.endswith("num_batches_tracked"):
                continue
            parts = key.split(".")
            if parts[0] == "decoder" or (
                parts[:2] == ["encoder", "blocks"] and int(parts[2]) >= self.train_from_block
            ):
                keys.add(key)
        return keys

    def trained_state(self) -> dict[str, torch.Tensor]:
        """The trained part of the state dict (what the shipped weight file holds)."""
        keys = self.trained_keys()
        return {k: v for k, v in self.state_dict().items() if k in keys}

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        """Change logits ``(n, 1, h, w)`` for ``(n, 3, h, w)`` before and after images."""
        h, w = before.shape[-2:]
        ph, pw = -h % self.multiple, -w % self.multiple
        mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
        feats = []
        for x in (before, after):  # one date at a time: smaller activations, faster on CPU
            if ph or pw:
                x = F.pad(x, [0, pw, 0, ph], mode=mode)
            feats.append(self.encoder(x, no_grad_before=self.train_from_block))
        logits = self.decoder(feats[0], feats[1])
        logits = F.interpolate(logits, size=(h + ph, w + pw), mode="bilinear", align_corners=False)
        return logits[..., :h, :w]


_BLOCK_PAIRS = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """Fold every batch norm that follows a convolution into it (inference only, in place).

    The outputs do not change (up to rounding); inference gets faster.

    Example:
        >>> model = fold_batch_norms(create_model("siamese-effnet-lite0"))  # doctest: +SKIP
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    pairs = [(m, c, b) for m in model.modules() for c, b in _BLOCK_PAIRS if hasattr(m, b)]
    pairs += [(m, "conv_stem", "bn0") for m in model.modules() if hasattr(m, "conv_stem")]
    for module, conv, bn in pairs:
        if isinstance(getattr(module, bn), nn.BatchNorm2d):
            setattr(module, conv, fuse_conv_bn_eval(getattr(module, conv), getattr(module, bn)))
            setattr(module, bn, nn.Identity())
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                conv2d, norm = seq[i], seq[i + 1]
                assert isinstance(conv2d, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
                seq[i], seq[i + 1] = fuse_conv_bn_eval(conv2d, norm), nn.Identity()
    return model


def build(config: ModelConfig, pretrained: bool = True, *, backbone: Backbone) -> SiameseChangeNet:
    """Build a change entry of architecture ``siamese-fpn`` on its backbone.

    The backbone always gets its own pretrained (ImageNet) weights; ``pretrained``
    says whether the entry's trained layers are loaded too. The backbone module must
    return a list of feature maps with the channels its entry's ``params["channels"]``
    lists and keep its blocks in ``blocks`` (``train_from_block`` counts them).

    Raises:
        ModelWeightsError: weights are missing, corrupt, or the entry has none.

    Example:
        >>> model = build(get_config("siamese-effnet-lite0"),  # doctest: +SKIP
        ...               backbone=backbone_of(get_config("siamese-effnet-lite0")))
    """
    encoder = backbone.build(True)
    p = config.params
    model = SiameseChangeNet(
        encoder,
        backbone.config.params["channels"],
        p["decoder_channels"],
        p["train_from_block"],
        p.get("multiple", 32),
        p.get("fusion", "diff+concat"),
        p.get("dropout", 0.0),
    )
    if pretrained:
        if config.weights is None:
            raise ModelWeightsError(
                f"model {config.name!r} has no trained weights; train some with "
                "`terrasight train change` and pass checkpoint=, or use pretrained=False."
            )
        path = verified_path(config.weights)
        load_partial(model, load_npz(path), str(path), model.trained_keys())
    return model
