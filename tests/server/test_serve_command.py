"""``terrasight serve`` on the command line."""

from __future__ import annotations

from click.testing import CliRunner

from terrasight.cli import COMMANDS, main


def test_serve_is_a_command_and_lists_its_options():
    assert COMMANDS["serve"] == "terrasight.server.main:serve"
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--token", "--data", "--jobs", "--max-upload-mb"):
        assert option in result.output


def test_serve_refuses_an_open_address_without_a_token(tmp_path):
    result = CliRunner().invoke(
        main,
        ["serve", "--host", "0.0.0.0", "--jobs", str(tmp_path / "jobs")],
        env={"TERRASIGHT_TOKEN": ""},
    )
    assert result.exit_code == 2 and "--token" in result.output
    assert not (tmp_path / "jobs").exists()


def test_serve_refuses_a_short_token(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--token", "abc", "--jobs", str(tmp_path / "j")])
    assert result.exit_code == 2 and "at least 8 characters" in result.output


def test_jobs_is_a_number_and_store_the_folder(tmp_path):
    listed = CliRunner().invoke(main, ["serve", "--help"])
    assert "--store" in listed.output and "queued, position k" in listed.output
    both = ["serve", "--jobs", str(tmp_path / "a"), "--store", str(tmp_path / "b")]
    refused = CliRunner().invoke(main, both)
    assert refused.exit_code == 2 and "--jobs N" in refused.output
    zero = CliRunner().invoke(main, ["serve", "--jobs", "0", "--store", str(tmp_path / "c")])
    assert zero.exit_code == 2 and "at least 1" in zero.output
    assert not any(tmp_path.iterdir())  # nothing made before the options were checked
