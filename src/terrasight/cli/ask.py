"""``terrasight ask BEFORE AFTER "question"`` and ``terrasight ask DIR "question"`` (a result folder)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.ask_image import is_one_image, run_one_image
from terrasight.cli.options import method_option, out_option
from terrasight.errors import InvalidOptionError, QuestionError, exit_code
from terrasight.io.remote import repair
from terrasight.tasks.interpret.ask_series import is_series_folder

UNANSWERABLE_EXIT = exit_code(QuestionError(""))
"""Exit status of a question the images cannot answer (the answer says why)."""


@click.command()
@click.argument("args", nargs=-1, required=True, metavar='[IMAGE | BEFORE AFTER] "QUESTION"')
@click.option(
    "--from-result",
    "from_result",
    type=click.Path(path_type=Path),
    default=None,
    hidden=True,
    help="Answer from a folder written by 'terrasight change -o DIR' (no detection).",
)
@method_option
@out_option(
    "folder",
    "Keep the pair's result here (with facts.json) for later questions; one image: "
    "its land cover and each answer's evidence GeoJSON",
)
@click.option(
    "--questions",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="One image: answer every question in FILE (one a line, or a JSON list).",
)
@click.option(
    "--landcover",
    type=click.Path(path_type=Path),
    default=None,
    help="One image: answer from this landcover.tif (or the folder holding it).",
)
@click.option(
    "--metres",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="One image: classify it resampled to this ground pixel size (m) first "
    "(e.g. 1 for 15 cm aerial, 2 for 10 m Sentinel-2); default: as it is.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.option(
    "--rules-only",
    is_flag=True,
    help="Read the question by rules only, never loading the sentence model.",
)
def ask(
    args: tuple[str, ...],
    from_result: Path | None,
    method: str,
    outdir: Path | None,
    questions: Path | None,
    landcover: Path | None,
    metres: float | None,
    as_json: bool,
    rules_only: bool,
) -> None:
    """Answer a plain-language QUESTION about what changed between BEFORE and AFTER,
    or about one IMAGE.

    \b
    Examples:
      terrasight ask 2019.tif 2024.tif "how many new buildings are in the north?"
      terrasight ask changes/ "what percentage of the scene changed?" --json
      terrasight ask series_out/ "what changed since 2021?"
      terrasight ask scene.tif "how many buildings are in the north?"
      terrasight ask landcover.tif --questions questions.txt --json

    Question types: has anything changed, how many, how much area (m2, hectares,
    km2, acres, square miles, percent), how long or wide (m, km, miles), where,
    what was built / what did X become, more change here or there, list the
    changes, the images' dates, clouds. Answers rest on the change facts only;
    every number names its objects. A question read by the sentence model (no
    rule fits) says so in its answer; one far from every type is refused. A folder written by 'terrasight series' answers when
    things changed: when, since/after/before/between dates, how many, how much.
    One IMAGE (or its landcover.tif) answers from its land cover: is there,
    how many, area and share, more X than Y, rural or urban, what is in the
    north-east, where is the largest X (evidence polygons as GeoJSON with -o).

    \b
    Exit status: 0 answered; 8 the question is empty, not English, or one the
    images cannot answer (another date, a thing the land-cover classes lack:
    the answer says why); 2 bad options; 3 and 4 a pair that cannot be read or
    compared; 6 a missing optional dependency.
    """
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.change.load import is_result_folder
    from terrasight.tasks.interpret.ask import ask as ask_api
    from terrasight.tasks.interpret.ask import ask_result

    folder = len(args) >= 2 and (is_series_folder(args[0]) or is_result_folder(args[0]))
    if from_result is None and folder:
        from_result, args = Path(args[0]), args[1:]
    if from_result is None and is_one_image(args, questions):
        if (
            not run_one_image(args, questions, landcover, outdir, as_json, metres)
            and questions is None
        ):
            raise click.exceptions.Exit(UNANSWERABLE_EXIT)
        return
    before, after, question = _split(args, from_result)
    cache = ModelCache()
    if from_result is not None:
        answer = ask_result(from_result, question, cache, model=not rules_only)
    else:
        answer = ask_api(
            before, after, question, method=method, outdir=outdir, cache=cache, model=not rules_only
        )
    for w in answer.warnings:  # as 'terrasight change' prints them for the same pair
        click.echo(f"warning: {w}", err=True)
    if as_json:
        click.echo(json.dumps({"question": question, **answer.to_dict()}, default=str))
    else:
        click.echo(answer.text)
        for caveat in answer.caveats:
            click.echo(f"  caveat: {caveat}")
    if not answer.answerable:
        raise click.exceptions.Exit(UNANSWERABLE_EXIT)


def _split(args: tuple[str, ...], from_result: Path | None) -> tuple[Path | str, Path | str, str]:
    """(before, after, question) of the arguments; the question's words may be unquoted."""
    if from_result is not None:
        return from_result, from_result, " ".join(args)
    if len(args) < 3:
        raise InvalidOptionError(
            'give IMAGE "QUESTION", BEFORE AFTER "QUESTION", or a result folder DIR "QUESTION" '
            "to reuse a result."
        )
    return repair(args[0]), repair(args[1]), " ".join(args[2:])
