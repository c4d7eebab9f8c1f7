"""Windows: the result does not depend on the window size, reads stay windowed, jobs resume."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from terrasight.tasks.change.pipeline.job import TILES_FILE
from terrasight.tasks.series import detect, detect_series
from terrasight.tasks.series.stack import StackReader

from .conftest import as_strings


def _rasters(result):
    with rasterio.open(result.change_interval_path) as ds:
        return result.change_date(), ds.read()


def test_small_windows_give_the_same_result_and_read_only_windows(
    tmp_path, planted, series_result, monkeypatch
):
    sizes = []
    read_date = StackReader.read_date

    def spy(self, k, window):
        sizes.append((int(window.width), int(window.height)))
        return read_date(self, k, window)

    monkeypatch.setattr(StackReader, "read_date", spy)
    small = detect_series(as_strings(planted.paths), outdir=tmp_path, workers=2, tile_size=256)
    # 256 px windows plus the method's 2 px of context: never the 512 x 512 scene.
    assert sizes and max(max(s) for s in sizes) <= 256 + 2 * 2
    date, interval = _rasters(small)
    big_date, big_interval = _rasters(series_result)
    assert np.array_equal(date, big_date) and np.array_equal(interval, big_interval)
    assert [o.to_dict() for o in small.objects] == [o.to_dict() for o in series_result.objects]


def test_a_killed_job_resumes_and_a_finished_one_is_not_run_again(
    tmp_path, planted, series_result, monkeypatch
):
    calls = []
    real = detect._date_tile

    def dies_on_the_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real(*args)

    monkeypatch.setattr(detect, "_date_tile", dies_on_the_third)
    images = as_strings(planted.paths)
    with pytest.raises(RuntimeError, match="killed"):
        detect_series(images, outdir=tmp_path, workers=1, tile_size=256)
    assert not (tmp_path / "series.json").exists()
    # the first two windows ran; one or both were written before the third died (windows
    # finish in no fixed order)
    done = len((tmp_path / TILES_FILE).read_text().splitlines())
    assert 1 <= done <= 2
    calls.clear()
    monkeypatch.setattr(detect, "_date_tile", lambda *a: calls.append(1) or real(*a))
    resumed = detect_series(images, outdir=tmp_path, workers=1, tile_size=256)
    assert len(calls) == 4 - done  # the windows journalled before the kill are not redone
    stamp = resumed.change_date_path.stat().st_mtime_ns
    calls.clear()
    again = detect_series(images, outdir=tmp_path, workers=1, tile_size=256)
    assert calls == [] and again.change_date_path.stat().st_mtime_ns == stamp
    assert again.summary() == resumed.summary()
    assert np.array_equal(series_result.change_date(), resumed.change_date())
