"""``terrasight train int8``: the shipped 8-bit change network, rebuilt from the data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from terrasight.cli.train_options import data_option

WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "weights"


@click.command(name="int8")
@data_option("The AirChange folder (e.g. ../shared/data/change/airchange).")
@click.option(
    "--model",
    default="siamese-effnet-lite0",
    show_default=True,
    help="Change registry entry to quantise.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The file to write [default: the package's weights folder, <model>-v<version>-int8.onnx].",
)
def int8(data: Path, model: str, out: Path | None) -> None:
    """Quantise MODEL's change network to 8 bits, calibrated on the AirChange training strips,
    and print the registry entry's ``int8`` section (JSON) for the file written."""
    from terrasight.models import get_config
    from terrasight.training.int8 import build_int8

    config = get_config(model)
    version = config.weights.version if config.weights else "0"
    target = out or WEIGHTS / f"{model}-v{version}-int8.onnx"
    click.echo(json.dumps(build_int8(model, data, target), indent=2))
