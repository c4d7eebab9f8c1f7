"""Questions about a series of dates, answered from a hand-made SeriesResult."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from terrasight.errors import QuestionError
from terrasight.tasks.interpret.ask import ask
from terrasight.tasks.interpret.ask_series import ask_series, is_series_folder
from terrasight.tasks.interpret.when import DateSpan, find_span
from terrasight.tasks.series.result import SERIES_JSON, SeriesObject, SeriesResult, load_series

DATES = ("2019-06-01", "2020-06-01", "2021-06-01", "2022-06-01", "2023-06-01")


def _obj(id_: int, first: int, last: int | None, pixels: int, location: str) -> SeriesObject:
    return SeriesObject(
        id=id_,
        first_seen=DATES[first],
        last_unchanged=None if last is None else DATES[last],
        first_seen_index=first,
        last_unchanged_index=last,
        pixels=pixels,
        area=pixels * 100.0,
        area_unit="m2",
        confirmations=len(DATES) - first,
        location=location,
        centroid_lonlat=None,
        bbox_wgs84=None,
        pixel_bbox=(0, 0, 1, 1),
    )


@pytest.fixture
def result(tmp_path: Path) -> SeriesResult:
    objects = (
        _obj(1, 2, 1, 900, "north-west"),  # 9 ha, 2020-06 .. 2021-06
        _obj(2, 1, 0, 300, "south"),  # 3 ha, 2019-06 .. 2020-06
        _obj(3, 4, 2, 120, "north"),  # 1.2 ha, 2021-06 .. 2023-06 (2022 was cloudy there)
        _obj(4, 2, 1, 50, "centre"),
    )
    timeline = tuple(
        {
            "date": d,
            "previous": p,
            "changed_pixels": sum(o.pixels for o in objects if o.first_seen == d),
            "changed_area": 0.0,
            "objects": 0,
        }
        for p, d in zip(DATES, DATES[1:], strict=False)
    )
    res = SeriesResult(
        method="cva",
        images=tuple(f"{d}.tif" for d in DATES),
        dates=DATES,
        folder=tmp_path,
        crs=None,
        transform=(10.0, 0.0, 0.0, 0.0, -10.0, 0.0),
        width=200,
        height=200,
        clear_share=(1.0, 1.0, 1.0, 0.3, 1.0),
        cloud_share=(0.0, 0.0, 0.0, 0.7, 0.0),
        timeline=timeline,
        objects=objects,
        pixel_area=100.0,
        area_unit="m2",
    )
    (tmp_path / SERIES_JSON).write_text(json.dumps(res.summary()), encoding="utf-8")
    return res


def test_spans_read_years_months_days_and_open_ends() -> None:
    assert find_span("what changed since 2021?") == DateSpan("2021-01-01", None, "since 2021")
    assert find_span("after June 2020").start == "2020-07-01"
    assert find_span("before 2020-06-15").end == "2020-06-14"
    span = find_span("between 2019-06-01 and 2021-05")
    assert (span.start, span.end) == ("2019-06-01", "2021-05-31")
    assert find_span("anything in feb 2024?").end == "2024-02-29"
    assert find_span("when did it change?") is None


def test_when_the_largest_change_names_its_interval(result: SeriesResult) -> None:
    answer = ask_series(result, "When did the largest change happen?")
    assert answer.question_type == "when"
    assert answer.value == "2021-06-01"
    assert answer.evidence == (1,)
    assert "between 2020-06-01 and 2021-06-01" in answer.text


def test_when_in_general_groups_by_date(result: SeriesResult) -> None:
    answer = ask_series(result, "when did it change?")
    assert answer.value == ["2020-06-01", "2021-06-01", "2023-06-01"]
    assert set(answer.evidence) == {1, 2, 3, 4}
    assert "Most change area was first seen on 2021-06-01" in answer.text


def test_when_a_place_changed(result: SeriesResult) -> None:
    answer = ask_series(result, "when did the south change?")
    assert answer.value == "2020-06-01" and answer.evidence == (2,)


def test_what_changed_since_a_year(result: SeriesResult) -> None:
    answer = ask_series(result, "what changed since 2021?")
    assert answer.question_type == "listing"
    assert set(answer.evidence) == {1, 3, 4}
    # objects 1 and 4 were last seen unchanged in 2020: they may have changed before 2021
    assert any("may have changed before 2021-01-01" in c and "1, 4" in c for c in answer.caveats)


def test_count_area_presence(result: SeriesResult) -> None:
    assert ask_series(result, "how many changes after June 2020?").value == 3
    area = ask_series(result, "how many hectares changed between 2019 and 2020?")
    assert area.question_type == "area" and area.value == pytest.approx(30000.0)
    assert ask_series(result, "did anything change in 2020?").value is True


def test_a_change_first_seen_after_the_span_is_named_not_counted(result: SeriesResult) -> None:
    answer = ask_series(result, "did anything change in 2022?")
    assert answer.value is False and answer.evidence == ()
    assert any("Object 3" in c and "not counted" in c for c in answer.caveats)
    # the cloudy date is named
    assert any("2022-06-01" in c and "30.0%" in c for c in answer.caveats)


def test_questions_the_dates_cannot_answer(result: SeriesResult) -> None:
    assert not ask_series(result, "why did it change?").answerable
    assert not ask_series(result, "what changed since 2025?").answerable
    assert not ask_series(result, "what changed before 2019?").answerable
    assert not ask_series(result, "when were new buildings built?").answerable
    with pytest.raises(QuestionError):
        ask_series(result, "   ")


def test_ask_routes_a_series_folder(result: SeriesResult) -> None:
    assert is_series_folder(result.folder)
    assert load_series(result.folder).dates == DATES
    answer = ask(result.folder, question="how many changes since 2021?")
    assert answer.value == 3


def test_the_command_line_answers_from_a_series_folder(result: SeriesResult) -> None:
    from click.testing import CliRunner

    from terrasight.cli import main

    out = CliRunner().invoke(
        main, ["ask", str(result.folder), "when did the largest change happen?", "--json"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["value"] == "2021-06-01" and data["evidence"] == [1]
    out = CliRunner().invoke(
        main, ["ask", "--from-result", str(result.folder), "why did it change?"]
    )
    assert out.exit_code == 8 and "I can't tell" in out.output


def test_an_agent_on_a_series_folder_answers_when_with_follow_ups(result: SeriesResult) -> None:
    from terrasight.agent import Agent

    agent = Agent(result.folder)
    assert "when_changed" in agent.tools and "answer_question" not in agent.tools
    first = agent.ask("what changed since 2021?")
    assert first.tool_calls[0].name == "when_changed"
    assert set(first.evidence) == {1, 3, 4}
    follow = agent.ask("when did those change?")
    assert follow.tool_calls[0].arguments["object_ids"] == [1, 3, 4]
    assert "2023-06-01" in follow.text and "2020-06-01" not in follow.text.split(":")[0]
    largest = agent.ask("when did the largest change happen?")
    assert largest.tool_calls[0].name == "when_changed" and "2021-06-01" in largest.text
    later = agent.ask("and what changed after that?")
    assert later.tool_calls[0].arguments["question"] == "and what changed after 2021-06-01?"
    assert list(later.evidence) == [3]
    odd = agent.ask("what did the north become?")
    assert "can't tell" in odd.text


def test_a_pair_agent_does_not_offer_the_series_tool(tmp_path: Path) -> None:
    from terrasight.agent.registry import usable_tools
    from terrasight.agent.session import Session

    pair = Session(tmp_path / "a.tif", tmp_path / "b.tif")
    names = set(usable_tools(pair))
    assert "when_changed" not in names and "answer_question" in names
    with pytest.raises(Exception, match="two dates, not a series"):
        pair.series_result()
