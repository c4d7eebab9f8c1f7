"""``terrasight train landcover-coarse --data DIR [-o DIR]``: the coarse-cover network (water and
vegetation from RGB at ~10 m), taught by the infrared bands of the OSCD Sentinel-2 cities
(:mod:`terrasight.training.landcover_coarse`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from terrasight.cli.train_options import OSCD_DATA, data_option


@click.command(name="landcover-coarse")
@data_option(OSCD_DATA)
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/landcover-coarse"),
    show_default=True,
    help="Folder for coarse-cover.onnx and train_log.json (the package ships "
    "src/terrasight/models/weights/coarse-cover-v1.onnx).",
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimiser steps.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--validation",
    default=None,
    help="Comma-separated OSCD cities held out and scored (default: mumbai,rennes).",
)
def landcover_coarse(
    data: Path, out: Path, steps: int | None, seed: int, threads: int, validation: str | None
) -> None:
    """Train the coarse-cover network on the OSCD cities and write it to OUT."""
    from terrasight.training.landcover_coarse import CoarseTrainConfig, train_landcover_coarse

    cfg = CoarseTrainConfig(seed=seed, threads=threads)
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    if validation is not None:
        cfg = replace(cfg, validation=tuple(c.strip() for c in validation.split(",") if c.strip()))
    log = train_landcover_coarse(data, out, cfg, log=lambda m: click.echo(m, err=True))
    held = log["validation"]
    if held:
        click.echo(
            f"held-out {', '.join(cfg.validation)}: accuracy {held['accuracy']:.3f}, "
            f"recall {held['recall']}",
            err=True,
        )
    click.echo(json.dumps({"onnx": str(Path(out) / "coarse-cover.onnx"), "validation": held}))
