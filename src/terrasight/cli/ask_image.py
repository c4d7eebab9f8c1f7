"""The one-image form of ``terrasight ask``: ``terrasight ask IMAGE "QUESTION"`` and
``terrasight ask IMAGE --questions FILE``, answered from the image's land cover."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from terrasight.errors import InvalidOptionError
from terrasight.io.remote import repair

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".png", ".jpg", ".jpeg", ".img", ".json")
"""File endings that make an argument an image rather than a word of the question."""


def is_one_image(args: tuple[str, ...], questions: Path | None) -> bool:
    """Whether the arguments are ``IMAGE "QUESTION"`` (or ``IMAGE`` with ``--questions``)
    rather than ``BEFORE AFTER "QUESTION"``.

    Example:
        >>> is_one_image(("a.tif", "how many buildings?"), None)
        True
        >>> is_one_image(("a.tif", "b.tif", "how many new buildings?"), None)
        False
    """
    if questions is not None:
        return len(args) == 1
    return len(args) >= 2 and not _image_like(args[1])


def _image_like(arg: str) -> bool:
    return Path(arg).exists() or "://" in arg or arg.lower().endswith(RASTER_SUFFIXES)


def read_questions(path: Path) -> list[str]:
    """Questions from a file: a JSON list of strings, or one question a line.

    Example:
        >>> read_questions(Path("questions.txt"))  # doctest: +SKIP
        ['is there water?', 'how many buildings?']
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidOptionError(f"--questions {path}: cannot read it ({err}).") from err
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidOptionError(f"--questions {path}: not a valid JSON list ({err}).") from err
        if not all(isinstance(q, str) for q in items):
            raise InvalidOptionError(f"--questions {path}: the JSON list must hold strings only.")
        return [q for q in items if q.strip()]
    return [line.strip() for line in text.splitlines() if line.strip()]


def run_one_image(
    args: tuple[str, ...],
    questions: Path | None,
    landcover: Path | None,
    outdir: Path | None,
    as_json: bool,
    metres: float | None = None,
) -> bool:
    """Answer the one-image form; returns whether every answer was answerable."""
    from terrasight.tasks.scene_ask.ask import ask_image_many, default_landcover
    from terrasight.tasks.scene_ask.landcover_map import is_landcover_file, read_landcover
    from terrasight.tasks.scene_ask.scale import landcover_at

    image = repair(args[0])
    asked = read_questions(questions) if questions is not None else [" ".join(args[1:])]
    if questions is not None and not asked:
        raise InvalidOptionError(f"--questions {questions}: the file holds no question.")
    if landcover is None and not is_landcover_file(image) and default_landcover() is None:
        raise InvalidOptionError(
            f"{image} is not a land-cover map and this install has no land-cover model: give "
            "its landcover.tif (as IMAGE or with --landcover FILE), or BEFORE AFTER "
            '"QUESTION" to ask what changed between two images.'
        )
    source = read_landcover(landcover) if landcover is not None else image
    made_by = landcover_at(metres) if metres is not None else None
    answers = ask_image_many(source, asked, outdir=outdir, landcover=made_by)
    rows: list[dict[str, Any]] = [
        {"question": q, **a.to_dict()} for q, a in zip(asked, answers, strict=True)
    ]
    if as_json:
        click.echo(json.dumps(rows if questions is not None else rows[0], default=str))
    else:
        for row in rows:
            if questions is not None:
                click.echo(f"Q: {row['question']}")
            click.echo(row["answer"])
            for caveat in row["caveats"]:
                click.echo(f"  caveat: {caveat}")
            if isinstance(row["geojson"], str):
                click.echo(f"  evidence: {row['geojson']}")
    return all(a.answerable for a in answers)
