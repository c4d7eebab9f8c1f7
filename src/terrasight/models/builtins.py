"""terrasight's own architectures, backbones and registry entries, as its entry points name them.

``pyproject.toml`` registers these objects in the entry-point groups
``terrasight.architectures``, ``terrasight.backbones`` and ``terrasight.model_configs``,
the same way another package registers its own (see :mod:`terrasight.models.registry`).
Nothing here imports PyTorch: each builder is named as ``"module:function"`` and
imported only when a model is built.

>>> sorted(a.name for a in (SIAMESE_FPN, LIT_PROJECTION, OPEN_CLIP_VIT, EFFICIENTNET_LITE))
['efficientnet-lite', 'lit-projection', 'open-clip-vit', 'siamese-fpn']
"""

from __future__ import annotations

from pathlib import Path

from terrasight.models.config import Architecture

FULL_STACK = ("torch", "efficientnet_lite_pytorch")
"""What the EfficientNet-Lite models (and the heads built on them) need."""

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""The folder of terrasight's registry entries, one JSON file per model."""

EFFICIENTNET_LITE = Architecture(
    "efficientnet-lite", "terrasight.models.backbones:build", requires=FULL_STACK
)
"""Backbone: an EfficientNet-Lite ImageNet encoder with features at several strides."""

SIAMESE_FPN = Architecture(
    "siamese-fpn", "terrasight.models.change_net:build", requires=FULL_STACK, needs_backbone=True
)
"""Change network: a shared encoder for both dates and a light FPN decoder."""

LIT_PROJECTION = Architecture(
    "lit-projection", "terrasight.models.vl_net:build", requires=FULL_STACK, needs_backbone=True
)
"""Image-text model: frozen image and text towers with trained projections."""

OPEN_CLIP_VIT = Architecture(
    "open-clip-vit",
    "terrasight.models.clip_load:build",
    requires=("torch",),
    loads_checkpoints=True,
)
"""Image-text model: a ViT CLIP loaded from an open_clip-format checkpoint."""
