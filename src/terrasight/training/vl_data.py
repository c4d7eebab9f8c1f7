"""Data for the vision-language projections: AID images paired with RSICD captions, a seeded
validation split by file name, and cached frozen image and text features (``.npz``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from terrasight.errors import DatasetLayoutError

SAVE_EVERY = 512


@dataclass(frozen=True)
class Pair:
    """One image and its captions.

    Attributes:
        name: file name (``airport_348.jpg``).
        path: the AID image.
        label: the AID class folder (for evaluation only, never for training).
        captions: its RSICD captions.
    """

    name: str
    path: Path
    label: str
    captions: tuple[str, ...]


def load_pairs(aid_dir: str | Path, rsicd_dir: str | Path, per_image: int = 5) -> list[Pair]:
    """AID images that have RSICD captions (RSICD names not in AID are skipped), sorted by name.

    Raises:
        DatasetLayoutError: a caption file is missing or the two files do not match.

    Example:
        >>> pairs = load_pairs("data/aid", "data/rsicd")  # doctest: +SKIP
        >>> pairs[0].captions[0]  # doctest: +SKIP
        'many planes are parked next to a long building in an airport .'
    """
    rsicd = Path(rsicd_dir)
    names_file, caps_file = rsicd / "train_filename.txt", rsicd / "train_caps.txt"
    for f in (names_file, caps_file):
        if not f.is_file():
            raise DatasetLayoutError(f"RSICD caption file {f} is missing (see rsicd/ layout).")
    names = [n.strip() for n in names_file.read_text(encoding="utf-8").splitlines() if n.strip()]
    caps = [c.strip() for c in caps_file.read_text(encoding="utf-8").splitlines()]
    if len(caps) < per_image * len(names):
        raise DatasetLayoutError(
            f"{caps_file} has {len(caps)} lines, expected {per_image} per image of {names_file}"
        )
    index = {p.name: p for p in Path(aid_dir).glob("*/*.jpg")}
    pairs = [
        Pair(n, index[n], index[n].parent.name, tuple(caps[per_image * i : per_image * (i + 1)]))
        for i, n in enumerate(names)
        if n in index
    ]
    if not pairs:
        raise DatasetLayoutError(f"no RSICD image name matches an image in {aid_dir}/<Class>/")
    return sorted(pairs, key=lambda p: p.name)


def is_validation(name: str, fraction: float, salt: str = "terrasight-vl") -> bool:
    """Whether an image belongs to the validation split (a seeded hash of its file name).

    Example:
        >>> is_validation("airport_348.jpg", 0.0)
        False
    """
    digest = hashlib.sha256(f"{salt}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_pairs(pairs: Sequence[Pair], fraction: float) -> tuple[list[Pair], list[Pair]]:
    """(train, validation) by :func:`is_validation`.

    Example:
        >>> split_pairs([], 0.1)
        ([], [])
    """
    train = [p for p in pairs if not is_validation(p.name, fraction)]
    val = [p for p in pairs if is_validation(p.name, fraction)]
    return train, val


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as uint8 ``(h, w, 3)``.

    Example:
        >>> read_rgb("aid/Airport/airport_1.jpg").shape  # doctest: +SKIP
        (150, 150, 3)
    """
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _load_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as data:
        return dict(zip(data["keys"].tolist(), data["values"], strict=True))


def _save_cache(path: Path, cache: dict[str, np.ndarray], dtype: str = "float32") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    keys = np.array(list(cache), dtype=str)
    np.savez(tmp, keys=keys, values=np.stack(list(cache.values())).astype(dtype))
    tmp.replace(path)


def cached_features(
    keys: Sequence[str],
    cache_file: str | Path,
    compute: Callable[[list[str]], np.ndarray],
    batch: int = 16,
    progress: Callable[[int, int], None] | None = None,
    dtype: str = "float32",
    save_every: int = SAVE_EVERY,
) -> np.ndarray:
    """Features of ``keys`` from an ``.npz`` cache, computing (and saving) the missing ones.

    The cache is written every ``save_every`` keys, so an interrupted run resumes.
    Features are stored and returned as ``dtype``.

    Example:
        >>> feats = cached_features(["a", "b"], "cache/x.npz", lambda ks: np.ones((len(ks), 4)))  # doctest: +SKIP
    """
    path = Path(cache_file)
    cache = _load_cache(path)
    missing = list(dict.fromkeys(k for k in keys if k not in cache))
    for i in range(0, len(missing), batch):
        chunk = missing[i : i + batch]
        cache.update(zip(chunk, np.asarray(compute(chunk), dtype=dtype), strict=True))
        done = i + len(chunk)
        if done % save_every < batch or done == len(missing):
            _save_cache(path, cache, dtype)
        if progress is not None:
            progress(done, len(missing))
    return np.stack([cache[k] for k in keys]).astype(dtype, copy=False)


