"""The options every ``terrasight train`` command shares: output folder, epochs, seed, threads,
version and where fine-tuning starts, each with its default from the command's training
configuration.

Example:
    >>> import click
    >>> @click.command()
    ... @run_options(out="runs/x", out_help="Folder for the weights.", epochs=3, seed=0, threads=2)
    ... def cmd(out, epochs, seed, threads):
    ...     click.echo(f"{out} {epochs} {seed} {threads}")
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(cmd, ["--epochs", "5"]).output
    'runs/x 5 0 2\\n'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def run_options(
    *,
    out: str | Path,
    out_help: str,
    epochs: int,
    seed: int,
    threads: int,
    short_out: bool = False,
) -> Decorator:
    """``--out`` (``-o`` too with ``short_out``), ``--epochs``, ``--seed`` and ``--threads``
    (PyTorch threads), with these defaults."""
    names = ("-o", "--out", "out") if short_out else ("--out", "out")
    options = [
        click.option(
            *names,
            type=click.Path(file_okay=False, path_type=Path),
            default=Path(out),
            show_default=True,
            help=out_help,
        ),
        click.option("--epochs", type=click.IntRange(min=1), default=epochs, show_default=True),
        click.option("--seed", type=int, default=seed, show_default=True),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            default=threads,
            show_default=True,
            help="Torch threads.",
        ),
    ]

    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


def data_option(help: str) -> Decorator:
    """``--data DIR``: the dataset folder a training command reads (must exist)."""
    return click.option(
        "--data",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        required=True,
        help=help,
    )


OSCD_DATA = "The shared data folder or the OSCD folder (<city>/imgs_1, imgs_2, cm)."
"""``--data`` help of the commands that train on the OSCD cities."""


def version_option(default: str) -> Decorator:
    """``--version``: the version written into the weights' file name and entry."""
    return click.option(
        "--version",
        "version",
        default=default,
        show_default=True,
        help="Version written into the weight file name and entry.",
    )


def train_from_block_option(last: int, default: int | None, help: str) -> Decorator:
    """``--train-from-block``: fine-tune the encoder from this block (0 to ``last``) on."""
    return click.option(
        "--train-from-block",
        type=click.IntRange(min=0, max=last),
        default=default,
        show_default=default is not None,
        help=help,
    )
