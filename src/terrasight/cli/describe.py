"""``terrasight describe BEFORE [AFTER]``: a change, or one scene, in one to three sentences."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.options import IMAGE, method_option, out_option
from terrasight.io.vectors import jsonable


@click.command(name="describe")
@click.argument("before", type=IMAGE)
@click.argument("after", required=False, type=IMAGE)
@method_option
@out_option("folder", "Keep the change outputs (mask, vectors, facts.json, report) here")
@click.option(
    "--classify",
    "max_classified",
    type=click.IntRange(min=0),
    default=None,
    help="Classify the land cover of this many objects, the largest first (default 50).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the caption and its facts as JSON.")
def describe(
    before: Path,
    after: Path | None,
    method: str,
    outdir: Path | None,
    max_classified: int | None,
    as_json: bool,
) -> None:
    """Say in words what changed between BEFORE and AFTER, or what one image shows.

    \b
    terrasight describe 2019.tif 2024.tif      detect, then describe the change
    terrasight describe changes/               describe a saved 'terrasight change' result
    terrasight describe scene.tif              caption one scene, with its top classes
    """
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.interpret.describe import describe as run
    from terrasight.tasks.interpret.facts import FactsOptions

    options = None if max_classified is None else FactsOptions(max_classified=max_classified)
    cache = ModelCache()
    if after is not None and outdir is not None:
        from terrasight.tasks.change.pipeline.detect import detect_changes

        result = detect_changes(before, after, method=method, outdir=outdir, cache=cache)
        result.save(outdir, facts=options or True, cache=cache)
        description = run(outdir, cache=cache)
    else:
        description = run(before, after, method=method, facts_options=options, cache=cache)
    if as_json:
        click.echo(json.dumps(jsonable(description.to_dict()), indent=1, allow_nan=False))
        return
    click.echo(description.text)
    facts = description.facts
    if facts is not None:
        for issue in facts.quality_issues:
            click.secho(f"UNRELIABLE RESULT: {issue}.", fg="red", bold=True, err=True)
        for w in facts.warnings:  # as 'terrasight change' prints them for the same pair
            click.echo(f"warning: {w}", err=True)
        if facts.cloud_check and facts.cloud_check != "checked":
            click.echo(f"clouds: {facts.cloud_check}", err=True)
        for note in facts.notes:
            click.echo(f"note: {note}", err=True)
    scene = description.scene
    if scene is not None and getattr(scene, "classes", None):
        top = ", ".join(f"{name} {score:.2f}" for name, score in scene.classes[:3])
        click.echo(f"classes: {top}")
    for caveat in getattr(scene, "caveats", ()):
        click.echo(f"caveat: {caveat}.", err=True)
