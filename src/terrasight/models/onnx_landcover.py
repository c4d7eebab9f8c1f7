"""The shipped land-cover network on ONNX Runtime (no PyTorch at inference).

The model is described by a JSON entry shipped beside its ONNX file in
``terrasight/models/weights`` (:data:`ENTRY`): the file, its size and sha256
(checked before every load), the class names, the unsure threshold chosen on
the validation tile, and how it was trained and measured. The graph takes
``rgb`` ``(n, 3, h, w)`` float32 in 0-255 (h and w multiples of 32) and
returns ``prob`` ``(n, classes, h, w)``, softmax probabilities;
:meth:`LandCoverNetwork.probabilities` pads other sizes (reflect) and crops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import ModelWeightsError
from terrasight.models.config import WeightsSpec
from terrasight.models.onnx_change import pad_to_multiple
from terrasight.models.onnx_session import open_session
from terrasight.models.weights import verify_file, weights_dir

__all__ = ["ENTRY", "LandCoverNetwork", "landcover_entry", "load_landcover_network"]

ENTRY = "landcover-effnet-lite0.json"
"""File name of the shipped model's entry in ``terrasight/models/weights``."""
MULTIPLE = 32


def landcover_entry(path: str | Path | None = None) -> dict[str, Any]:
    """The model entry (a dict): the shipped one, or the ``landcover.json`` a training run wrote.

    Raises:
        ModelWeightsError: the entry is missing or not valid JSON.

    Example:
        >>> landcover_entry()["classes"][:2]
        ['building', 'road']
    """
    entry_path = weights_dir() / ENTRY if path is None else Path(path)
    try:
        entry = json.loads(entry_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelWeightsError(
            f"land-cover model entry {entry_path} cannot be read ({exc}). Reinstall terrasight, "
            "or train one with `terrasight train landcover` and pass its landcover.json."
        ) from None
    if path is not None and entry.get("weights", {}).get("source") == "package":
        entry["weights"]["source"] = f"folder:{entry_path.parent}"
    return dict(entry)


@dataclass
class LandCoverNetwork:
    """Class probabilities from the land-cover network, on one ONNX Runtime session.

    Attributes:
        session: the ONNX Runtime session.
        classes: names of the predicted classes, in output order.
        threshold: largest class probability under which a pixel is ``unknown``.
        entry: the model's entry (provenance, validation figures).

    Example:
        >>> net = load_landcover_network()  # doctest: +SKIP
        >>> net.probabilities(np.zeros((3, 100, 90), np.uint8)).shape  # doctest: +SKIP
        (5, 100, 90)
    """

    session: Any
    classes: tuple[str, ...]
    threshold: float
    entry: dict[str, Any]

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        """Probabilities ``(classes, h, w)`` float32 of a ``(3, h, w)`` RGB window in 0-255."""
        h, w = rgb.shape[-2:]
        x = pad_to_multiple(np.asarray(rgb, np.float32), MULTIPLE)[None]
        (prob,) = self.session.run(None, {"rgb": np.ascontiguousarray(x)})
        return np.asarray(prob[0, :, :h, :w], np.float32)


def load_landcover_network(
    entry: str | Path | None = None, threads: int = 1, float_model: bool = False
) -> LandCoverNetwork:
    """Open the land-cover network of an entry (the shipped one by default), checking its file.

    Args:
        entry: a ``landcover.json`` written by ``terrasight train landcover``; None: shipped.
        threads: ONNX Runtime intra-op threads.
        float_model: the float network even where the entry ships an 8-bit one.

    Raises:
        ModelWeightsError: the file is missing or corrupt.
        MissingDependencyError: onnxruntime is not installed.

    Example:
        >>> net = load_landcover_network()  # doctest: +SKIP
    """
    data = landcover_entry(entry)
    section = data["weights"]
    if not float_model and data.get("int8"):
        section = {**data["int8"], "source": section.get("source", "package")}
    fields = ("file", "version", "sha256", "size")
    spec = WeightsSpec(**{k: section[k] for k in fields}, source=section.get("source", "package"))
    if spec.source.startswith("folder:"):
        path = verify_file(Path(spec.source[len("folder:") :]) / spec.file, spec)
    else:
        path = verify_file(weights_dir() / spec.file, spec)
    session = open_session(path, threads, "the land-cover network")
    return LandCoverNetwork(
        session, tuple(data["classes"]), float(data.get("threshold", 0.0)), data
    )
