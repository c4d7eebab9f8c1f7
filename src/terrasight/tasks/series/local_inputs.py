"""A series over a box of remote images runs on local copies of each date's box.

As for a change job (:mod:`terrasight.tasks.change.pipeline.local_inputs`), the cloud
masks, the fit sample, the windows and the report each read the dates again; on URLs
each read fetched the box's blocks again. :func:`local_stack` copies the window of
each remote date (a URL, or a STAC Item's VRT of remote assets) once into the job
folder (:mod:`terrasight.io.box_copy`), under ``.terrasight-inputs/DATE/NAME``, and the
job reads the copies; the result names the images as given. A job whose windows run
on a Dask scheduler at an address keeps reading the URLs (its workers may not see the
job folder).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rasterio.windows import Window

from terrasight.io.box_copy import box_windows, copy_path, copy_window, reads_network
from terrasight.tasks.series.options import SeriesOptions
from terrasight.tasks.series.stack import SeriesStack


def wants_copies(stack: SeriesStack, opts: SeriesOptions) -> bool:
    """Whether the series copies its dates: a box, a remote date, windows on this machine.

    Example:
        >>> wants_copies(stack, SeriesOptions(bbox=(15.1, 45.2, 15.25, 45.3)))  # doctest: +SKIP
        True
    """
    if opts.bbox is None or opts.scheduler not in (None, "local"):
        return False
    return any(reads_network(stack.source(k)) for k in range(len(stack)))


def date_windows(stack: SeriesStack) -> list[Window]:
    """The window of each date's file that the series reads: the region in the first
    date's grid, and in each other date's own grid (with a margin where it is resampled).

    Example:
        >>> date_windows(stack)[0] == stack.region  # doctest: +SKIP
        True
    """
    first = box_windows(stack.pairs[0])[0]
    return [first] + [box_windows(stack.pairs[k])[1] for k in range(1, len(stack))]


def local_stack(
    stack: SeriesStack, opts: SeriesOptions, folder: Path, progress: bool = False
) -> SeriesStack:
    """``stack`` reading local copies of its remote dates' windows, or ``stack`` itself.

    Each date is copied once (a date's finished copy is reused while the remote file,
    the window and the bands are the same); local dates are read where they are.

    Example:
        >>> local = local_stack(stack, opts, Path("series"))  # doctest: +SKIP
        >>> local.first.path  # doctest: +SKIP
        PosixPath('series/.terrasight-inputs/2019-06-01/2019.tif')
    """
    if not wants_copies(stack, opts):
        return stack
    sources = []
    for k, window in enumerate(date_windows(stack)):
        source = stack.source(k)
        if reads_network(source):
            dest = copy_path(folder, stack.dates[k].isoformat(), source)
            source = copy_window(source, window, dest, progress)
        sources.append(source)
    pairs = tuple(
        replace(pair, before=sources[0], after=sources[k if k > 0 else 1])
        for k, pair in enumerate(stack.pairs)
    )
    return replace(stack, pairs=pairs)
