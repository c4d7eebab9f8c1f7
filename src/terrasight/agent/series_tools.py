"""The series tool: when did things change, over the series of dates of the conversation.

Offered when the conversation holds a series folder (``terrasight series -o DIR``;
``Agent(DIR)`` or ``Agent(before, after, series=DIR)``, ``terrasight chat DIR``).
Registered like the other tools.

Example:
    >>> session = Session("series_out/")  # doctest: +SKIP
    >>> when_changed(session, "what changed since 2021?")["evidence"]  # doctest: +SKIP
    [1, 4]
"""

from __future__ import annotations

from typing import Any

from terrasight.agent.brains.queries import answer_dict
from terrasight.agent.registry import needs
from terrasight.agent.session import Session
from terrasight.errors import QuestionError, ToolArgumentError


@needs("series")
def when_changed(
    session: Session, question: str, object_ids: list[int] | None = None
) -> dict[str, Any]:
    """Answer when things changed over the series of dates: "when did the largest change
    happen?", "what changed since 2021?", "how many changes between 2019 and 2020?".

    Args:
        question: the question, in English, with any dates in it.
        object_ids: only among these change objects of the series.
    """
    from terrasight.tasks.interpret.ask_series import ask_series

    try:
        return answer_dict(ask_series(session.series_result(), question, object_ids))
    except QuestionError as exc:
        raise ToolArgumentError(f"when_changed: {exc}") from None
