"""A small load test on loopback: ``terrasight serve --jobs 2`` with three jobs queued, and
rounds of 64 API requests at once (status, list, map info) while they run; none may fail,
and never more than two jobs run at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx

from .conftest import TOKEN, free_port, wait_done

PAIR = {"before": "site/before.tif", "after": "site/after.tif", "method": "cva"}
LAUNCH = "import sys; from terrasight.cli import main; sys.exit(main())"
AT_ONCE = 64
ROUNDS = 2


def _start(data_dir, store, port: int) -> subprocess.Popen:
    argv = [sys.executable, "-c", LAUNCH, "serve", "--jobs", "2", "--no-classify"]
    argv += ["--port", str(port), "--store", str(store), "--data", str(data_dir)]
    process = subprocess.Popen(argv, env={**os.environ, "TERRASIGHT_TOKEN": TOKEN})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "terrasight serve exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("terrasight serve did not start within 60 s")


async def _burst(url: str, ids: list[str]) -> list[httpx.Response]:
    paths = [f"/api/jobs/{ids[i % 3]}" for i in range(AT_ONCE // 3)]
    paths += ["/api/jobs"] * (AT_ONCE // 3)
    paths += [f"/api/jobs/{ids[i % 3]}/map" for i in range(AT_ONCE - len(paths))]
    headers = {"authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=AT_ONCE)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as c:
        return await asyncio.gather(*(c.get(p) for p in paths))


def test_three_jobs_two_at_once_and_64_requests_at_a_time(data_dir, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start(data_dir, tmp_path / "store", port)
    try:
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {TOKEN}"}) as client:
            created = [client.post("/api/jobs", json=PAIR) for _ in range(3)]
            assert [r.status_code for r in created] == [201] * 3
            ids = [r.json()["id"] for r in created]
            responses = []
            for _ in range(ROUNDS):
                responses += asyncio.run(_burst(url, ids))
            assert len(responses) == AT_ONCE * ROUNDS
            failed = [
                (r.request.url.path, r.status_code) for r in responses if r.status_code != 200
            ]
            assert failed == []
            running = [
                sum(j["state"] == "running" for j in r.json())
                for r in responses
                if r.request.url.path == "/api/jobs"
            ]
            assert max(running) <= 2
            for r in responses:
                job = r.json()
                if r.request.url.path.count("/") == 3 and job["state"] == "queued":
                    assert job["state_text"] == f"queued, position {job['queue_position']}"
            assert [wait_done(client, i)["state"] for i in ids] == ["done"] * 3
    finally:
        process.terminate()
        process.wait(30)
