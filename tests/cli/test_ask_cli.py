"""``terrasight ask``: a pair or a saved result, text or one JSON object, bad input as one line."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.errors import QuestionError, exit_code
from terrasight.tasks.interpret.ask import facts_of
from terrasight.tasks.interpret.facts_data import FACTS_NAME, write_facts


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def result_dir(planted_change, planted_facts):
    """The planted pair (one 20 x 24 px change in the centre) saved by 'terrasight change',
    with its facts."""
    write_facts(planted_facts, planted_change / FACTS_NAME)
    return planted_change


@pytest.fixture(scope="module")
def planted_facts(_planted_change):
    """The default facts of the planted change (land cover where PyTorch is installed), made
    once per module from the session's folder (read, not written)."""
    return facts_of(_planted_change)


def test_a_pair_is_answered_and_its_result_kept(planted_pair, tmp_path):
    before, after, _ = planted_pair
    out = tmp_path / "kept"
    res = _run(
        "ask",
        before,
        after,
        "how many changes are in the centre?",
        "-m",
        "cva",
        "-o",
        out,
        "--json",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)  # exactly one JSON object on stdout
    assert (data["value"], data["evidence"], data["question_type"]) == (1, [1], "count")
    assert (out / "facts.json").is_file() and (out / "summary.json").is_file()
    again = _run("ask", "--from-result", out, "where is the largest change?")
    assert again.exit_code == 0 and "centre" in again.output


def test_a_result_folder_is_the_first_argument_as_in_describe_and_chat(result_dir):
    by_position = _run("ask", result_dir, "how", "many", "changes?", "--json")
    by_option = _run("ask", "--from-result", result_dir, "how many changes?", "--json")
    assert by_position.exit_code == 0, by_position.output
    assert json.loads(by_position.output) == json.loads(by_option.output)


def test_a_saved_result_answers_fast_without_detecting(result_dir):
    start = time.perf_counter()
    res = _run(
        "ask", "--from-result", result_dir, "what percentage of the scene changed?", "--json"
    )
    seconds = time.perf_counter() - start
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["unit"] == "%" and data["value"] == pytest.approx(100 * 480 / (96 * 128), rel=0.1)
    assert seconds < 1.0
    text = _run(
        "ask",
        "--from-result",
        result_dir,
        "is",
        "there",
        "more",
        "change",
        "in",
        "the",
        "north",
        "or",
        "the",
        "centre?",
    )
    assert text.exit_code == 0 and text.output.startswith("The centre has more change")


@pytest.mark.parametrize(
    ("question", "words"),
    [("how many cars are there?", "'cars'"), ("what changed since 2001?", "two dates")],
)
def test_unanswerable_questions_say_why_and_exit_8(result_dir, question, words):
    res = _run("ask", "--from-result", result_dir, question)
    assert res.exit_code == exit_code(QuestionError("x")) == 8
    assert res.output.startswith("I can't tell that from these images, because")
    assert words in res.output
    as_json = _run("ask", "--from-result", result_dir, question, "--json")
    assert as_json.exit_code == 8 and json.loads(as_json.output)["answerable"] is False


@pytest.mark.parametrize("question", ["", "wie viele Gebäude sind neu?"])
def test_empty_or_foreign_questions_are_one_line(result_dir, question):
    res = _run("ask", "--from-result", result_dir, question)
    assert res.exit_code == 8
    assert res.output.count("\n") == 1 and res.output.startswith("Error:")


def test_bad_pairs_and_folders_are_one_line(planted_pair, tmp_path):
    before, _, _ = planted_pair
    missing = _run("ask", before, tmp_path / "missing.tif", "how many changes?", "-m", "cva")
    assert missing.exit_code == 4 and missing.output.count("\n") == 1
    not_result = _run("ask", "--from-result", tmp_path, "how many changes?")
    assert not_result.exit_code == 2 and "not a change result folder" in not_result.output
    one_image = _run("ask", before, "how many changes?")  # one image: one date, no change
    assert one_image.exit_code == 8 and "one date" in one_image.output
