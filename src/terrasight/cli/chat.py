"""``terrasight chat BEFORE [AFTER]``: a conversation about the change, in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from terrasight.cli.options import llm_options, method_option, out_option
from terrasight.errors import BrainError, TerrasightError

if TYPE_CHECKING:
    from terrasight.agent import Agent

HELP = """Ask about what changed, and follow up: "how many changes are there?", "and in the
north?", "how large is the biggest of those?", "where is it?", "show me them".
Commands:
  /help          this text
  /save DIR      write the change outputs, exported files and the transcript into DIR
  /brain NAME    go on with another brain (offline, openai, gguf, ...)
  /quit          leave (so do Ctrl-D and Ctrl-C)"""


@click.command()
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path), required=False)
@click.option(
    "--brain", default="offline", show_default=True, help="Who answers: offline, openai, gguf."
)
@click.option("--base-url", default=None, help="openai brain: the server's API root (.../v1).")
@llm_options
@method_option
@out_option("folder", "Keep the detection and exported files here")
@click.option(
    "--db",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="An archive index (terrasight index build) to search: 'search the archive for ...'.",
)
@click.option(
    "--series",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="A series folder (terrasight series -o DIR) beside the pair: 'when did it change?'.",
)
def chat(
    before: Path,
    after: Path | None,
    brain: str,
    base_url: str | None,
    model_name: str | None,
    method: str,
    outdir: Path | None,
    db: Path | None,
    series: Path | None,
) -> None:
    """Talk about what changed between BEFORE and AFTER (or a result folder BEFORE,
    or a series folder BEFORE: when things changed).

    \b
    Examples:
      terrasight chat 2019.tif 2024.tif
      terrasight chat 2019.tif 2024.tif --db archive.lance
      terrasight chat series_out/      (what changed since 2021? when did the north change?)
      terrasight chat changes/ --brain openai --base-url http://localhost:11434/v1 --llm qwen2.5:7b

    The change is detected once, on the first question that needs it. The openai
    brain reads its key from $TERRASIGHT_OPENAI_API_KEY or $OPENAI_API_KEY.
    """
    from terrasight.agent import Agent

    options = _brain_options(brain, base_url, model_name)
    agent = Agent(
        before, after, brain, method=method, outdir=outdir, db=db, series=series, **options
    )
    click.echo(f"terrasight chat ({agent.brain_name} brain); /help for commands, /quit to leave.")
    try:
        _loop(agent, base_url, model_name)
    finally:
        agent.close()


def _brain_options(brain: str, base_url: str | None, model_name: str | None) -> dict[str, Any]:
    if brain == "gguf":
        return {"model_path": model_name} if model_name else {}
    options = {"base_url": base_url, "model": model_name} if brain == "openai" else {}
    return {k: v for k, v in options.items() if v}


def _loop(agent: Agent, base_url: str | None, model_name: str | None) -> None:
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        if line.startswith("/"):
            if not _command(agent, line, base_url, model_name):
                return
            continue
        _answer(agent, line)


def _answer(agent: Agent, line: str) -> None:
    click.echo("terrasight> ", nl=False)
    try:
        reply = agent.ask(line, on_text=lambda piece: click.echo(piece, nl=False))
    except KeyboardInterrupt:
        click.echo("\n(interrupted; ask again)")
        return
    except (BrainError, TerrasightError) as exc:
        click.echo(f"\nerror: {exc}")
        return
    click.echo()
    for caveat in reply.caveats:
        click.echo(f"  caveat: {caveat}")


def _command(agent: Agent, line: str, base_url: str | None, model_name: str | None) -> bool:
    """Run a /command; False to leave."""
    name, _, arg = line.partition(" ")
    arg = arg.strip()
    if name in ("/quit", "/exit", "/q"):
        return False
    if name == "/help":
        click.echo(HELP)
    elif name == "/save" and arg:
        try:
            paths = agent.save(arg)
        except TerrasightError as exc:
            click.echo(f"error: {exc}")
        else:
            click.echo(f"saved {len(paths)} files in {arg} (transcript: {paths['transcript_md']})")
    elif name == "/brain" and arg:
        try:
            agent.use_brain(arg, **_brain_options(arg, base_url, model_name))
        except TerrasightError as exc:
            click.echo(f"error: {exc}")
        else:
            click.echo(f"now answering with the {arg} brain.")
    else:
        click.echo(f"unknown command {line!r}; /help lists them.")
    return True
