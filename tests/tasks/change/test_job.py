"""The job folder: one run at a time, and an unfinished job restarts when its inputs change."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from terrasight.errors import JobLockedError, OutputExistsError
from terrasight.tasks.change.pipeline.job import LOCK_FILE, job_lock, open_job

HOLD = """
import sys, time
from pathlib import Path
from terrasight.tasks.change.pipeline.job import job_lock
with job_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def held_lock(tmp_path):
    """Another process running a job in ``tmp_path / 'out'``; killed (-9) at the end."""
    folder = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    yield folder, proc
    proc.kill()
    proc.wait()


def test_a_second_run_into_a_busy_folder_is_refused_with_the_pid(held_lock):
    folder, proc = held_lock
    with pytest.raises(JobLockedError, match=rf"already running in .*out \(pid {proc.pid}\)"):
        with job_lock(folder):
            pass


def test_the_lock_is_released_when_its_holder_is_killed(held_lock):
    folder, proc = held_lock
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            with job_lock(folder):
                assert (folder / LOCK_FILE).read_text() != str(proc.pid)
            break
        except JobLockedError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def _signature(before, after, method="cva"):
    ident = {"path": "/data/b.tif", "size": 10, "mtime_ns": 1}
    return {
        "before": {**ident, **before},
        "after": {**ident, "path": "/data/a.tif", **after},
        "method": method,
    }


def test_an_unfinished_job_starts_again_when_its_inputs_changed(tmp_path):
    job = open_job(tmp_path, _signature({}, {}), [], overwrite=False)
    job.fitted = {"t": 1}
    job.save()
    job.record_tiles([{"tile": 0, "valid": 1}])
    changed = _signature({"size": 11, "mtime_ns": 2}, {})  # the damaged file was replaced
    again = open_job(tmp_path, changed, [], overwrite=False)
    assert again.fitted is None and again.done_tiles() == {}
    again.complete = True
    again.save()
    with pytest.raises(OutputExistsError, match="different change job"):
        open_job(tmp_path, _signature({"size": 12}, {}), [], overwrite=False)  # finished: kept
    with pytest.raises(OutputExistsError):
        open_job(tmp_path, _signature({}, {}, method="irmad"), [], overwrite=False)
