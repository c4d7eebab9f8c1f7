"""``terrasight eval change DATASET --layout airchange``: score a method on a labelled dataset."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.options import method_option, min_pixels_option

eval_group = click.Group(
    "eval", help="Score terrasight on labelled datasets (precision, recall, F1, IoU, kappa)."
)

_CROPS = {"test": "test", "train": "train", "all": None}


@eval_group.command("change")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--layout",
    type=click.Choice(["levir", "airchange"]),
    required=True,
    help="Folder layout: levir (A/, B/, label/) or airchange (<site>/<n>/im1, im2, gt).",
)
@method_option
@click.option(
    "--crop",
    type=click.Choice(list(_CROPS)),
    default=None,
    help="Region scored: test (AirChange's top-left 784x448), train (the rest) or all. "
    "Default: test for airchange, all for levir.",
)
@click.option("--split", default=None, help="LEVIR split sub-folder (e.g. test).")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the scores as JSON [default: ./eval_change.json].",
)
@min_pixels_option
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
def change_command(
    dataset: Path,
    layout: str,
    method: str,
    crop: str | None,
    split: str | None,
    json_path: Path | None,
    min_pixels: int,
    workers: int,
) -> None:
    """Run change detection on every pair of DATASET and score it against the truth.

    Prints one row per pair, then the scores pooled over all pixels, and writes
    them all as JSON.
    """
    from terrasight.eval.change import PairScore, evaluate_change

    def show(score: PairScore) -> None:
        s = score.scores
        click.echo(
            f"  {score.name}: F1 {s['f1']:.3f}  precision {s['precision']:.3f}  "
            f"recall {s['recall']:.3f}  ({score.objects} objects, {score.seconds:.1f} s)",
            err=True,
        )

    report = evaluate_change(
        dataset,
        layout,
        method=method,
        crop=_CROPS[crop] if crop else "auto",
        split=split,
        on_pair=show,
        min_pixels=min_pixels,
        workers=workers,
    )
    click.echo(report.table())
    s = report.scores
    click.echo(
        f"pooled over {len(report.pairs)} pairs ({report.pooled.total:,} px): "
        f"precision {s['precision']:.4f}, recall {s['recall']:.4f}, F1 {s['f1']:.4f}, "
        f"IoU {s['iou']:.4f}, overall accuracy {s['overall_accuracy']:.4f}, "
        f"kappa {s['kappa']:.4f}"
    )
    out = json_path or Path("eval_change.json")
    out.write_text(json.dumps(report.to_dict(), indent=2))
    click.echo(f"scores written to {out}")
