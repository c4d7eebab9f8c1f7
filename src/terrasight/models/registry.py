"""The model registry: entries, and the architectures that build them.

Backbones, change heads and image-text models are entries, not code paths: an
entry (:class:`~terrasight.models.config.ModelConfig`) names the architecture it
builds (``arch``), its hyper-parameters and where its weights come from. Entries,
architectures and backbones are registered through entry points
(:mod:`terrasight.models.plugins`), terrasight's own as any other package's.
:func:`create_model` turns an entry into a PyTorch module; PyTorch is imported
only then, so listing and describing models works without it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from terrasight.errors import MissingDependencyError, ModelWeightsError, UnknownModelError
from terrasight.models.builtins import CONFIG_DIR, FULL_STACK
from terrasight.models.config import Architecture, Backbone, ModelConfig, WeightsSpec
from terrasight.models.plugins import (
    ARCHITECTURES,
    BACKBONES,
    architecture_names,
    backbone_names,
    find_architecture,
    model_configs,
)

__all__ = [
    "INSTALL_HINT",
    "MissingDependencyError",
    "ModelConfig",
    "WeightsSpec",
    "architecture_of",
    "backbone_of",
    "build_model",
    "config_dir",
    "create_model",
    "create_model_from_file",
    "get_config",
    "list_architectures",
    "list_models",
    "require_torch",
]

INSTALL_HINT = "pip install 'terrasight[learned]'"


def config_dir() -> Path:
    """The folder of terrasight's own registry entries (one JSON file per model).

    Example:
        >>> config_dir().name
        'configs'
    """
    return CONFIG_DIR


def list_models(kind: str | None = None) -> list[str]:
    """Names of the registered models (terrasight's and other packages'), optionally of one ``kind``.

    Example:
        >>> "siamese-effnet-lite0" in list_models("change")
        True
    """
    configs = model_configs()
    return sorted(n for n, c in configs.items() if kind is None or c.kind == kind)


def get_config(name: str) -> ModelConfig:
    """The registry entry of a model.

    Raises:
        UnknownModelError: no model of that name; the message lists the available ones.

    Example:
        >>> get_config("efficientnet-lite0").kind
        'backbone'
    """
    configs = model_configs()
    if name not in configs:
        raise UnknownModelError(f"unknown model {name!r}. Available: {sorted(configs)}")
    return configs[name]


def list_architectures(kind: str = "model") -> list[str]:
    """Names of the installed architectures: ``"model"`` (change and image-text heads) or
    ``"backbone"``.

    Example:
        >>> list_architectures("backbone")
        ['efficientnet-lite']
    """
    return backbone_names() if kind == "backbone" else architecture_names()


def architecture_of(config: ModelConfig) -> Architecture:
    """The architecture that builds an entry: from ``terrasight.backbones`` for backbone
    entries, from ``terrasight.architectures`` for the others.

    Raises:
        UnknownModelError: no such architecture is installed; the message lists those that are.

    Example:
        >>> architecture_of(get_config("siamese-effnet-lite0")).needs_backbone
        True
    """
    group = BACKBONES if config.kind == "backbone" else ARCHITECTURES
    try:
        return find_architecture(config.arch, group)
    except UnknownModelError as exc:
        raise UnknownModelError(
            f"model {config.name!r} uses architecture {config.arch!r}, which no installed "
            f"package provides ({exc})"
        ) from exc


def require_torch(arch: str | None = None) -> Any:
    """Import and return ``torch``, or raise a clear error saying how to install it.

    Args:
        arch: check only what this architecture (or backbone architecture) needs, as its
            entry point declares (the CLIP models need only PyTorch); default: PyTorch and
            EfficientNet-Lite, for the change models.

    Raises:
        MissingDependencyError: PyTorch or the other packages the models need are missing.
        UnknownModelError: no architecture of that name is installed.

    Example:
        >>> torch = require_torch()  # doctest: +SKIP
        >>> torch = require_torch("open-clip-vit")  # doctest: +SKIP
    """
    if arch is None:
        _require(FULL_STACK, "the learned change models need PyTorch and EfficientNet-Lite")
    else:
        only_backbone = arch in backbone_names() and arch not in architecture_names()
        group = BACKBONES if only_backbone else ARCHITECTURES
        found = find_architecture(arch, group)
        _require(
            found.requires, f"models of architecture {arch!r} need {' and '.join(found.requires)}"
        )
    return importlib.import_module("torch")


def missing_module(modules: Sequence[str]) -> str | None:
    """The first of ``modules`` that cannot be imported (without importing any), or None.

    Example:
        >>> missing_module(["json", "no_such_module_here"])
        'no_such_module_here'
    """
    for name in modules:
        if name in sys.modules:
            if sys.modules[name] is None:  # blocked, as ``import`` would find it
                return name
        elif importlib.util.find_spec(name) is None:
            return name
    return None


def _require(modules: tuple[str, ...], what: str) -> None:
    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} ({exc.name} is not installed): {INSTALL_HINT}"
        ) from exc


def create_model(
    name: str,
    pretrained: bool = True,
    checkpoint: str | Path | None = None,
    tokenizer: str | Path | None = None,
) -> Any:
    """Build a registered model as a PyTorch module (in eval mode).

    Args:
        name: a name from :func:`list_models`.
        pretrained: load the entry's weights (verified against their sha256);
            False gives random initialisation of everything the entry trains.
        checkpoint: a user's own PyTorch checkpoint of the same architecture (a
            file path or an ``https://`` URL of a ``state_dict``, full or only
            the trained layers), loaded over the pretrained weights. For architectures
            that load checkpoints themselves (the open_clip-format CLIP entries
            ``remoteclip-vit-b-32``, ``open-clip-vit``...) it is the model's own
            checkpoint, a local file or folder, used instead of the entry's hub file.
        tokenizer: CLIP entries only: the BPE vocabulary file or folder (default: found
            beside the checkpoint or in the usual places).

    Raises:
        UnknownModelError: unknown name, or its architecture is not installed.
        MissingDependencyError: PyTorch is not installed.
        ModelWeightsError: a weights file or checkpoint is missing, corrupt or does not fit.
        ValueError: ``tokenizer`` given for a model that has none.

    Example:
        >>> model = create_model("siamese-effnet-lite0")  # doctest: +SKIP
        >>> logits = model(before, after)  # doctest: +SKIP
        >>> clip = create_model("remoteclip-vit-b-32", checkpoint="RemoteCLIP-ViT-B-32.pt")  # doctest: +SKIP
    """
    config = get_config(name)
    if architecture_of(config).loads_checkpoints:
        return build_model(config, pretrained, checkpoint=checkpoint, tokenizer=tokenizer).eval()
    if tokenizer is not None:
        raise ValueError(f"model {name!r} has no tokenizer to set (tokenizer= is for CLIP models)")
    model = build_model(config, pretrained)
    if checkpoint is not None:
        from terrasight.models.checkpoints import load_checkpoint

        load_checkpoint(model, checkpoint)
    return model.eval()


def create_model_from_file(entry_file: str | Path) -> Any:
    """A model from a registry entry ``.json`` outside the registry, its weights file beside
    it: what ``terrasight train`` writes (eval mode).

    Raises:
        ModelWeightsError: the entry or its weights file is missing or corrupt.
        UnknownModelError: its architecture or backbone is not installed.

    Example:
        >>> model = create_model_from_file("runs/vl/terrasight-vl.json")  # doctest: +SKIP
    """
    from terrasight.models.weights import verify_file

    entry_file = Path(entry_file)
    try:
        config = ModelConfig.from_dict(json.loads(entry_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelWeightsError(f"cannot read model entry {entry_file}: {exc}") from exc
    if config.weights is None:
        raise ModelWeightsError(f"model entry {entry_file} names no weights file")
    folder = entry_file.resolve().parent
    weights = dataclasses.replace(config.weights, source=f"folder:{folder}")
    verify_file(folder / weights.file, weights)  # before building anything
    return build_model(dataclasses.replace(config, weights=weights), pretrained=True).eval()


def build_model(config: ModelConfig, pretrained: bool = True, **options: Any) -> Any:
    """Build the module of a (possibly modified) registry entry; see :func:`create_model`.

    The entry's architecture comes from its entry point; when it sits on a backbone,
    the backbone entry is resolved here and handed to the builder as a
    :class:`~terrasight.models.config.Backbone`. ``options`` go to builders that load
    their own checkpoints (``checkpoint=``, ``tokenizer=`` for ``open-clip-vit``).

    Raises:
        UnknownModelError: the architecture, or the backbone entry, is not installed.
        MissingDependencyError: a package the architecture needs is missing.
        TypeError: ``options`` for an architecture that takes none.

    Example:
        >>> import dataclasses
        >>> config = get_config("siamese-effnet-lite0")
        >>> config = dataclasses.replace(config, params={**config.params, "fusion": "diff"})
        >>> model = build_model(config, pretrained=False)  # doctest: +SKIP
    """
    arch = architecture_of(config)
    _require(
        arch.requires, f"models of architecture {arch.name!r} need {' and '.join(arch.requires)}"
    )
    if options and not arch.loads_checkpoints:
        raise TypeError(f"architecture {arch.name!r} takes no options {sorted(options)}")
    if arch.needs_backbone:
        options["backbone"] = backbone_of(config)
    return arch.load_builder()(config, pretrained, **options)


def backbone_of(config: ModelConfig) -> Backbone:
    """The backbone entry a head is built on, with a function building it.

    Raises:
        UnknownModelError: the entry names no backbone, an unknown one, or an entry that is
            not a backbone.

    Example:
        >>> backbone_of(get_config("siamese-effnet-lite0")).config.params["channels"]
        [16, 24, 40, 112]
    """
    if not config.backbone:
        raise UnknownModelError(
            f"model {config.name!r} (architecture {config.arch!r}) names no backbone entry"
        )
    backbone = get_config(config.backbone)
    if backbone.kind != "backbone":
        raise UnknownModelError(
            f"model {config.name!r} is built on {backbone.name!r}, a {backbone.kind!r} entry, "
            f"not a backbone. Backbones: {list_models('backbone')}"
        )
    return Backbone(backbone, functools.partial(build_model, backbone))
