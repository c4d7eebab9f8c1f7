"""``terrasight train landcover --data DIR -o DIR``: train, export and quantise the land-cover
network (:mod:`terrasight.training.landcover`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.train_options import (
    data_option,
    run_options,
    train_from_block_option,
    version_option,
)
from terrasight.training.landcover import LandCoverTrainConfig, train_landcover
from terrasight.training.landcover_export import export_run, ship_run


@click.command(name="landcover")
@data_option("The shared data folder (holding landcover/dubai/tile<N>/) or the dubai folder.")
@run_options(
    out="runs/landcover",
    out_help="Folder for the weights, the ONNX files, landcover.json and the log.",
    epochs=LandCoverTrainConfig.epochs,
    seed=LandCoverTrainConfig.seed,
    threads=LandCoverTrainConfig.threads,
    short_out=True,
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=LandCoverTrainConfig.steps_per_epoch,
    show_default=True,
    help="Steps per epoch.",
)
@train_from_block_option(
    15, LandCoverTrainConfig.train_from_block, "Fine-tune the encoder from this block on."
)
@click.option("--lr", type=float, default=LandCoverTrainConfig.lr, show_default=True)
@click.option(
    "--backbone-lr",
    type=float,
    default=None,
    help="Learning rate of the fine-tuned encoder blocks  [default: --lr / 10].",
)
@click.option(
    "--dice",
    type=click.FloatRange(min=0),
    default=LandCoverTrainConfig.dice,
    show_default=True,
    help="Weight of a soft Dice loss added to the cross-entropy (lifts rare classes).",
)
@click.option(
    "--warmup",
    type=click.IntRange(min=0),
    default=LandCoverTrainConfig.warmup,
    show_default=True,
    help="Steps of linear learning-rate warm-up.",
)
@click.option(
    "--init",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Start from an earlier run's best.pt, or from an exported .onnx file (the shipped "
    "8-bit network too).",
)
@version_option("1")
@click.option(
    "--ship",
    is_flag=True,
    help="Copy the network in use and its entry into terrasight/models/weights (replacing "
    "the shipped model).",
)
def landcover(
    data: Path,
    out: Path,
    epochs: int,
    steps: int,
    seed: int,
    threads: int,
    train_from_block: int,
    lr: float,
    backbone_lr: float | None,
    dice: float,
    warmup: int,
    init: str | None,
    version: str,
    ship: bool,
) -> None:
    """Train the land-cover network on the Dubai tiles (train 3, 6, 7, 8; validate on 1;
    tile 4 is never read), then export it to ONNX and quantise it to 8 bits.

    With --ship, the network in use (the 8-bit one when it keeps the validation
    mean IoU within a point of the float one) and its entry replace the shipped model.
    """
    cfg = LandCoverTrainConfig(
        epochs=epochs,
        steps_per_epoch=steps,
        seed=seed,
        threads=threads,
        train_from_block=train_from_block,
        lr=lr,
        backbone_lr=lr / 10 if backbone_lr is None else backbone_lr,
        dice=dice,
        warmup=warmup,
        init=init,
    )
    best = train_landcover(data, out, cfg, on_epoch=lambda r: click.echo(json.dumps(r), err=True))
    entry = export_run(data, out, version)
    chosen = entry["validation"]["int8" if entry["int8"] else "float"]
    if ship:
        from terrasight.models.weights import weights_dir

        ship_run(out, weights_dir())
    click.echo(
        json.dumps(
            {
                "best_epoch": best["epoch"],
                "entry": str(out / "landcover.json"),
                "int8": bool(entry["int8"]),
                "validation_tile1": chosen,
            }
        )
    )
