"""Disk caches of the semantic change benchmark, so that trying settings on a tile is cheap.

Two things do not depend on :class:`~terrasight.tasks.semantic.SemanticOptions`
(other than ``tile_size``, ``overlap`` and ``threshold``, which change the windows
or the classes but not the probabilities of one window) and are kept under
``.cache/semantic_change/`` of the repository:

* each pair's change result (the two GeoTIFFs, the change job's folder and the
  result itself, pickled without its objects): a run copies the folder, so the
  semantic step can rewrite it;
* the land-cover network's class probabilities of every window it was shown, keyed
  by the window's bytes and the network's weights (float32 ``.npy``, so a cached run
  gives exactly the figures of a fresh one).

Delete the folder to start again; ``--no-cache`` in the benchmark skips both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.tasks.change.names import STORE_NAME
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.change.store import ObjectsView
from terrasight.training.semantic_pairs import SemanticPair

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "semantic_change"


class CachedNetwork:
    """The land-cover network with its probabilities remembered on disk, window by window."""

    def __init__(self, network: Any, folder: Path) -> None:
        self.network = network
        self.threshold = network.threshold
        self.classes = network.classes
        self.entry = network.entry
        weights = network.entry.get("int8") or network.entry.get("weights", {})
        self.folder = folder / "prob32" / str(weights.get("sha256", "unknown"))[:16]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(rgb, np.float32)
        key = hashlib.sha1(x.tobytes() + str(x.shape).encode()).hexdigest()
        path = self.folder / f"{key}.npy"
        if path.is_file():
            self.hits += 1
            return np.load(path)
        self.misses += 1
        prob = np.asarray(self.network.probabilities(x), np.float32)
        part = path.with_name(path.name + ".part.npy")
        np.save(part, prob)
        part.replace(path)
        return prob


def cached_change(pair: SemanticPair, key: str, folder: Path, work: Path, write_pair: Any) -> Any:
    """The change result of ``pair`` in a fresh copy under ``work`` (detected once, then
    copied from ``folder``), and the seconds detection took (0 when cached)."""
    digest = hashlib.sha1(pair.before.tobytes() + pair.after.tobytes()).hexdigest()[:12]
    home = folder / "change" / f"{key.replace('/', '_').replace(' ', '_')}-{digest}"
    saved = home / "result.pkl"
    seconds = 0.0
    if not saved.is_file():
        import time

        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        before, after = write_pair(pair, home)
        t0 = time.perf_counter()
        result = detect_changes(before, after, outdir=home / "out", overwrite=True)
        seconds = time.perf_counter() - t0
        bare = dataclasses.replace(result, objects=())
        saved.write_bytes(pickle.dumps(bare))
    bare = pickle.loads(saved.read_bytes())
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(home / "out", out)
    result: ChangeResult = dataclasses.replace(
        bare,
        mask_path=out / Path(bare.mask_path).name,
        probability_path=out / Path(bare.probability_path).name,
        objects=ObjectsView.open(out / STORE_NAME),
    )
    return result, seconds
