"""``terrasight train caption-bank --data DIR -o PATH [--model NAME] [--classes A,B] [--per-class N]``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from terrasight.models.weights import sha256_file
from terrasight.training.caption_bank import build_caption_bank, write_caption_bank


@click.command(name="caption-bank")
@click.option(
    "--data",
    "data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Shared data folder with aid/<Class>/*.jpg and rsicd/train_filename.txt, train_caps.txt.",
)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The bank file to write (.npz).",
)
@click.option(
    "--model",
    default="terrasight-vl",
    show_default=True,
    help="vl registry name or a training run's entry .json.",
)
@click.option(
    "--val-fraction",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=None,
    help="Share of images held out of the bank [default: the model's own validation share].",
)
@click.option("--classes", default=None, help="Comma-separated AID classes (default all).")
@click.option(
    "--per-class", type=click.IntRange(min=1), default=None, help="At most N images per class."
)
@click.option(
    "--cache",
    "cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep image embeddings in this folder between runs.",
)
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
def caption_bank(
    data: Path,
    out: Path,
    model: str,
    val_fraction: float | None,
    classes: str | None,
    per_class: int | None,
    cache: Path | None,
    threads: int,
) -> None:
    """Build the caption bank of MODEL: its training images' RSICD captions, classes and
    embeddings (its validation images are left out), written to OUT."""
    start = time.perf_counter()
    bank = build_caption_bank(
        data,
        model=model,
        val_fraction=val_fraction,
        classes=[c.strip() for c in classes.split(",") if c.strip()] if classes else None,
        per_class=per_class,
        cache_dir=cache,
        threads=threads,
    )
    write_caption_bank(bank, out)
    summary = {
        "bank": str(out),
        "model": bank.model_name,
        "images": len(bank.image_names),
        "captions": len(bank.captions),
        "bytes": out.stat().st_size,
        "sha256": sha256_file(out),
        "seconds": round(time.perf_counter() - start, 1),
    }
    click.echo(json.dumps(summary))
