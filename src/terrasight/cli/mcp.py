"""``terrasight mcp BEFORE [AFTER]``: the agent's tools as an MCP server (stdio or HTTP)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from terrasight.cli.options import method_option, out_option
from terrasight.io.listen import check_listen


@click.command()
@click.argument("before", type=click.Path(path_type=Path, exists=True))
@click.argument("after", type=click.Path(path_type=Path, exists=True), required=False)
@method_option
@click.option(
    "--db",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="An archive index (terrasight index build) for the search_archive tool.",
)
@click.option(
    "--series",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="A series folder (terrasight series -o DIR) beside the pair, for when_changed.",
)
@out_option("folder", "Keep the detection and exported files here (else a temporary folder)")
@click.option(
    "--http",
    is_flag=True,
    help="Serve streamable HTTP at http://HOST:PORT/mcp instead of standard input/output.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option(
    "--token",
    default=None,
    envvar="TERRASIGHT_TOKEN",
    help="HTTP: the bearer token every request must carry (or $TERRASIGHT_TOKEN).",
)
def mcp(
    before: Path,
    after: Path | None,
    method: str,
    db: Path | None,
    series: Path | None,
    outdir: Path | None,
    http: bool,
    host: str,
    port: int,
    token: str | None,
) -> None:
    """Offer the agent's tools over BEFORE and AFTER (or a result folder BEFORE, or a series
    folder BEFORE) to any MCP client: detect, facts, count, measure, locate, ask, describe,
    search the archive, when things changed. Each tool's schema comes from its function.

    \b
    Examples:
      terrasight mcp 2019.tif 2024.tif
      terrasight mcp changes/ --db archive.lance
      terrasight mcp changes/ --http --port 8765 --token "$(openssl rand -hex 16)"

    A client starts the stdio server itself, e.g. {"command": "terrasight", "args":
    ["mcp", "changes/"]}. Needs pip install 'terrasight[mcp]'.
    """
    from importlib.metadata import version

    from terrasight.agent.mcp_tools import McpTools, http_app, serve_stdio
    from terrasight.agent.session import Session

    check_listen(host if http else "localhost", token, "the tools")
    from terrasight.models.runtime import ModelCache

    cache = ModelCache()
    session = Session(before, after, method, cache, outdir=outdir, db=db, series=series)
    try:
        server = McpTools(session).server(version=version("terrasight"))
        if not http:
            import anyio  # installed with mcp

            anyio.run(serve_stdio, server)
            return
        import uvicorn

        click.echo(f"terrasight: MCP tools at http://{host}:{port}/mcp; Ctrl-C to stop.", err=True)
        level = os.environ.get("TERRASIGHT_LOG", "warning")
        uvicorn.run(http_app(server, token or None, host), host=host, port=port, log_level=level)
    finally:
        session.close()