def image_features(
    pairs: Sequence[Pair], cache_dir: str | Path, backbone: str, size: int, threads: int = 2
) -> np.ndarray:
    """Frozen pooled backbone features of the pairs' images at ``size`` px (cached per backbone).

    Example:
        >>> feats = image_features(pairs, "cache", "efficientnet-lite0-head", 224)  # doctest: +SKIP
    """
    import torch

    from terrasight.models import create_model, get_config
    from terrasight.models.vl_net import pooled_features, preprocess

    torch.set_num_threads(threads)
    params = get_config(backbone).params
    encoder = create_model(backbone).to(memory_format=torch.channels_last)
    paths = {p.name: p.path for p in pairs}

    def compute(names: list[str]) -> np.ndarray:
        imgs = [read_rgb(paths[n]) for n in names]
        batch = preprocess(imgs, size, params["input_mean"], params["input_std"])
        return pooled_features(encoder, batch)

    cache = Path(cache_dir) / f"images_{backbone}_{size}.npz"
    return cached_features([p.name for p in pairs], cache, compute, batch=4)


FLIPPED = "#hflip"
"""Cache key suffix of an image's horizontally flipped copy."""


def image_maps(
    pairs: Sequence[Pair],
    cache_dir: str | Path,
    backbone: str,
    size: int,
    block: int,
    flip: bool = False,
    threads: int = 2,
) -> np.ndarray:
    """Frozen backbone activations entering block ``block``, float16 ``(n, views, c, h, w)``
    (view 0: the image at ``size`` px; view 1 with ``flip``: it flipped left to right).

    Cached per backbone, size and block (``7 x 7 x 192`` per view for EfficientNet-Lite0 at
    224 px and blocks 12 to 15: 18 kB).

    Example:
        >>> image_maps(pairs, "cache", "efficientnet-lite0-head", 224, 15, flip=True).shape  # doctest: +SKIP
        (8114, 2, 192, 7, 7)
    """
    import torch

    from terrasight.models import create_model, get_config
    from terrasight.models.vl_net import preprocess

    torch.set_num_threads(threads)
    params = get_config(backbone).params
    encoder = create_model(backbone).eval().to(memory_format=torch.channels_last)
    paths = {p.name: p.path for p in pairs}

    def compute(keys: list[str]) -> np.ndarray:
        imgs = []
        for key in keys:
            img = read_rgb(paths[key.removesuffix(FLIPPED)])
            imgs.append(img[:, ::-1] if key.endswith(FLIPPED) else img)
        batch = preprocess(imgs, size, params["input_mean"], params["input_std"])
        with torch.no_grad():
            return encoder.entering(batch, block).float().contiguous().numpy()

    views = ("", FLIPPED) if flip else ("",)
    keys = [p.name + v for p in pairs for v in views]
    cache = Path(cache_dir) / f"maps_{backbone}_{size}_block{block}.npz"
    maps = cached_features(keys, cache, compute, batch=8, dtype="float16", save_every=4096)
    return maps.reshape(len(pairs), len(views), *maps.shape[1:])


def text_features(texts: Sequence[str], cache_dir: str | Path) -> np.ndarray:
    """Frozen all-MiniLM-L6-v2 embeddings of ``texts`` (cached by text).

    Example:
        >>> text_features(["a river"], "cache").shape  # doctest: +SKIP
        (1, 384)
    """
    from terrasight.models.vl_net import encode_sentences, load_text_encoder

    encoders: list = []

    def compute(chunk: list[str]) -> np.ndarray:
        if not encoders:
            encoders.append(load_text_encoder())
        return encode_sentences(encoders[0], chunk)

    cache = Path(cache_dir) / "texts_all-minilm-l6-v2.npz"
    return cached_features(list(texts), cache, compute, batch=512)
