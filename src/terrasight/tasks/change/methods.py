"""The contract every change method follows, and the registry of methods.

A method is fitted once on a sample of windows spread over the scene (global
statistics, thresholds), then applied window by window. Applying it is a pure
function of the window, so windows can run in any order, on any thread, and a
job interrupted half way can resume with the same fitted parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from terrasight.errors import UnknownMethodError

Sample = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(before, after, valid)``: float32 ``(bands, h, w)`` twice and a bool ``(h, w)`` mask."""


class FittedChange(Protocol):
    """A change method fitted to one pair of images."""

    name: str
    threshold: float
    """Probability at or above which a pixel counts as changed."""

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Change probability in [0, 1], float32 ``(h, w)``; invalid pixels may hold anything."""

    def params(self) -> dict[str, Any]:
        """JSON-serialisable parameters: enough to rebuild the fitted method (see ``restore``)."""


@dataclass(frozen=True)
class MethodSpec:
    """A registered change method.

    ``fit(samples, band_names, **options)`` returns a :class:`FittedChange`;
    ``restore(params)`` rebuilds one from :meth:`FittedChange.params`.
    ``overlap`` is the context in pixels each window needs on every side.
    """

    name: str
    fit: Callable[..., FittedChange]
    restore: Callable[[dict[str, Any]], FittedChange]
    description: str
    overlap: int = 0
    min_bands: int = 1
    tile_size: int = 1024
    options: dict[str, Any] = field(default_factory=dict)


def registry() -> dict[str, MethodSpec]:
    """All change methods by name (built on each call: no global state)."""
    from terrasight.tasks.change import cva, irmad, learned

    specs = [cva.SPEC, irmad.SPEC, learned.SPEC]
    return {s.name: s for s in specs}


def get_method(name: str) -> MethodSpec:
    """Look up a change method by name, listing the alternatives when it is unknown."""
    methods = registry()
    if name not in methods:
        raise UnknownMethodError(f"unknown change method {name!r}. Available: {sorted(methods)}")
    return methods[name]


def list_methods() -> list[str]:
    """Names of the available change methods."""
    return sorted(registry())


def pooled(
    samples: Sequence[Sample], max_pixels: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stack the valid pixels of all samples: two float64 ``(n, bands)`` arrays.

    With ``max_pixels``, an evenly strided subset of about that many pixels
    (deterministic), to bound the memory and time of fitting statistics.
    """
    total = sum(int(v.sum()) for _, _, v in samples)
    step = max(1, -(-total // max_pixels)) if max_pixels else 1
    bs, as_ = [], []
    for b, a, v in samples:
        nb = b.shape[0]
        flat_b, flat_a = b.reshape(nb, -1)[:, ::step], a.reshape(nb, -1)[:, ::step]
        keep = v.reshape(-1)[::step]
        bs.append(flat_b[:, keep].T)
        as_.append(flat_a[:, keep].T)
    nb = samples[0][0].shape[0] if samples else 0
    if not bs:
        return np.empty((0, nb)), np.empty((0, nb))
    return np.concatenate(bs).astype(np.float64), np.concatenate(as_).astype(np.float64)
