"""The ``terrasight`` command line: one thin module per command."""

from __future__ import annotations

import logging
import warnings

import click
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from terrasight.errors import TerrasightError, exit_code

RESUME_HINTS = {
    "change": " Finished windows are kept: run the same command again to resume.",
}
"""What an interrupted command keeps, for the commands that resume."""


class CommandFailure(click.ClickException):
    """One line on stderr and the exit code of :data:`terrasight.errors.ERROR_TABLE`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click reads the status from here


class _Group(click.Group):
    """A group that turns library errors into one clear line and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TerrasightError as exc:
            raise CommandFailure(str(exc), exit_code(exc)) from None
        except RasterioError as exc:
            raise CommandFailure(f"raster error: {exc}", 4) from None
        except OSError as exc:  # disk full, permissions... after the library's own checks
            where = f" ({exc.filename})" if exc.filename else ""
            raise CommandFailure(f"{exc.strerror or exc}{where}", 5) from None
        except KeyboardInterrupt as exc:
            hint = RESUME_HINTS.get(ctx.invoked_subcommand or "", "")
            raise CommandFailure(f"interrupted.{hint}", exit_code(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="terrasight")
def main(verbose: int) -> None:
    """terrasight: what changed between two images of one place."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # terrasight reports images without a CRS in its own warnings, once per image.
    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)


def _register() -> None:
    from terrasight.cli.ask import ask
    from terrasight.cli.change import change
    from terrasight.cli.classify import classify
    from terrasight.cli.demo import demo
    from terrasight.cli.describe import describe
    from terrasight.cli.eval import eval_group
    from terrasight.cli.models import models
    from terrasight.cli.search import search
    from terrasight.cli.train import train_group
    from terrasight.cli.train_style import caption_style

    main.add_command(change)
    main.add_command(demo)
    main.add_command(eval_group)
    main.add_command(train_group)
    train_group.add_command(caption_style)
    main.add_command(describe)
    main.add_command(classify)
    main.add_command(search)
    main.add_command(models)
    main.add_command(ask)


_register()
