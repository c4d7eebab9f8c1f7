"""The caption bank: captions of training images, those images' embeddings and classes.

A bank is one ``.npz`` file (no pickle) made by ``terrasight train caption-bank``
(:mod:`terrasight.training.caption_bank`) for one image-text model. It holds the
unique captions, which bank image each caption came from, the class of each
bank image, the images' embeddings (float16) and the name and weights sha256 of
the model that embedded them, plus the embedding of a fixed probe image, so a
bank is only ever used with the model that made it.

The shipped bank, ``rsicd-caption-bank-v1.npz``, holds the RSICD captions of the
AID images that ``terrasight-vl`` was trained on (never its validation images).

Example:
    >>> from terrasight.tasks.interpret.bank import load_caption_bank
    >>> bank = load_caption_bank()  # doctest: +SKIP
    >>> bank.model_name, len(bank.image_names), len(bank.captions)  # doctest: +SKIP
    ('terrasight-vl', 8114, 10842)
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from terrasight.errors import ModelWeightsError
from terrasight.models.runtime import cached
from terrasight.models.weights import weights_dir

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

BANK_FILE = "rsicd-caption-bank-v1.npz"
"""File name of the shipped bank, in ``terrasight/models/weights``."""
FORMAT_VERSION = 1
PROBE_TOLERANCE = 0.02
"""Largest difference allowed between a model's probe embedding and the bank's (cosine)."""
_BUILD_HINT = (
    "Build a bank for that model: terrasight train caption-bank --data DATA --model MODEL "
    '-o bank.npz, and pass bank="bank.npz".'
)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, eq=False)
class CaptionBank:
    """Captions of bank images, with the images' embeddings and classes.

    Attributes:
        captions: the unique captions, sorted.
        image_names: the bank images' file names.
        classes: class names (AID folder names, ``DenseResidential``).
        image_class: ``(n_images,)`` index into ``classes`` of each bank image.
        image_embeddings: ``(n_images, dim)`` float32, L2-normalised.
        pair_image, pair_caption: ``(n_pairs,)`` int32: caption ``pair_caption[i]`` was
            written for image ``pair_image[i]`` (sorted by image).
        model_name, model_sha256: the model that embedded the images and its weights' digest.
        probe: ``(dim,)`` that model's embedding of :func:`probe_image`.

    Example:
        >>> bank = load_caption_bank()  # doctest: +SKIP
        >>> bank.captions[bank.pair_caption[0]]  # doctest: +SKIP
        'many planes are parked next to a long building in an airport .'
    """

    captions: tuple[str, ...]
    image_names: tuple[str, ...]
    classes: tuple[str, ...]
    image_class: np.ndarray
    image_embeddings: np.ndarray
    pair_image: np.ndarray
    pair_caption: np.ndarray
    model_name: str
    model_sha256: str
    probe: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the bank file (strings as UTF-8 bytes, embeddings as float16)."""
        meta = {"format": FORMAT_VERSION, "model": self.model_name, "sha256": self.model_sha256}
        return {
            "meta": _utf8(json.dumps(meta, sort_keys=True)),
            "captions": _utf8("\n".join(self.captions)),
            "image_names": _utf8("\n".join(self.image_names)),
            "classes": _utf8("\n".join(self.classes)),
            "image_class": np.asarray(self.image_class, np.int16),
            "image_embeddings": np.asarray(self.image_embeddings, np.float16),
            "pair_image": np.asarray(self.pair_image, np.int32),
            "pair_caption": np.asarray(self.pair_caption, np.int32),
            "probe": np.asarray(self.probe, np.float32),
        }


