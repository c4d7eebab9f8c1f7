"""One rule for where ``serve`` and ``mcp --http`` listen: elsewhere than loopback needs a token."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.errors import InvalidOptionError
from terrasight.io.listen import check_listen, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("192.168.1.5", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_check_listen_names_what_the_token_guards() -> None:
    check_listen("127.0.0.1", None, "the tools")
    check_listen("0.0.0.0", "long-enough-token", "the tools")
    with pytest.raises(InvalidOptionError, match="--host 0.0.0.0 .* can use the tools"):
        check_listen("0.0.0.0", None, "the tools")
    with pytest.raises(InvalidOptionError, match="at least 8 characters"):
        check_listen("127.0.0.1", "short", "the tools")


def test_mcp_refuses_an_open_address_without_a_token(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("TERRASIGHT_TOKEN", raising=False)
    res = CliRunner().invoke(main, ["mcp", str(tmp_path), "--http", "--host", "0.0.0.0"])
    assert res.exit_code != 0
    assert "reachable from other machines" in res.output and "the tools" in res.output
