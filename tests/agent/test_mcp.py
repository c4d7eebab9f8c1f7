"""``terrasight mcp``: the agent's tools to an MCP client (the ``mcp`` package's own), over
standard input/output and over streamable HTTP behind a token."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from terrasight.agent.registry import schemas, usable_tools
from terrasight.agent.session import Session
from terrasight.samples.demo import make_demo_pair
from terrasight.tasks.change.pipeline.detect import detect_changes

mcp = pytest.importorskip("mcp", reason="the mcp extra is not installed")
from mcp.client.stdio import StdioServerParameters  # noqa: E402

TOKEN = "mcp-test-token-0123"
LAUNCH = "import sys; from terrasight.cli import main; sys.exit(main())"
WANTED = {"detect_changes", "change_facts", "answer_question", "describe_change", "count_changes"}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 256 px demo pair (six planted changes), its change found once and saved."""
    root = tmp_path_factory.mktemp("mcp")
    pair = make_demo_pair(root / "pair", size=256)
    found = detect_changes(pair.before, pair.after, "cva", outdir=root / "changes")
    found.save(root / "changes", report=False, facts=False)
    return root / "changes"


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCH, "mcp", *args]


async def _use(client) -> tuple[list, object, object, object]:
    async with client:
        tools = (await client.list_tools()).tools
        detected = await client.call_tool("detect_changes", {})
        counted = await client.call_tool("count_changes", {"places": ["north"]})
        wrong = await client.call_tool("count_changes", {"size": "enormous"})
        return tools, detected, counted, wrong


def _check(tools, detected, counted, wrong, result: Path) -> None:
    by_name = {t.name: t for t in tools}
    assert WANTED <= set(by_name)
    # the schemas are the agent's own, derived from the functions
    session = Session(result)
    try:
        expected = {s["function"]["name"]: s["function"] for s in schemas(usable_tools(session))}
    finally:
        session.close()
    assert set(by_name) == set(expected)
    count = by_name["count_changes"]
    assert count.input_schema == expected["count_changes"]["parameters"]
    assert count.input_schema["properties"]["size"]["enum"] == ["large", "small"]
    assert count.description == expected["count_changes"]["description"]

    assert not detected.is_error and detected.structured_content["unit"] == "objects"
    found = detected.structured_content["value"]
    assert found >= 1 and len(detected.structured_content["evidence"]) == found
    north = counted.structured_content
    assert not counted.is_error and 0 <= north["value"] <= found
    assert str(north["value"]) in counted.content[0].text
    assert wrong.is_error and "size must be one of" in wrong.structured_content["error"]


def test_the_tools_over_stdio(result):
    params = StdioServerParameters(command=sys.executable, args=_command(str(result))[1:])
    used = anyio.run(_use, mcp.Client(params, read_timeout_seconds=120))
    _check(*used, result)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "terrasight mcp --http exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


def test_the_tools_over_http_behind_the_token(result):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    port = _free_port()
    argv = _command(str(result), "--http", "--port", str(port))
    process = subprocess.Popen(argv, env={**_env(), "TERRASIGHT_TOKEN": TOKEN})
    try:
        _wait_listening(port, process)
        url = f"http://127.0.0.1:{port}/mcp"
        refused = httpx2.post(url, json={}, headers={"authorization": "Bearer wrong-token-1"})
        assert refused.status_code == 401

        async def run() -> tuple:
            headers = {"authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
                transport = streamable_http_client(url, http_client=http)
                return await _use(mcp.Client(transport))

        _check(*anyio.run(run), result)
    finally:
        process.terminate()
        process.wait(30)


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_an_open_http_address_needs_a_token(result):
    from click.testing import CliRunner

    from terrasight.cli import COMMANDS, main

    assert COMMANDS["mcp"] == "terrasight.cli.mcp:mcp"
    refused = CliRunner().invoke(
        main,
        ["mcp", str(result), "--http", "--host", "0.0.0.0"],
        env={"TERRASIGHT_TOKEN": ""},
    )
    assert refused.exit_code == 2 and "--token" in refused.output
