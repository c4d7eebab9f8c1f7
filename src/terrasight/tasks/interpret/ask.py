"""Answer plain-language questions about what changed between two images.

:func:`ask` detects the changes of a pair (or reopens a saved result folder),
:func:`ask_result` answers from a result or its facts. Questions are read by
:func:`~terrasight.tasks.interpret.ask_parse.parse_question` (rules, then the
sentence-embedding model when the rules are unsure) and answered from the
:class:`~terrasight.tasks.interpret.facts_data.ChangeFacts` only: every number
names the objects it rests on, a question the facts cannot answer gets
"I can't tell that from these images, because ...", and an unreliable result
says so in every answer.

Example:
    >>> answer = ask("2019.tif", "2024.tif", "how many new buildings are in the north?")  # doctest: +SKIP
    >>> answer.text, answer.value, answer.evidence  # doctest: +SKIP
    ('2 changes to built-up in the north (objects 3, 7).', 2, (3, 7))
    >>> ask("changes/", question="what percentage of the scene changed?").value  # doctest: +SKIP
    1.2
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.errors import InvalidOptionError
from terrasight.tasks.interpret.ask_answer import answer_query
from terrasight.tasks.interpret.ask_parse import Query, parse_question
from terrasight.tasks.interpret.ask_select import Answer, cant_tell
from terrasight.tasks.interpret.ask_series import ask_series, is_series_folder
from terrasight.tasks.interpret.describe import facts_of
from terrasight.tasks.interpret.facts import FactsOptions
from terrasight.tasks.interpret.facts_data import ChangeFacts, read_facts
from terrasight.tasks.series.result import SeriesResult

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.change.result import ChangeResult

log = logging.getLogger(__name__)

__all__ = ["Answer", "ask", "ask_result", "facts_of"]


def ask(
    before: str | Path,
    after: str | Path | None = None,
    question: str | None = None,
    *,
    method: str = "auto",
    outdir: str | Path | None = None,
    cache: ModelCache | None = None,
    model: bool = True,
    **detect_options: Any,
) -> Answer:
    """Answer a question about the change between ``before`` and ``after``.

    Args:
        before, after: the two images; or ``before`` a result folder (written by
            ``terrasight change -o DIR``, or by ``terrasight series -o DIR``: see
            :func:`~terrasight.tasks.interpret.ask_series.ask_series`) and ``after``
            None: no detection then.
        question: an English question (see :func:`ask_result`).
        method: the change method for a pair.
        outdir: keep the pair's result there (with ``facts.json``, land cover classified
            when PyTorch is installed) for later questions.
        cache: keeps loaded models (change network, image-text and sentence models).
        model: let the sentence-embedding model type questions the rules cannot.
        detect_options: more options of
            :func:`~terrasight.tasks.change.pipeline.detect.detect_changes`.

    Raises:
        QuestionError: the question is empty or not English.
        InvalidOptionError: no question, or a result folder given with a second image.
        RasterReadError, PairAlignmentError...: the pair cannot be read or compared.

    Example:
        >>> ask("a.tif", "b.tif", "has anything changed?").value  # doctest: +SKIP
        True
        >>> ask("changes/", question="where is the largest change?").value  # doctest: +SKIP
        'north-west'
    """
    from terrasight.tasks.change.load import is_result_folder

    if question is None:
        raise InvalidOptionError("no question given: ask(before, after, 'how many changes?').")
    if is_result_folder(before) or is_series_folder(before):
        if after is not None:
            raise InvalidOptionError(
                f"{before} is a saved result folder: ask it without a second image "
                "(ask(folder, question=...)), or give two images."
            )
        return ask_result(before, question, cache, model=model)  # a series' too
    if after is None:
        raise InvalidOptionError(
            f"{before} is not a saved change result folder; give the after image too."
        )
    query = parse_question(question, cache, model)
    if query.kind == "unanswerable":
        return _with_notes(cant_tell(query.unanswerable or "the question is unclear"), query)
    facts = _detect_facts(before, after, query, method, outdir, cache, detect_options)
    return _with_notes(answer_query(facts, query), query)


def ask_result(
    source: ChangeResult | ChangeFacts | SeriesResult | str | Path,
    question: str,
    cache: ModelCache | None = None,
    *,
    model: bool = True,
) -> Answer:
    """Answer a question from a change result, its facts, or a saved result folder.

    Question types: presence ("has anything changed?", "did the forest shrink?"),
    count ("how many new buildings are in the north?"), area ("what percentage of
    the scene changed?", "how many hectares changed?"), location ("where is the
    largest change?"), class ("what did the forest become?"), comparison ("more
    change in the east or the west?") and listing ("list the changes in the
    south-west", "which objects are elongated?").

    Args:
        source: a :class:`ChangeResult`, its :class:`ChangeFacts`, or a result folder
            (its ``facts.json``; computed from the folder when missing); a series
            result or its folder is answered by
            :func:`~terrasight.tasks.interpret.ask_series.ask_series`.
        question: an English question.
        cache: keeps the sentence-embedding (and image-text) models.
        model: let the sentence-embedding model type questions the rules cannot.

    Raises:
        QuestionError: the question is empty or not English.
        InvalidOptionError: the folder is not a change result.

    Example:
        >>> facts = read_facts("changes/facts.json")  # doctest: +SKIP
        >>> ask_result(facts, "which objects are elongated?").evidence  # doctest: +SKIP
        (2, 9)
    """
    if isinstance(source, SeriesResult) or (
        isinstance(source, str | Path) and is_series_folder(source)
    ):
        return ask_series(source, question)
    query = parse_question(question, cache, model)
    if query.kind == "unanswerable":
        return _with_notes(cant_tell(query.unanswerable or "the question is unclear"), query)
    options = FactsOptions(classify=needs_classes(query) and has_torch())
    facts = facts_of(source, options, cache, reuse=True)
    return _with_notes(answer_query(facts, query), query)


def needs_classes(query: Query) -> bool:
    """Whether answering needs the land cover of the changes.

    Example:
        >>> needs_classes(parse_question("what was built?", model=False))
        True
    """
    return bool(query.classes) or query.kind == "class"


def has_torch() -> bool:
    """Whether PyTorch is installed (land-cover classification needs it)."""
    return importlib.util.find_spec("torch") is not None


def _detect_facts(
    before: str | Path,
    after: str | Path,
    query: Query,
    method: str,
    outdir: str | Path | None,
    cache: ModelCache | None,
    detect_options: dict[str, Any],
) -> ChangeFacts:
    """Detect the pair's changes and make their facts; with ``outdir`` the result is saved
    there with its ``facts.json`` (land cover classified when PyTorch is installed)."""
    from terrasight.tasks.change.pipeline.detect import detect_changes
    from terrasight.tasks.interpret.facts import FactsOptions, change_facts

    result = detect_changes(before, after, method, outdir=outdir, cache=cache, **detect_options)
    if needs_classes(query):
        result = _with_measured_classes(result)
    if outdir is not None:
        paths = result.save(outdir, report=False, cache=cache)
        return read_facts(paths["facts"])
    classify = has_torch() and needs_classes(query)
    return change_facts(result, FactsOptions(classify=classify), cache)


def _with_measured_classes(result: Any) -> Any:
    """The result with each change's land cover measured per pixel
    (:func:`~terrasight.tasks.semantic.run.classify_changes`); as it was where the images
    have no RGB or the land-cover network cannot run (the image-text model then classifies)."""
    from terrasight.errors import BandSelectionError, MissingDependencyError, ModelWeightsError
    from terrasight.tasks.semantic.run import classify_changes

    try:
        return classify_changes(result)
    except (BandSelectionError, MissingDependencyError, ModelWeightsError) as exc:
        log.info("land cover of the changes not measured: %s", exc)
        return result


def _with_notes(answer: Answer, query: Query) -> Answer:
    return replace(answer, notes=(*answer.notes, *query.notes))
