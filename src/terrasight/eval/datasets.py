"""Find the image pairs of a change-detection dataset folder, by layout.

Layouts:

``levir``
    LEVIR-CD style: ``DIR/A/<name>.png`` (before), ``DIR/B/<name>.png`` (after),
    ``DIR/label/<name>.png`` (truth); with ``split``, ``DIR/<split>/{A,B,label}``.
``airchange``
    SZTAKI AirChange: ``DIR/<site>/<n>/{im1,im2,gt}.png`` and
    ``DIR/Archieve/{im1,im2,gt}.png`` (13 pairs in the benchmark). The usual
    protocol tests on the top-left :data:`AIRCHANGE_TEST_WINDOW` of each pair and
    trains on the rest.

Truth masks: non-zero is change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from terrasight.errors import DatasetLayoutError

LAYOUTS = ("levir", "airchange")
CROPS = ("test", "train", None)
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
AIRCHANGE_TEST_WINDOW = (0, 0, 784, 448)
"""``(col_off, row_off, width, height)`` of the AirChange test region of every pair."""

Window = tuple[int, int, int, int]


@dataclass(frozen=True)
class ChangePair:
    """One pair of a change dataset.

    Attributes:
        name: the pair's name in its dataset (``"Szada/3"``, ``"test_12"``).
        before, after, truth: image files; truth non-zero is change.
        window: ``(col_off, row_off, width, height)`` to evaluate on, or None for
            the whole image.
        exclude: a window left out of the evaluation (the test region when
            evaluating or training on the ``train`` part), or None.
    """

    name: str
    before: Path
    after: Path
    truth: Path
    window: Window | None = None
    exclude: Window | None = None


def iter_pairs(
    dataset_dir: str | Path, layout: str, crop: str | None = None, split: str | None = None
) -> Iterator[ChangePair]:
    """Yield the pairs of a dataset folder, sorted by name.

    Args:
        dataset_dir: the dataset folder.
        layout: ``"levir"`` or ``"airchange"``.
        crop: AirChange only: ``"test"`` (the top-left 784x448 window), ``"train"``
            (the whole image with that window excluded) or None (whole image).
        split: LEVIR only: a sub-folder such as ``"test"`` holding ``A``, ``B``, ``label``.

    Raises:
        DatasetLayoutError: the folder does not have the layout, or the options do not fit it.

    Example:
        >>> pairs = list(iter_pairs("data/airchange", "airchange", crop="test"))  # doctest: +SKIP
        >>> len(pairs), pairs[0].name, pairs[0].window  # doctest: +SKIP
        (13, 'Archieve', (0, 0, 784, 448))
    """
    root = Path(dataset_dir)
    if layout not in LAYOUTS:
        raise DatasetLayoutError(f"unknown dataset layout {layout!r}; use one of {list(LAYOUTS)}.")
    if crop not in CROPS:
        raise DatasetLayoutError(f"unknown crop {crop!r}; use 'test', 'train' or None.")
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset folder {root} does not exist or is not a folder.")
    if layout == "levir":
        if crop is not None:
            raise DatasetLayoutError(
                f"crop {crop!r} is defined for the airchange layout only; the levir layout "
                f"({root}) is evaluated on whole images (crop=None), by split."
            )
        yield from _levir(root if split is None else _split_dir(root, split))
    else:
        if split is not None:
            raise DatasetLayoutError(
                f"the airchange layout ({root}) has no splits; use crop='test' or 'train' instead."
            )
        yield from _airchange(root, crop)


def list_pairs(
    dataset_dir: str | Path, layout: str, crop: str | None = None, split: str | None = None
) -> list[ChangePair]:
    """:func:`iter_pairs` as a list.

    Example:
        >>> [p.name for p in list_pairs("LEVIR-CD", "levir", split="test")][:2]  # doctest: +SKIP
        ['test_1', 'test_10']
    """
    return list(iter_pairs(dataset_dir, layout, crop, split))


def _found(folder: Path, limit: int = 12) -> str:
    """A short listing of a folder's entries for error messages."""
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError:
        return "nothing (cannot list it)"
    if not names:
        return "nothing (it is empty)"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _split_dir(root: Path, split: str) -> Path:
    folder = root / split
    if not folder.is_dir():
        raise DatasetLayoutError(
            f"dataset folder {root} has no split folder {split!r} (expected {folder}/A, B, "
            f"label); found: {_found(root)}."
        )
    return folder


def _images(folder: Path) -> dict[str, Path]:
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }


def _levir(root: Path) -> Iterator[ChangePair]:
    expected = "sub-folders A (before), B (after) and label (truth) holding <name>.png images"
    missing = [d for d in ("A", "B", "label") if not (root / d).is_dir()]
    if missing:
        raise DatasetLayoutError(
            f"{root} is not a levir-layout folder: expected {expected}; missing "
            f"{', '.join(missing)}; found: {_found(root)}."
        )
    a, b, label = (_images(root / d) for d in ("A", "B", "label"))
    if not a:
        raise DatasetLayoutError(f"{root / 'A'} holds no images; expected {expected}.")
    for other, files in (("B", b), ("label", label)):
        lacking = sorted(set(a) - set(files))
        if lacking:
            raise DatasetLayoutError(
                f"{root / other} lacks images for {len(lacking)} of the {len(a)} names in "
                f"{root / 'A'}, e.g. {', '.join(lacking[:5])}; every pair needs A, B and label."
            )
    for name in sorted(a):
        yield ChangePair(name, a[name], b[name], label[name])


def _pick(folder: Path, stem: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        for candidate in (folder / (stem + suffix), folder / (stem + suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def _sort_key(folder: Path) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in folder.parts)


def _airchange(root: Path, crop: str | None) -> Iterator[ChangePair]:
    expected = "<site>/<n>/ and Archieve/ folders each holding im1.png, im2.png and gt.png"
    candidates = [root] + [d for d in root.iterdir() if d.is_dir()]
    candidates += [d for c in candidates[1:] for d in c.iterdir() if d.is_dir()]
    pairs = []
    for folder in sorted(candidates, key=lambda d: _sort_key(d.relative_to(root))):
        files = {s: _pick(folder, s) for s in ("im1", "im2", "gt")}
        present = [s for s, f in files.items() if f is not None]
        if not present:
            continue
        if len(present) < 3:
            absent = [s for s in files if files[s] is None]
            raise DatasetLayoutError(
                f"{folder} holds {', '.join(present)} but not {', '.join(absent)}; "
                f"an airchange pair folder needs im1, im2 and gt; found: {_found(folder)}."
            )
        name = folder.relative_to(root).as_posix() if folder != root else root.name
        pairs.append(_airchange_pair(name, files, crop))
    if not pairs:
        raise DatasetLayoutError(
            f"{root} is not an airchange-layout folder: expected {expected}; found: {_found(root)}."
        )
    yield from pairs


def _airchange_pair(name: str, files: dict[str, Path | None], crop: str | None) -> ChangePair:
    window = AIRCHANGE_TEST_WINDOW if crop == "test" else None
    exclude = AIRCHANGE_TEST_WINDOW if crop == "train" else None
    im1, im2, gt = files["im1"], files["im2"], files["gt"]
    assert im1 is not None and im2 is not None and gt is not None  # checked by the caller
    return ChangePair(name, im1, im2, gt, window, exclude)
