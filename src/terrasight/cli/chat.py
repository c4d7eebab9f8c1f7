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
@click.option(
    "--no-stream",
    is_flag=True,
    help="openai brain: ask for whole replies (for servers that cannot stream with tools).",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="openai, gguf: the longest reply, in tokens [default: 512 openai, 256 gguf].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="openai brain: seconds to wait for the server [default: 60].",
)
@click.option(
    "--n-ctx",
    type=click.IntRange(min=256),
    default=None,
    help="gguf brain: the model's context length in tokens [default: 8192].",
)
@click.option(
    "--tool-role",
    type=click.Choice(["tool", "user"]),
    default=None,
    help="openai brain: send tool results as 'user' messages, for chat templates that drop "
    "tool messages (llama-cpp-python's chatml-function-calling) [default: tool].",
)
@click.option(
    "--grounding",
    type=click.Choice(["replace", "mark", "off"]),
    default="replace",
    show_default=True,
    help="A reply naming numbers, places or classes no tool gave: answered offline "
    "instead, marked as not grounded, or left as it is.",
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
    no_stream: bool,
    max_tokens: int | None,
    timeout: float | None,
    n_ctx: int | None,
    tool_role: str | None,
    grounding: str,
) -> None:
    """Talk about what changed between BEFORE and AFTER (or a result folder BEFORE,
    or a series folder BEFORE: when things changed), or about one image BEFORE alone
    (its land cover, counts, areas, where things are).

    \b
    Examples:
      terrasight chat 2019.tif 2024.tif
      terrasight chat scene.tif        (how many buildings? is there water in the north?)
      terrasight chat 2019.tif 2024.tif --db archive.lance
      terrasight chat series_out/      (what changed since 2021? when did the north change?)
      terrasight chat changes/ --brain openai --base-url http://localhost:11434/v1 --llm qwen2.5:7b
      terrasight chat changes/ --brain gguf --llm SmolLM2-1.7B-Instruct.Q4_K_M.gguf

    The change is detected once, on the first question that needs it. The openai
    brain reads its key from $TERRASIGHT_OPENAI_API_KEY or $OPENAI_API_KEY. A model's
    reply that names a number, place or class no tool result gave is answered by the
    offline brain instead, and says so (--grounding).
    """
    from terrasight.agent import Agent

    settings = {
        "base_url": base_url,
        "model": model_name,
        "stream": False if no_stream else None,
        "max_tokens": max_tokens,
        "timeout": timeout,
        "n_ctx": n_ctx,
        "tool_role": tool_role,
    }
    options = _brain_options(brain, settings)
    agent = Agent(
        before,
        after,
        brain,
        method=method,
        outdir=outdir,
        db=db,
        series=series,
        grounding=grounding,
        **options,
    )
    click.echo(f"terrasight chat ({agent.brain_name} brain); /help for commands, /quit to leave.")
    try:
        _loop(agent, settings)
    finally:
        agent.close()


BRAIN_SETTINGS = {
    "openai": ("base_url", "model", "stream", "max_tokens", "timeout", "tool_role"),
    "gguf": ("model_path", "max_tokens", "n_ctx"),
}
"""The command-line settings each brain takes (others take none)."""


def _brain_options(brain: str, settings: dict[str, Any]) -> dict[str, Any]:
    given = {**settings, "model_path": settings.get("model")}
    return {k: given[k] for k in BRAIN_SETTINGS.get(brain, ()) if given.get(k) is not None}


def _loop(agent: Agent, settings: dict[str, Any]) -> None:
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        if line.startswith("/"):
            if not _command(agent, line, settings):
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
    for note in reply.notes:
        click.echo(f"  note: {note}")


def _command(agent: Agent, line: str, settings: dict[str, Any]) -> bool:
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
            agent.use_brain(arg, **_brain_options(arg, settings))
        except TerrasightError as exc:
            click.echo(f"error: {exc}")
        else:
            click.echo(f"now answering with the {arg} brain.")
    else:
        click.echo(f"unknown command {line!r}; /help lists them.")
    return True
