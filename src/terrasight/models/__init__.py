"""Learned models: a registry of backbones, change networks and image-text models, and their weights.

Listing and describing models needs only the standard library; building one
(:func:`create_model`) needs PyTorch: ``pip install terrasight[learned]``.
Entries, architectures and backbones come from entry points (:mod:`terrasight.models.plugins`),
so other packages can add their own.

>>> from terrasight.models import list_models
>>> list_models()  # doctest: +NORMALIZE_WHITESPACE
['efficientnet-lite0', 'efficientnet-lite0-head', 'georsclip-vit-b-32', 'georsclip-vit-h-14',
 'georsclip-vit-l-14', 'open-clip-vit', 'open-clip-vit-quickgelu', 'remoteclip-vit-b-32',
 'remoteclip-vit-l-14', 'siamese-effnet-lite0', 'skyclip-vit-b-32', 'skyclip-vit-l-14', 'terrasight-vl']
"""

from __future__ import annotations

from terrasight.errors import MissingDependencyError
from terrasight.models.config import Architecture, Backbone, ModelConfig, WeightsSpec
from terrasight.models.registry import (
    INSTALL_HINT,
    create_model,
    create_model_from_file,
    get_config,
    list_architectures,
    list_models,
    require_torch,
)

__all__ = [
    "INSTALL_HINT",
    "Architecture",
    "Backbone",
    "MissingDependencyError",
    "ModelConfig",
    "WeightsSpec",
    "create_model",
    "create_model_from_file",
    "get_config",
    "list_architectures",
    "list_models",
    "require_torch",
]
