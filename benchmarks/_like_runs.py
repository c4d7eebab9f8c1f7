"""Like against like: the plain script (``_plain_script.py``) and ``terrasight change``,
each a whole process as a user starts it, timed from outside.

Each run is one process started from the shell's point of view: wall time from
start to exit (imports included, as a user waits for them), peak resident
memory of the largest process of the tree (``ru_maxrss`` of ``wait4``, which
covers the children it waited for) and the polled peak of the whole tree's
resident memory summed (forked workers share pages, so the sum overstates).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_plain_script.py"

LIKE_RUNNERS = {
    "script": "the plain script (numpy CVA + Otsu, sieve, shapes, geopandas/pyogrio)",
    "command": "terrasight change --method cva --no-facts --no-report --no-classes",
    "default": "terrasight change (auto method, land-cover classes, facts and report)",
}


def like_command(runner: str, before: Path, after: Path, out: Path, min_pixels: int) -> list[str]:
    """The command line of a like-for-like runner.

    Example:
        >>> like_command("script", Path("b.tif"), Path("a.tif"), Path("o"), 20)[-2:]
        ['--min-pixels', '20']
    """
    if runner == "script":
        return [sys.executable, str(SCRIPT), str(before), str(after), str(out)] + [
            "--min-pixels",
            str(min_pixels),
        ]
    exe = str(Path(sys.executable).with_name("terrasight"))
    cmd = [exe, "change", str(before), str(after), "-o", str(out), "-q"]
    cmd += ["--min-pixels", str(min_pixels)]
    if runner == "command":
        cmd += ["--method", "cva", "--no-facts", "--no-report", "--no-classes"]
    elif runner != "default":
        raise ValueError(f"unknown runner {runner!r}; one of {sorted(LIKE_RUNNERS)}")
    return cmd


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure_process(cmd: list[str], poll_s: float = 0.05) -> dict:
    """Wall seconds, CPU seconds, peak RSS (largest process) and polled tree RSS of ``cmd``."""
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, dict(os.environ), file_actions=_redirect(out_f, err_f))
    proc, tree_peak = psutil.Process(pid), 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        try:
            tree_peak = max(tree_peak, _tree_rss(proc))
        except psutil.Error:
            pass
        time.sleep(poll_s)
    seconds = time.perf_counter() - t0
    out_f.seek(0)
    err_f.seek(0)
    stdout, stderr = out_f.read().decode(errors="replace"), err_f.read().decode(errors="replace")
    report = {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "tree_rss_mib": tree_peak / 2**20,
        "returncode": os.waitstatus_to_exitcode(status),
    }
    if report["returncode"] != 0:
        report["error"] = (stderr.strip().splitlines() or ["failed"])[-1]
        report["stderr_tail"] = stderr[-2000:]
    report["stdout"] = stdout
    return report


def _redirect(out_f, err_f) -> list:
    return [
        (os.POSIX_SPAWN_DUP2, out_f.fileno(), 1),
        (os.POSIX_SPAWN_DUP2, err_f.fileno(), 2),
    ]


def products(out: Path) -> dict:
    """Objects, changed pixels and method from the ``summary.json`` a run wrote."""
    path = out / "summary.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {
        "objects": data.get("object_count", data.get("objects")),
        "changed_pixels": data.get("changed_pixels"),
        "method": data.get("method", "cva"),
    }


def run_like(runner: str, before: Path, after: Path, scratch: Path, min_pixels: int = 20) -> dict:
    """One measured run of ``runner`` in a new output folder (removed afterwards)."""
    out = Path(tempfile.mkdtemp(prefix=f"{runner}-", dir=scratch))
    try:
        report = measure_process(like_command(runner, before, after, out, min_pixels))
        written = sorted(p.name for p in out.iterdir() if p.is_file())
        found = products(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    report.pop("stdout")
    report.update(found, files=written)
    return report
