"""The ``terrasight`` command line: one thin module per command."""

from __future__ import annotations

import importlib
import logging
import warnings

import click

from terrasight.errors import TerrasightError, exit_code

RESUME_HINTS = {
    "change": " Finished windows are kept: run the same command again to resume.",
    "index": " Files indexed so far are kept: run the same build again to resume.",
    "series": " Finished windows are kept: run the same command again to resume.",
    "batch": " Finished pairs and windows are kept: run the same command again to resume.",
}
"""What an interrupted command keeps, for the commands that resume."""


class CommandFailure(click.ClickException):
    """One line on stderr and the exit code of :data:`terrasight.errors.ERROR_TABLE`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click reads the status from here


def _raster_error() -> type[Exception]:
    from rasterio.errors import RasterioError

    return RasterioError


class _Group(click.Group):
    """A group that turns library errors into one clear line and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TerrasightError as exc:
            raise CommandFailure(str(exc), exit_code(exc)) from None
        except _raster_error() as exc:  # rasterio is imported only when something fails
            raise CommandFailure(f"raster error: {exc}", 4) from None
        except OSError as exc:  # disk full, permissions... after the library's own checks
            where = f" ({exc.filename})" if exc.filename else ""
            raise CommandFailure(f"{exc.strerror or exc}{where}", 5) from None
        except KeyboardInterrupt as exc:
            hint = RESUME_HINTS.get(ctx.invoked_subcommand or "", "")
            raise CommandFailure(f"interrupted.{hint}", exit_code(exc)) from None


COMMANDS = {
    "change": "terrasight.cli.change:change",
    "series": "terrasight.cli.series:series",
    "batch": "terrasight.cli.batch:batch",
    "describe": "terrasight.cli.describe:describe",
    "ask": "terrasight.cli.ask:ask",
    "chat": "terrasight.cli.chat:chat",
    "demo": "terrasight.cli.demo:demo",
    "classify": "terrasight.cli.classify:classify",
    "landcover": "terrasight.cli.landcover:landcover",
    "search": "terrasight.cli.search:search",
    "search-scenes": "terrasight.cli.search_scenes:search_scenes",
    "eval": "terrasight.cli.eval:eval_group",
    "train": "terrasight.cli.train:train_group",
    "models": "terrasight.cli.models:models",
    "index": "terrasight.cli.index:index_group",
    "find": "terrasight.cli.find:find",
    "mcp": "terrasight.cli.mcp:mcp",
    # The server is the command line's peer, not part of it: its command lives in the
    # server package and is named here by path, imported only when it runs.
    "serve": "terrasight.server.main:serve",
}
"""Each command and where it lives; a command's module is imported only when it runs (or when
``--help`` lists it), so a quick command starts quickly."""


class _LazyGroup(_Group):
    """The top-level group: commands are imported from :data:`COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from :data:`SUMMARIES`, importing no command."""
        from terrasight.cli.summaries import SUMMARIES

        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = []
        for name in self.list_commands(ctx):
            text = SUMMARIES.get(name)
            if text is None:  # a command without a summary: ask it
                command = self.get_command(ctx, name)
                text = command.get_short_help_str(limit) if command is not None else ""
            elif len(text) > limit:
                text = text[: max(limit - 3, 1)].rsplit(" ", 1)[0].rstrip(",;:") + "..."
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="terrasight")
def main(verbose: int) -> None:
    """terrasight: what changed between two images of one place."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from rasterio.errors import NotGeoreferencedWarning

    # terrasight reports images without a CRS in its own warnings, once per image.
    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
