"""The kinds of job besides a change pair: a series of dates, and one image described.

A series job is :func:`terrasight.tasks.series.detect.detect_series` into the job's
``result/`` folder (``terrasight series -o``'s files); a one-image job writes
``description.json`` there (:func:`terrasight.tasks.interpret.describe.describe` of
the image: its caption, classes and runner-up captions). The default method of a
kind is its library function's own default, read from the signature.

Example:
    >>> from terrasight.tasks.change.methods.registry import list_methods
    >>> default_method("series") in list_methods()
    True
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from terrasight.errors import InvalidOptionError
from terrasight.models.runtime import ModelCache

KINDS = ("change", "series", "image")
DESCRIPTION = "description.json"
SERIES_SUMMARY = "series.json"
MIN_DATES = 3


def default_method(kind: str = "change") -> str:
    """The change method a job of ``kind`` gets when none is named: the default of
    ``detect_changes`` (pairs; one image, which has no method) or ``detect_series``.

    Example:
        >>> from terrasight.tasks.change.methods.registry import list_methods
        >>> default_method("change") in ["auto", *list_methods()]
        True
    """
    from terrasight.tasks.change.pipeline.detect import detect_changes
    from terrasight.tasks.series.detect import detect_series

    function: Any = detect_series if kind == "series" else detect_changes
    return str(inspect.signature(function).parameters["method"].default)


def check_kind(kind: str, images: int) -> None:
    """Raise when ``images`` input files do not fit a job of ``kind``.

    Raises:
        InvalidOptionError: an unknown kind, or too few images for a series.

    Example:
        >>> check_kind("series", 2)
        Traceback (most recent call last):
        ...
        terrasight.errors.InvalidOptionError: a series job needs at least 3 images (dates), not 2; give 'images': [...] with one file per date.
    """
    if kind not in KINDS:
        raise InvalidOptionError(f"unknown job kind {kind!r}; the kinds are {', '.join(KINDS)}.")
    if kind == "series" and images < MIN_DATES:
        raise InvalidOptionError(
            f"a series job needs at least {MIN_DATES} images (dates), not {images}; give "
            "'images': [...] with one file per date."
        )


def run_series(
    images: list[Path], method: str, outdir: Path, cache: ModelCache, workers: int
) -> None:
    """Date the changes over ``images`` into ``outdir`` (resumes an interrupted job)."""
    from terrasight.tasks.series.detect import detect_series

    detect_series(images, method=method, outdir=outdir, workers=workers, cache=cache)


def run_image(image: Path, outdir: Path, cache: ModelCache) -> None:
    """Describe one image into ``outdir/description.json``."""
    from terrasight.io.vectors import jsonable
    from terrasight.tasks.interpret.describe import describe

    found = describe(image, cache=cache)
    outdir.mkdir(parents=True, exist_ok=True)
    data = jsonable(found.to_dict())
    (outdir / DESCRIPTION).write_text(json.dumps(data, indent=1), encoding="utf-8")


def summary_file(kind: str) -> str | None:
    """The JSON summary a finished job of ``kind`` has (None: the change summary)."""
    return {"series": SERIES_SUMMARY, "image": DESCRIPTION}.get(kind)


def with_classes(
    result: Any, classes: bool | None, change_seconds: float, cache: ModelCache
) -> Any:
    """The change result with its land cover before and after, as ``terrasight change`` does:
    within the default budget (``classes`` None) or whole (True). Images the land-cover
    network cannot read (no RGB) or a missing network keep the plain result, with a warning
    saying why, unless ``classes`` is True (then the job fails with that reason).

    Example:
        >>> result = with_classes(result, None, 12.0, ModelCache())  # doctest: +SKIP
    """
    from dataclasses import replace

    from terrasight.errors import BandSelectionError, MissingDependencyError, ModelWeightsError
    from terrasight.tasks.semantic.budget import default_budget
    from terrasight.tasks.semantic.run import classify_changes

    budget = None if classes else default_budget(change_seconds)
    try:
        return classify_changes(result, budget_s=budget, cache=cache)
    except (BandSelectionError, MissingDependencyError, ModelWeightsError) as exc:
        if classes:
            raise
        note = f"land cover of the changes not measured: {exc}"
        return replace(result, warnings=(*result.warnings, note))
