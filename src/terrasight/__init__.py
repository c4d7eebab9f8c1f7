"""terrasight: ask satellite and aerial images what changed, where and how much.

The public surface is small:

>>> import terrasight
>>> pair = terrasight.open("2019.tif", "2024.tif")              # doctest: +SKIP
>>> result = terrasight.detect_changes("2019.tif", "2024.tif")  # doctest: +SKIP
>>> result.save("changes/")                                     # doctest: +SKIP
>>> terrasight.describe("changes/").text                         # doctest: +SKIP
'Some houses are built on the bareland at the top.'
>>> terrasight.ask("changes/", question="how many new buildings?").text  # doctest: +SKIP
'4 new built-up objects (objects 1, 3, 5, 6).'
>>> agent = terrasight.Agent("changes/")                        # doctest: +SKIP
>>> agent.ask("how many changes are in the north?").value       # doctest: +SKIP
3
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names and the modules they live in; imported on first use so that
# ``import terrasight`` stays light.
_EXPORTS = {
    "open": ("terrasight.io", "open"),
    "detect_changes": ("terrasight.tasks.semantic.detect", "detect_changes"),
    "classify_changes": ("terrasight.tasks.semantic.run", "classify_changes"),
    "detect_series": ("terrasight.tasks.series.detect", "detect_series"),
    "load_series": ("terrasight.tasks.series.result", "load_series"),
    "SeriesResult": ("terrasight.tasks.series.result", "SeriesResult"),
    "list_methods": ("terrasight.tasks.change.methods.registry", "list_methods"),
    "ChangeResult": ("terrasight.tasks.change.result", "ChangeResult"),
    "ChangeObject": ("terrasight.tasks.change.result", "ChangeObject"),
    "TerrasightError": ("terrasight.errors", "TerrasightError"),
    "embed_images": ("terrasight.tasks.embed", "embed_images"),
    "embed_texts": ("terrasight.tasks.embed", "embed_texts"),
    "classify": ("terrasight.tasks.embed", "classify"),
    "search": ("terrasight.tasks.embed", "search"),
    "describe": ("terrasight.tasks.interpret.describe", "describe"),
    "ask": ("terrasight.tasks.interpret.ask", "ask"),
    "Answer": ("terrasight.tasks.interpret.ask", "Answer"),
    "ask_image": ("terrasight.tasks.scene_ask.ask", "ask_image"),
    "change_facts": ("terrasight.tasks.interpret.facts", "change_facts"),
    "load_result": ("terrasight.tasks.change.load", "load_result"),
    "Agent": ("terrasight.agent.agent", "Agent"),
    "landcover": ("terrasight.tasks.landcover.run", "landcover"),
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from terrasight.agent.agent import Agent  # noqa: F401
    from terrasight.errors import TerrasightError  # noqa: F401
    from terrasight.io import open  # noqa: F401
    from terrasight.tasks.change.load import load_result  # noqa: F401
    from terrasight.tasks.change.methods.registry import list_methods  # noqa: F401
    from terrasight.tasks.change.result import ChangeObject, ChangeResult  # noqa: F401
    from terrasight.tasks.embed import (  # noqa: F401
        classify,
        embed_images,
        embed_texts,
        search,
    )
    from terrasight.tasks.interpret.ask import Answer, ask  # noqa: F401
    from terrasight.tasks.interpret.describe import describe  # noqa: F401
    from terrasight.tasks.interpret.facts import change_facts  # noqa: F401
    from terrasight.tasks.landcover.run import landcover  # noqa: F401
    from terrasight.tasks.scene_ask.ask import ask_image  # noqa: F401
    from terrasight.tasks.semantic.detect import detect_changes  # noqa: F401
    from terrasight.tasks.semantic.run import classify_changes  # noqa: F401
    from terrasight.tasks.series.detect import detect_series  # noqa: F401
    from terrasight.tasks.series.result import SeriesResult, load_series  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attr = _EXPORTS[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'terrasight' has no attribute {name!r}")


logging.getLogger(__name__).addHandler(logging.NullHandler())
