"""``terrasight train change --data DIR --layout airchange [--epochs N] [--seed S] [--out DIR]``
and ``terrasight train vl --aid DIR --rsicd DIR --out DIR [--epochs N] [--seed S] [--variant V]``
(``V``: ``linear``, ``mlp`` or ``tune-last``), and
``terrasight train caption-bank --data DIR -o PATH`` (:mod:`terrasight.cli.caption_bank`)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from terrasight.cli.caption_bank import caption_bank
from terrasight.cli.train_coarse import landcover_coarse
from terrasight.cli.train_int8 import int8
from terrasight.cli.train_landcover import landcover
from terrasight.cli.train_ms import change_ms
from terrasight.cli.train_options import run_options, train_from_block_option, version_option
from terrasight.cli.train_style import caption_style
from terrasight.training.change import TrainConfig, train_change
from terrasight.training.vl import VARIANTS, VLTrainConfig, train_vl


@click.group(name="train")
def train_group() -> None:
    """Train learned models (needs PyTorch: pip install terrasight[learned])."""


@train_group.command(name="change")
@click.option(
    "--data",
    "data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Dataset folder (e.g. the AirChange folder).",
)
@click.option(
    "--layout",
    type=click.Choice(["airchange"]),
    default="airchange",
    show_default=True,
    help="Dataset layout.",
)
@run_options(
    out="runs/change",
    out_help="Folder for the weights, their registry entry and the log.",
    epochs=TrainConfig.epochs,
    seed=TrainConfig.seed,
    threads=TrainConfig.threads,
)
@click.option(
    "--synthetic",
    type=click.IntRange(min=0),
    default=TrainConfig.synthetic_per_epoch,
    show_default=True,
    help="Synthetic pairs per epoch (needs --aid).",
)
@click.option(
    "--aid",
    "aid",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="AID scenes folder (<Class>/*.jpg) for synthetic pairs.",
)
@click.option(
    "--real",
    type=click.IntRange(min=1),
    default=TrainConfig.real_per_epoch,
    show_default=True,
    help="Real training crops per epoch.",
)
@click.option(
    "--crop",
    type=click.IntRange(min=32),
    default=TrainConfig.crop,
    show_default=True,
    help="Crop size in pixels.",
)
@version_option(TrainConfig.version)
@click.option(
    "--sites",
    default=None,
    help="Comma-separated AirChange sites to train and validate on (e.g. Szada); default all.",
)
@train_from_block_option(
    11, None, "Fine-tune the encoder from this block on (11: encoder frozen, the entry's default)."
)
@click.option(
    "--init",
    "init",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Start from these trained-layer weights (.npz of an earlier run or the shipped file).",
)
@click.option(
    "--rich-synthetic",
    type=click.FloatRange(0.0, 1.0),
    default=TrainConfig.rich_synthetic,
    show_default=True,
    help="Share of synthetic pairs made by the object-level generator "
    "(buildings, roads, water, cleared land, shadows, resolution and haze).",
)
def change(
    data: Path,
    layout: str,
    epochs: int,
    seed: int,
    out: Path,
    synthetic: int,
    aid: Path | None,
    real: int,
    crop: int,
    threads: int,
    version: str,
    sites: str | None,
    train_from_block: int | None,
    rich_synthetic: float,
    init: Path | None,
) -> None:
    """Train the Siamese change model on DATA (test windows are never read).

    Writes <model>-v<version>.npz, <model>.json (a registry entry with the
    checksum, the validated threshold and this configuration) and
    train_log.jsonl (loss and validation F1 per epoch) into OUT.
    """
    if synthetic and aid is None:
        raise click.UsageError(
            "--synthetic needs --aid (the AID scenes folder); or pass --synthetic 0"
        )
    known = {f.name for f in fields(TrainConfig)}
    options: dict[str, Any] = dict(
        epochs=epochs,
        seed=seed,
        synthetic_per_epoch=synthetic,
        real_per_epoch=real,
        crop=crop,
        threads=threads,
        version=version,
        sites=tuple(s.strip() for s in sites.split(",") if s.strip()) if sites else None,
        model_params={} if train_from_block is None else {"train_from_block": train_from_block},
        rich_synthetic=rich_synthetic,
        init=None if init is None else str(init),
    )
    cfg = TrainConfig(**{k: v for k, v in options.items() if k in known})
    entry = train_change(
        data,
        out,
        cfg,
        aid_dir=aid,
        layout=layout,
        on_epoch=lambda rec: click.echo(json.dumps(rec), err=True),
    )
    val = entry["training"]["validation"]
    click.echo(
        json.dumps(
            {
                "weights": str(out / entry["weights"]["file"]),
                "best_epoch": entry["training"]["best_epoch"],
                "validation_f1": round(val["f1"], 4),
                "threshold": entry["threshold"],
                "seconds": entry["training"]["seconds"],
            }
        )
    )


@train_group.command(name="vl")
@click.option(
    "--aid",
    "aid",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="AID scenes folder (<Class>/*.jpg).",
)
@click.option(
    "--rsicd",
    "rsicd",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="RSICD folder with train_filename.txt and train_caps.txt.",
)
@run_options(
    out="runs/vl",
    out_help="Folder for the weights, their registry entry, the configuration and the log.",
    epochs=VLTrainConfig.epochs,
    seed=VLTrainConfig.seed,
    threads=VLTrainConfig.threads,
)
@click.option(
    "--variant",
    type=click.Choice(list(VARIANTS)),
    default=VLTrainConfig.variant,
    show_default=True,
    help="linear or mlp image projection on frozen features, or tune-last: linear projection "
    "and the last EfficientNet block and head convolution fine-tuned.",
)
@click.option(
    "--cache",
    "cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Feature cache folder (default OUT/cache); reuse it across runs.",
)
@version_option(VLTrainConfig.version)
def vl(
    aid: Path,
    rsicd: Path,
    out: Path,
    epochs: int,
    seed: int,
    variant: str,
    cache: Path | None,
    threads: int,
    version: str,
) -> None:
    """Train the image-text projections on AID images with RSICD captions.

    Frozen image and caption features (for tune-last: the activations entering
    the tuned blocks, and of flipped images) are computed once into the cache. Writes
    <model>-v<version>.npz, <model>.json (a registry entry), train_config.json
    and train_log.jsonl (loss and validation recalls per epoch) into OUT.
    """
    cfg = VLTrainConfig(epochs=epochs, seed=seed, variant=variant, threads=threads, version=version)
    entry = train_vl(
        aid,
        rsicd,
        out,
        cfg,
        cache_dir=cache,
        on_epoch=lambda rec: click.echo(json.dumps(rec), err=True),
    )
    training = entry["training"]
    click.echo(
        json.dumps(
            {
                "weights": str(out / entry["weights"]["file"]),
                "best_epoch": training["best_epoch"],
                "validation_mR": training["validation"]["mR"],
                "val_images": training["val_images"],
                "seconds": training["seconds"],
            }
        )
    )


train_group.add_command(caption_bank)
train_group.add_command(caption_style)
train_group.add_command(int8)
train_group.add_command(landcover)
train_group.add_command(landcover_coarse)
train_group.add_command(change_ms)
