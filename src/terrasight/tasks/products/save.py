"""Saving a change result as a folder: rasters, vectors, ``facts.json`` and ``report.html``.

The inputs are opened once per save (:func:`open_crops`) for both the facts'
crops and the report's clips.

This is where a result becomes its products: the vectors come from
:mod:`terrasight.tasks.change.output.vectors`, the facts and the caption from
:mod:`terrasight.tasks.interpret`, the page from :mod:`terrasight.tasks.products.report`.
:meth:`ChangeResult.save() <terrasight.tasks.change.result.ChangeResult.save>` hands over to
:func:`save_result`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rasterio

from terrasight.errors import MissingDependencyError, TerrasightError
from terrasight.io.raster import DECIMATED_READ_CACHE_MB
from terrasight.tasks.change.names import CLASSES_NAME, OUTPUT_NAMES, TRANSITIONS_NAME
from terrasight.tasks.change.output.vectors import (
    write_geojson_stream,
    write_geopackage_stream,
    write_summary_stream,
    write_vectors,
)
from terrasight.tasks.interpret.caption import caption_change
from terrasight.tasks.interpret.crops import open_crops
from terrasight.tasks.interpret.facts import FactsOptions, change_facts
from terrasight.tasks.interpret.facts_data import FACTS_NAME, ChangeFacts, write_facts

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.change.result import ChangeResult

__all__ = ["background", "save_result"]


def save_result(
    result: ChangeResult,
    outdir: str | Path,
    report: bool = True,
    facts: bool | FactsOptions = True,
    cache: ModelCache | None = None,
    workers: int = 2,
) -> dict[str, Path]:
    """Write the outputs of ``result`` into ``outdir`` and return their paths by kind.

    ``change_mask.tif`` and ``change_probability.tif`` (copied unless already
    there), ``changes.geojson`` (WGS84), ``changes.gpkg`` (the same objects in
    the image CRS), ``summary.json``, with ``facts`` ``facts.json`` (see
    :func:`terrasight.tasks.interpret.facts.change_facts`; without PyTorch the
    land cover is left unclassified, with a note) and, with ``report``,
    ``report.html``, which then shows the caption and each object's land cover
    before and after. Each JSON file is written to a ``.part`` file first, then
    renamed. ``cache`` keeps the image-text model loaded for later calls.
    With ``workers`` 2 or more, GeoJSON, GeoPackage and summary are written by a
    second process (one pass over the objects, :func:`write_vectors`) while
    this one writes facts and report; without facts and report, the second
    process writes the GeoJSON while this one writes GeoPackage and summary.
    With 1, one after the other. The files are the same either way.

    Example:
        >>> paths = save_result(result, "changes/")  # doctest: +SKIP
        >>> sorted(paths)  # doctest: +SKIP
        ['facts', 'geojson', 'geopackage', 'mask', 'probability', 'report', 'summary']
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / v for k, v in OUTPUT_NAMES.items()}
    for kind, src in (("mask", result.mask_path), ("probability", result.probability_path)):
        if Path(src).resolve() != paths[kind].resolve():
            shutil.copyfile(src, paths[kind])
    _copy_store(result, out)
    paths.update(_copy_classes(result, out))
    vectors = (paths["geojson"], paths["geopackage"], paths["summary"])
    with background(workers) as pool:
        if pool is None:
            write_vectors(result, *vectors)
        elif not facts and not report:  # nothing else to make: the vectors on both cores
            written: Future[Any] = pool.submit(write_geojson_stream, result, vectors[0])
            write_geopackage_stream(result, vectors[1])
            write_summary_stream(result, vectors[2])
        else:  # GeoJSON, GeoPackage and summary in a process of their own
            written = pool.submit(write_vectors, result, *vectors)
        with _inputs(result, bool(facts) or report) as crops:  # opened once for both
            made = None
            if facts:
                options = facts if not isinstance(facts, bool) else FactsOptions()
                # The other core writes the vectors: one torch thread does not fight it.
                made = _facts(result, options, cache, threads=1 if pool else None, crops=crops)
                paths["facts"] = write_facts(made, out / FACTS_NAME)
            if report:
                _report(result, paths["report"], made, crops)
            else:
                paths.pop("report")
        if pool is not None:
            written.result()
    return paths


@contextlib.contextmanager
def _inputs(result: ChangeResult, wanted: bool) -> Iterator[Any]:
    """The result's inputs opened once (:func:`open_crops`) for the facts' crops and the
    report's clips; None where not wanted or unreadable (each then opens or says so itself)."""
    if not wanted:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            crops = stack.enter_context(open_crops(result))
        except TerrasightError:
            crops = None
        yield crops


def _report(result: ChangeResult, path: Path, made: ChangeFacts | None, crops: Any = None) -> None:
    """Write ``report.html``, its pictures read with a bounded GDAL block cache."""
    from terrasight.tasks.products.report import write_report

    words = None if made is None else caption_change(made)
    with rasterio.Env(GDAL_CACHEMAX=DECIMATED_READ_CACHE_MB):
        write_report(result, path, facts=made, caption=words, crops=crops)


@contextlib.contextmanager
def background(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """One worker process for outputs written beside the caller's, or None with ``workers`` 1.

    Forked where the system can (nothing to import again), else spawned.
    """
    if workers < 2:
        yield None
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
        yield pool


def _facts(
    result: ChangeResult,
    options: FactsOptions | None,
    cache: ModelCache | None,
    threads: int | None = None,
    crops: Any = None,
) -> ChangeFacts:
    """The result's facts; without PyTorch, unclassified ones that say why."""
    try:
        return change_facts(result, options, cache=cache, threads=threads, crops=crops)
    except MissingDependencyError as exc:
        base = options or FactsOptions()
        plain = change_facts(result, replace(base, classify=False))
        note = f"land cover was not classified: {exc}"
        return replace(plain, notes=(note,))


def _copy_classes(result: ChangeResult, out: Path) -> dict[str, Path]:
    """``change_classes.tif`` and its table, where the semantic step wrote them beside the mask
    (and the objects came out of that step: a later run without classes leaves them stale;
    with a budget, some objects have no class but all carry ``parent_id``)."""
    found: dict[str, Path] = {}
    if len(result.objects) and result.objects[0].parent_id is None:
        return found
    for kind, name in (("classes", CLASSES_NAME), ("transitions", TRANSITIONS_NAME)):
        src = Path(result.mask_path).with_name(name)
        if src.is_file():
            if src.resolve() != (out / name).resolve():
                shutil.copyfile(src, out / name)
            found[kind] = out / name
    return found


def _copy_store(result: ChangeResult, out: Path) -> None:
    """Copy the job's object store (``change_objects.jsonl``) so the folder can be loaded again."""
    store = getattr(result.objects, "path", None)
    if store is None or not Path(store).is_file():
        return
    target = out / Path(store).name
    if Path(store).resolve() != target.resolve():
        shutil.copyfile(store, target)
