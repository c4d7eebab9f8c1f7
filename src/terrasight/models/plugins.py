"""Where architectures, backbones and registry entries come from: ``importlib.metadata`` entry points.

Three groups, read afresh on every call (installing a package is seen at once;
nothing is kept between calls):

``terrasight.architectures``
    name -> an :class:`~terrasight.models.config.Architecture` building the ``change``
    and ``vl`` entries whose ``arch`` is that name.
``terrasight.backbones``
    name -> an :class:`~terrasight.models.config.Architecture` building the
    ``backbone`` entries whose ``arch`` is that name.
``terrasight.model_configs``
    any name -> a folder of JSON entries (a path), or a function returning a folder or
    a list of entry dicts.

terrasight declares its own in ``pyproject.toml`` (:mod:`terrasight.models.builtins`);
another distribution adds its own the same way, e.g. in its ``pyproject.toml``::

    [project.entry-points."terrasight.architectures"]
    my-head = "my_package.models:MY_HEAD"
    [project.entry-points."terrasight.model_configs"]
    my_package = "my_package.models:CONFIG_DIR"

>>> "siamese-fpn" in architecture_names() and "efficientnet-lite" in backbone_names()
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from terrasight.errors import (
    DuplicatePluginError,
    PluginLoadError,
    TerrasightError,
    UnknownModelError,
)
from terrasight.models.config import KINDS, Architecture, ModelConfig
from terrasight.plugins import entry_point_table, load_entry_point
from terrasight.plugins import origin as _origin

ARCHITECTURES = "terrasight.architectures"
BACKBONES = "terrasight.backbones"
MODEL_CONFIGS = "terrasight.model_configs"


def _names(group: str) -> list[str]:
    return sorted(entry_point_table(group))


def architecture_names() -> list[str]:
    """Names of the installed architectures (group ``terrasight.architectures``).

    Example:
        >>> "open-clip-vit" in architecture_names()
        True
    """
    return _names(ARCHITECTURES)


def backbone_names() -> list[str]:
    """Names of the installed backbone architectures (group ``terrasight.backbones``).

    Example:
        >>> backbone_names()[:1]
        ['efficientnet-lite']
    """
    return _names(BACKBONES)


def find_architecture(name: str, group: str = ARCHITECTURES) -> Architecture:
    """The :class:`Architecture` registered as ``name`` in ``group`` (only that entry point is loaded).

    Raises:
        UnknownModelError: nothing of that name; the message lists the available ones.
        DuplicatePluginError: two distributions register the name.
        PluginLoadError: it cannot be imported or is not an Architecture.

    Example:
        >>> find_architecture("efficientnet-lite", BACKBONES).requires
        ('torch', 'efficientnet_lite_pytorch')
    """
    found = entry_point_table(group, name)
    what = "backbone architecture" if group == BACKBONES else "architecture"
    if name not in found:
        raise UnknownModelError(f"unknown {what} {name!r}. Available: {_names(group)}")
    arch = load_entry_point(found[name])
    if not isinstance(arch, Architecture) or arch.name != name:
        raise PluginLoadError(
            f"{_origin(found[name])} must give a terrasight.models.config.Architecture named "
            f"{name!r}, not {arch!r}"
        )
    return arch


def model_configs() -> dict[str, ModelConfig]:
    """Every registry entry of every ``terrasight.model_configs`` entry point, by name.

    Raises:
        TerrasightError: an entry point cannot be loaded, gives something that is not a
            list of entries, an entry is malformed, or two entries share a name.

    Example:
        >>> model_configs()["efficientnet-lite0"].kind
        'backbone'
    """
    configs: dict[str, ModelConfig] = {}
    origins: dict[str, str] = {}
    for _, ep in sorted(entry_point_table(MODEL_CONFIGS).items()):
        for config in _configs_of(ep):
            if config.name in configs:
                raise DuplicatePluginError(
                    f"model {config.name!r} is registered twice: by {origins[config.name]} "
                    f"and by {_origin(ep)}. Uninstall one of these packages."
                )
            configs[config.name], origins[config.name] = config, _origin(ep)
    return configs


def _configs_of(ep: EntryPoint) -> list[ModelConfig]:
    source = load_entry_point(ep)
    if callable(source):
        try:
            source = source()
        except Exception as exc:
            raise TerrasightError(f"{_origin(ep)} failed: {exc}") from exc
    if isinstance(source, (str, os.PathLike)):
        return configs_in_folder(source, _origin(ep))
    if not isinstance(source, Iterable) or isinstance(source, (bytes, dict)):
        raise TerrasightError(
            f"{_origin(ep)} must give a folder of JSON entries or a list of entry dicts, "
            f"not {type(source).__name__}"
        )
    return [_checked(item, f"{_origin(ep)}, item {i}") for i, item in enumerate(source)]


def configs_in_folder(folder: str | os.PathLike[str], origin: str = "") -> list[ModelConfig]:
    """The entries of a folder of JSON files, each named like its file (``<name>.json``).

    Raises:
        TerrasightError: the folder is missing, or a file is not a valid entry.

    Example:
        >>> from terrasight.models.builtins import CONFIG_DIR
        >>> len(configs_in_folder(CONFIG_DIR)) > 3
        True
    """
    path = Path(folder)
    where = f" (from {origin})" if origin else ""
    if not path.is_dir():
        raise TerrasightError(f"the folder of model entries {path}{where} does not exist")
    out = []
    for file in sorted(path.glob("*.json")):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TerrasightError(f"cannot read model entry {file}{where}: {exc}") from exc
        config = _checked(data, f"{file}{where}")
        if config.name != file.stem:
            raise TerrasightError(f"model entry {file}{where} is named {config.name!r}")
        out.append(config)
    return out


def _checked(data: Any, where: str) -> ModelConfig:
    if isinstance(data, ModelConfig):
        config = data
    else:
        try:
            config = ModelConfig.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise TerrasightError(f"{where} is not a model entry: {exc!r}") from exc
    if config.kind not in KINDS:
        raise TerrasightError(f"{where}: kind {config.kind!r} is not one of {list(KINDS)}")
    return config