def probe_image(size: int = 64) -> np.ndarray:
    """A fixed uint8 ``(size, size, 3)`` pattern whose embedding tells models apart.

    Example:
        >>> probe_image().shape, probe_image()[10, 20].tolist()
        ((64, 64, 3), [40, 80, 150])
    """
    rows, cols = np.indices((size, size))
    rgb = np.stack([(4 * rows) % 256, (4 * cols) % 256, ((rows * cols) // 4 + 100) % 256], -1)
    return rgb.astype(np.uint8)


def class_words(name: str) -> str:
    """A class folder name as words: ``DenseResidential`` -> ``dense residential``.

    Example:
        >>> class_words("DenseResidential"), class_words("parking lot")
        ('dense residential', 'parking lot')
    """
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()


def default_bank_path() -> Path:
    """The shipped bank file.

    Example:
        >>> default_bank_path().name
        'rsicd-caption-bank-v1.npz'
    """
    return weights_dir() / BANK_FILE


def _utf8(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _text(arr: np.ndarray) -> str:
    return arr.astype(np.uint8).tobytes().decode("utf-8")


def _lines(arr: np.ndarray) -> tuple[str, ...]:
    text = _text(arr)
    return tuple(text.split("\n")) if text else ()


def write_caption_bank(bank: CaptionBank, path: str | Path) -> Path:
    """Write a bank as an ``.npz`` whose bytes depend on its arrays alone (fixed zip dates).

    Example:
        >>> write_caption_bank(bank, "bank.npz")  # doctest: +SKIP
        PosixPath('bank.npz')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in bank.arrays().items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
    tmp.replace(path)
    return path


def _from_arrays(data: Any, path: Path) -> CaptionBank:
    meta = json.loads(_text(data["meta"]))
    if meta.get("format") != FORMAT_VERSION:
        raise ModelWeightsError(
            f"caption bank {path} has format {meta.get('format')!r}; this terrasight reads "
            f"format {FORMAT_VERSION}. Rebuild it with terrasight train caption-bank."
        )
    emb = data["image_embeddings"].astype(np.float32)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    bank = CaptionBank(
        captions=_lines(data["captions"]),
        image_names=_lines(data["image_names"]),
        classes=_lines(data["classes"]),
        image_class=data["image_class"].astype(np.int64),
        image_embeddings=emb,
        pair_image=data["pair_image"].astype(np.int64),
        pair_caption=data["pair_caption"].astype(np.int64),
        model_name=str(meta["model"]),
        model_sha256=str(meta["sha256"]),
        probe=data["probe"].astype(np.float32),
    )
    for arr in (bank.image_class, bank.image_embeddings, bank.pair_image, bank.pair_caption):
        arr.setflags(write=False)
    return bank


def read_caption_bank(path: str | Path) -> CaptionBank:
    """Read a bank file (no caching: see :func:`load_caption_bank`).

    Raises:
        ModelWeightsError: the file is missing, unreadable or not a caption bank.

    Example:
        >>> read_caption_bank("bank.npz").model_name  # doctest: +SKIP
        'terrasight-vl'
    """
    path = Path(path)
    if not path.is_file():
        raise ModelWeightsError(
            f"caption bank {path} is missing. Reinstall terrasight to restore the shipped "
            "bank, or build one: terrasight train caption-bank --data DATA -o bank.npz"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            bank = _from_arrays(data, path)
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise ModelWeightsError(
            f"caption bank {path} cannot be read ({exc}). Rebuild it with "
            "terrasight train caption-bank --data DATA -o bank.npz"
        ) from exc
    _check_consistent(bank, path)
    return bank


def _check_consistent(bank: CaptionBank, path: Path) -> None:
    n_img = len(bank.image_names)
    ok = (
        bank.image_embeddings.shape[0] == n_img == bank.image_class.shape[0]
        and bank.pair_image.shape == bank.pair_caption.shape
        and n_img > 0
        and bank.pair_image.size > 0
        and int(bank.pair_image.max()) < n_img
        and int(bank.pair_caption.max()) < len(bank.captions)
        and int(bank.image_class.max()) < len(bank.classes)
        and bank.probe.shape == bank.image_embeddings.shape[1:]
    )
    if not ok:
        raise ModelWeightsError(
            f"caption bank {path} is inconsistent (array sizes do not match). Rebuild it with "
            "terrasight train caption-bank --data DATA -o bank.npz"
        )


def load_caption_bank(
    path: str | Path | None = None, cache: ModelCache | None = None
) -> CaptionBank:
    """The caption bank at ``path`` (default: the shipped one), read once per ``cache``.

    Example:
        >>> from terrasight.models.runtime import ModelCache
        >>> bank = load_caption_bank(cache=ModelCache())  # doctest: +SKIP
        >>> load_caption_bank("my-bank.npz").model_name  # doctest: +SKIP
        'terrasight-vl'
    """
    found = Path(path).resolve() if path is not None else default_bank_path()
    stamp = found.stat().st_mtime_ns if found.is_file() else None
    return cached(cache, ("caption-bank", str(found), stamp), lambda: read_caption_bank(found))


def model_identity(model: str | Path | Any) -> tuple[str, str] | None:
    """``(name, weights sha256)`` of a registry name or a training run's entry ``.json``;
    ``None`` for a loaded model (it is then told apart by its probe embedding).

    Example:
        >>> model_identity("terrasight-vl")[0]
        'terrasight-vl'
    """
    from terrasight.models.config import ModelConfig
    from terrasight.models.registry import get_config

    if isinstance(model, Path) or (isinstance(model, str) and model.endswith(".json")):
        config = ModelConfig.from_dict(json.loads(Path(model).read_text(encoding="utf-8")))
    elif isinstance(model, str):
        config = get_config(model)
    else:
        return None
    return config.name, config.weights.sha256 if config.weights else ""


def check_bank_model(bank: CaptionBank, model: str | Path | Any, vl: Any) -> None:
    """Raise unless ``bank`` was made by ``model`` (``vl``: that model, loaded).

    Raises:
        ModelWeightsError: the bank belongs to another model; the message says what to do.

    Example:
        >>> check_bank_model(load_caption_bank(), "terrasight-vl", vl)  # doctest: +SKIP
    """
    identity = model_identity(model)
    if identity is not None and identity != (bank.model_name, bank.model_sha256):
        raise ModelWeightsError(
            f"the caption bank was built with model {bank.model_name!r} (weights sha256 "
            f"{bank.model_sha256[:12]}...), not with {identity[0]!r} (sha256 "
            f"{identity[1][:12]}...): its image embeddings mean nothing to that model. "
            + _BUILD_HINT
        )
    if identity is None:
        probe = np.asarray(vl.embed_images([probe_image()]))[0]
        if float(probe @ bank.probe) < 1 - PROBE_TOLERANCE:
            raise ModelWeightsError(
                f"the caption bank was built with model {bank.model_name!r}, and the model "
                "given embeds images differently. " + _BUILD_HINT
            )
