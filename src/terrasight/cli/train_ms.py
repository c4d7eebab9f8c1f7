"""``terrasight train change-ms --data DIR [--model unet|mlp] [--out DIR] [--bands 4|6] [--seed S]
[--loco]``: the multispectral change models (``ms-unet``, ``learned-ms``), trained on the OSCD
cities."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.train_options import OSCD_DATA, data_option

WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "weights"


@click.command(name="change-ms")
@data_option(OSCD_DATA)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/change-ms"),
    show_default=True,
    help="Folder for learned-ms-<n>band.npz and train_log.json (the package's weights "
    "folder ships src/terrasight/models/weights/learned-ms-4band.npz).",
)
@click.option(
    "--bands",
    type=click.Choice(["4", "6"]),
    default="4",
    show_default=True,
    help="4: B02, B03, B04, B08; 6: and B11, B12.",
)
@click.option(
    "--model",
    type=click.Choice(["unet", "mlp"]),
    default="unet",
    show_default=True,
    help="unet: ms-unet (ms-unet.onnx, 4 and 6 bands in one network; --bands is ignored); "
    "mlp: learned-ms (learned-ms-<n>band.npz).",
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="unet: optimiser steps.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--copies", type=click.IntRange(min=1), default=None, help="Augmented copies per city."
)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Training epochs.")
@click.option("--cities", default=None, help="Comma-separated city names (default: all).")
@click.option(
    "--loco",
    is_flag=True,
    help="Also score each city held out in turn (leave-one-city-out) and print the table.",
)
def change_ms(
    data: Path,
    out: Path,
    bands: str,
    model: str,
    steps: int | None,
    seed: int,
    copies: int | None,
    epochs: int | None,
    cities: str | None,
    loco: bool,
) -> None:
    """Train ms-unet (or learned-ms) on every OSCD city in DATA and write its weights to OUT."""
    from dataclasses import replace

    if model == "unet":
        _train_unet(data, out, seed, steps, cities, loco)
        return
    from terrasight.training.change_ms import MsTrainConfig, leave_one_out, train_change_ms
    from terrasight.training.oscd import SWIR, TEN_M

    cfg = MsTrainConfig(bands=TEN_M if bands == "4" else TEN_M + SWIR, seed=seed)
    if copies is not None:
        cfg = replace(cfg, copies=copies)
    if epochs is not None:
        cfg = replace(cfg, epochs=epochs)
    names = [c.strip() for c in cities.split(",") if c.strip()] if cities else None
    if loco:
        result = leave_one_out(data, cfg, names)
        for name, row in result["cities"].items():
            click.echo(
                f"{name:12s} F1 {row['f1']:.3f}  changed {row['changed_share']:.4f}  "
                f"truth {row['truth_share']:.4f}",
                err=True,
            )
        click.echo(f"pooled       F1 {result['pooled']['f1']:.3f}", err=True)
    click.echo(json.dumps(train_change_ms(data, out, cfg, names)))


def _train_unet(
    data: Path, out: Path, seed: int, steps: int | None, cities: str | None, loco: bool
) -> None:
    from dataclasses import replace

    from terrasight.training.change_ms_unet import (
        CITY_FOLDS,
        UnetTrainConfig,
        leave_one_out,
        train_change_ms_unet,
    )

    cfg = UnetTrainConfig(seed=seed)
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    names = [c.strip() for c in cities.split(",") if c.strip()] if cities else None
    if loco:  # three folds of three cities, each scored by a network that never saw it
        result = leave_one_out(data, cfg, Path(out) / "folds", CITY_FOLDS)
        for name, row in result["cities"].items():
            click.echo(
                f"{name:12s} F1 6 bands {row['6']['f1']:.3f}, 4 bands {row['4']['f1']:.3f}",
                err=True,
            )
        pooled = result["pooled"]
        click.echo(f"pooled F1 6 bands {pooled['6']['f1']:.3f}, 4 bands {pooled['4']['f1']:.3f}")
    click.echo(json.dumps(train_change_ms_unet(data, out, cfg, names)))
