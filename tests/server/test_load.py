"""The load and restart benchmark, small: 50 concurrent requests while a job runs, then a
server killed mid-job and started again."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "server_load.py"


def test_the_server_answers_50_concurrent_requests_and_survives_a_kill(tmp_path):
    spec = importlib.util.spec_from_file_location("server_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["server_load"] = module
    spec.loader.exec_module(module)
    out = tmp_path / "load.json"
    argv = ["--size", "256", "--concurrency", "50", "--min-rounds", "2", "--out", str(out)]
    assert module.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["requests"] >= 100 and report["failed"] == 0
    assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]
    assert report["restart"] == {**report["restart"], "state_after_restart": "done"}
    assert report["restart"]["finished_jobs_kept"]
