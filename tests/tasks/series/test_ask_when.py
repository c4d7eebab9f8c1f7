"""Questions of time asked of a real series job (the planted series of conftest.py)."""

from __future__ import annotations

from terrasight.tasks.interpret.ask import ask
from terrasight.tasks.series import SeriesResult


def test_when_names_every_planted_date(series_result: SeriesResult) -> None:
    answer = ask(series_result.folder, question="when did it change?")
    # flood 2019-11-01, roof 2020-03-01, clearing 2020-07-01, roof first seen after the
    # missing date of 2020-11-01
    assert {"2019-11-01", "2020-03-01", "2020-07-01", "2021-03-01"} <= set(answer.value)
    assert set(answer.evidence) == {o.id for o in series_result.objects}


def test_since_a_year_keeps_only_later_changes(series_result: SeriesResult) -> None:
    answer = ask(series_result.folder, question="how many changes since 2020?")
    later = [o for o in series_result.objects if o.first_seen >= "2020-01-01"]
    assert answer.value == len(later) >= 3
    assert set(answer.evidence) == {o.id for o in later}
    # the clearing was last seen unchanged in 2019 (a cloud hid it on 2020-03-01)
    assert any("may have changed before 2020-01-01" in c for c in answer.caveats)


def test_the_roof_behind_the_missing_date_is_dated_after_it(series_result: SeriesResult) -> None:
    answer = ask(series_result.folder, question="what changed in 2021?")
    roofs = [o for o in series_result.objects if o.first_seen == "2021-03-01"]
    assert roofs and set(answer.evidence) == {o.id for o in roofs}
    assert all("between 2020-07-01 and 2021-03-01" in answer.text for _ in roofs)
