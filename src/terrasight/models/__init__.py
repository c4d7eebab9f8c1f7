"""Learned models: a registry of backbones and change networks, and their weights.

Listing and describing models needs only the standard library; building one
(:func:`create_model`) needs PyTorch: ``pip install terrasight[learned]``.

>>> from terrasight.models import list_models
>>> list_models()
['efficientnet-lite0', 'efficientnet-lite0-head', 'siamese-effnet-lite0', 'terrasight-vl']
"""

from __future__ import annotations

from terrasight.models.registry import (
    INSTALL_HINT,
    MissingDependencyError,
    ModelConfig,
    WeightsSpec,
    create_model,
    get_config,
    list_models,
    require_torch,
)

__all__ = [
    "INSTALL_HINT",
    "MissingDependencyError",
    "ModelConfig",
    "WeightsSpec",
    "create_model",
    "get_config",
    "list_models",
    "require_torch",
]
