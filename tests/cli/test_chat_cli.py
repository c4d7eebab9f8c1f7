"""``terrasight chat``: a conversation in the terminal, its /commands, and a clean exit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.tasks.interpret.ask import facts_of


def _chat(*args, input: str):
    return CliRunner().invoke(main, ["chat", *[str(a) for a in args]], input=input)


@pytest.fixture
def result_dir(planted_change):
    """The planted pair (one 20 x 24 px change in the centre) saved by 'terrasight change'."""
    return planted_change


def test_a_conversation_with_commands(result_dir, tmp_path):
    facts = facts_of(result_dir)
    saved = tmp_path / "saved"
    lines = [
        "/help",
        "how many changes are there?",
        "where is it?",
        "show me them",
        f"/save {saved}",
        "/brain nonsense",
        "/brain offline",
        "how large is it?",
        "/what",
        "/quit",
        "never asked",
    ]
    res = _chat(result_dir, input="\n".join(lines) + "\n")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "/save DIR" in out and "offline brain" in out
    assert f"{facts.object_count} change" in out and f"object {facts.objects[0].id}" in out
    assert f"in the {facts.objects[0].location}" in out
    assert "unknown brain 'nonsense'" in out and "now answering with the offline brain" in out
    assert "unknown command '/what'" in out
    doc = json.loads((saved / "transcript.json").read_text())
    assert [t["question"] for t in doc["turns"]] == lines[1:4]
    assert (saved / "exports").is_dir() and (saved / "change_mask.tif").is_file()
    assert "never asked" not in out


@pytest.mark.parametrize(
    "ending", ["", "how many changes?\n"], ids=["empty", "eof-after-a-question"]
)
def test_end_of_input_leaves_cleanly(result_dir, ending):
    res = _chat(result_dir, input=ending)
    assert res.exit_code == 0 and "Traceback" not in res.output


def test_missing_inputs_and_brain_options_exit_with_one_line(result_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("TERRASIGHT_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    res = _chat(tmp_path / "missing.tif", input="")
    assert res.exit_code == 2 and "nor an image file" in res.output
    res = _chat(result_dir, "--brain", "openai", "--model", "m", input="")
    assert res.exit_code == 2 and "--base-url" in res.output


def test_an_unreachable_server_is_reported_and_the_chat_goes_on(result_dir):
    res = _chat(
        result_dir,
        "--brain",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        input="how many changes?\n/brain offline\nhow many changes?\n",
    )
    assert res.exit_code == 0, res.output
    assert "error: http://127.0.0.1:9/v1/chat/completions: cannot connect" in res.output
    assert "1 change" in res.output


def test_db_gives_the_conversation_an_archive(result_dir, tiny_archive):
    db, files = tiny_archive
    res = _chat(result_dir, "--db", db, input="search the archive for an airport\n/quit\n")
    assert res.exit_code == 0, res.output
    assert 'Best match for "an airport": airport.tif' in res.output
