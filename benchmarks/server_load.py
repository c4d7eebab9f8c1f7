"""Load and restart test of ``terrasight serve`` on the loopback address.

```bash
.venv/bin/python benchmarks/server_load.py                    # 64 concurrent, sample 1024 px
.venv/bin/python benchmarks/server_load.py --concurrency 100 --size 512 --method irmad
```

1. Starts ``terrasight serve`` in its own process (a token, a new jobs folder) and runs
   the sample job once, so that its facts exist.
2. Starts a second job and, while it runs, fires rounds of ``--concurrency``
   simultaneous requests (half ``GET /api/jobs/{running}``, half
   ``GET /api/jobs/{finished}/facts``) until it has finished (at least
   ``--min-rounds``); every latency is kept, and every request that is not a 200.
3. Starts a third job, kills the server process (SIGKILL) once that job is running,
   starts a new server on the same jobs folder and waits: the third job must
   finish, and the first two must still be there, done, with their facts.
4. Prints and writes (``--out``, default ``benchmarks/results/server_load.json``)
   the request count, failures, p50/p95/p99/max latency in ms, and the restart.

Exits 1 when a request failed or the restart lost or did not finish a job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``terrasight serve`` in a child process."""

    def __init__(self, jobs: Path, port: int, token: str, size: int) -> None:
        self.jobs, self.port, self.token, self.size = jobs, port, token, size
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        code = (
            "import sys; from terrasight.cli import main; "
            "sys.exit(main(['serve', '--no-classify', '--port', sys.argv[1], '--store', sys.argv[2], "
            "'--sample-size', sys.argv[3]]))"
        )
        env = {**os.environ, "TERRASIGHT_TOKEN": self.token}
        argv = [sys.executable, "-c", code, str(self.port), str(self.jobs), str(self.size)]
        self.process = subprocess.Popen(argv, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start within 60 s")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


def create(client: httpx.Client, method: str) -> str:
    answer = client.post("/api/jobs", json={"sample": True, "method": method})
    answer.raise_for_status()
    return answer.json()["id"]


def wait_for(client: httpx.Client, job_id: str, states: set[str], timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise RuntimeError(f"job {job_id} not {states} within {timeout} s")


async def load(url: str, token: str, running: str, finished: str, args) -> dict[str, Any]:
    """Rounds of concurrent status and facts requests while ``running`` runs."""
    latencies: list[float] = []
    failures: list[str] = []
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60
    ) as client:

        async def one(path: str) -> None:
            start = time.perf_counter()
            try:
                answer = await client.get(path)
                if answer.status_code != 200:
                    failures.append(f"{path}: {answer.status_code}")
            except httpx.HTTPError as exc:
                failures.append(f"{path}: {type(exc).__name__}")
            latencies.append(time.perf_counter() - start)

        rounds, during = 0, 0
        while True:
            state = (await client.get(f"/api/jobs/{running}")).json()["state"]
            if state in ("done", "failed", "cancelled") and rounds >= args.min_rounds:
                break
            during += state == "running"
            paths = [
                f"/api/jobs/{running}" if i % 2 else f"/api/jobs/{finished}/facts"
                for i in range(args.concurrency)
            ]
            await asyncio.gather(*(one(p) for p in paths))
            rounds += 1
    ms = np.array(latencies) * 1000
    return {
        "concurrency": args.concurrency,
        "rounds": rounds,
        "rounds_while_running": during,
        "requests": len(latencies),
        "failed": len(failures),
        "failures": failures[:20],
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


def restart(server: Server, client: httpx.Client, method: str, kept: list[str]) -> dict[str, Any]:
    """Kill the server while a job runs, start it again: the job finishes, nothing is lost."""
    job_id = create(client, method)
    job = wait_for(client, job_id, {"running", "done"})
    server.kill()
    server.start()
    finished = wait_for(client, job_id, {"done", "failed", "cancelled"})
    kept_ok = all(
        client.get(f"/api/jobs/{k}").json()["state"] == "done"
        and client.get(f"/api/jobs/{k}/facts").status_code == 200
        for k in kept
    )
    return {
        "killed_while": job["state"],
        "killed_at_progress": job["progress"],
        "state_after_restart": finished["state"],
        "finished_jobs_kept": kept_ok,
    }


def run(args) -> dict[str, Any]:
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="terrasight-load-") as tmp:
        server = Server(Path(tmp) / "jobs", free_port(), token, args.size).start()
        try:
            headers = {"authorization": f"Bearer {token}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
                first = create(client, args.method)
                wait_for(client, first, {"done"})
                second = create(client, args.method)
                report = asyncio.run(load(server.url, token, second, first, args))
                wait_for(client, second, {"done"})
                report["restart"] = restart(server, client, args.method, [first, second])
        finally:
            server.stop()
    report.update(size=args.size, method=args.method, load_average=os.getloadavg())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--min-rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=1024, help="sample pair side in pixels")
    parser.add_argument("--method", default="cva")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "server_load.json")
    args = parser.parse_args(argv)
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    ok = report["failed"] == 0 and report["restart"]["state_after_restart"] == "done"
    return 0 if ok and report["restart"]["finished_jobs_kept"] else 1


if __name__ == "__main__":
    sys.exit(main())
