"""``terrasight serve``: the web app on one address (loopback by default)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from terrasight.errors import InvalidOptionError
from terrasight.io.listen import check_listen

DEFAULT_STORE = "terrasight-jobs"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--token",
    default=None,
    envvar="TERRASIGHT_TOKEN",
    help="Bearer token every route but /health asks for (or $TERRASIGHT_TOKEN); the page "
    "is then opened as http://HOST:PORT/?token=TOKEN.",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Folder whose rasters jobs may be made from (by relative path).",
)
@click.option(
    "--jobs",
    "jobs_at_once",
    default="1",
    show_default=True,
    metavar="N",
    help="Change jobs run at once; more wait in a queue (shown as 'queued, position k'). "
    "A folder here is read as --store, as before.",
)
@click.option(
    "--store",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder holding the jobs, their results and conversations; kept across restarts "
    "[default: terrasight-jobs].",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="An archive index (terrasight index build) the page can search.",
)
@click.option("--max-upload-mb", type=click.IntRange(min=1), default=512, show_default=True)
@click.option(
    "--sample-size",
    type=click.IntRange(min=128),
    default=1024,
    show_default=True,
    help="Side in pixels of the built-in sample pair.",
)
@click.option(
    "--no-classify", is_flag=True, help="Do not classify land cover (faster, no PyTorch)."
)
def serve(
    host: str,
    port: int,
    token: str | None,
    data: Path | None,
    jobs_at_once: str,
    store: Path | None,
    db: Path | None,
    max_upload_mb: int,
    sample_size: int,
    no_classify: bool,
) -> None:
    """Serve the web app: a map of the two dates, the change, and questions about it.

    \b
    Examples:
      terrasight serve --data /srv/images --jobs 2
      terrasight serve --db archive.lance
      terrasight serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"
    """
    try:
        import uvicorn

        from terrasight.server.app import create_app
        from terrasight.server.config import ServerConfig
    except ImportError as exc:
        from terrasight.errors import MissingDependencyError

        raise MissingDependencyError(
            f"the server needs {exc.name}: pip install 'terrasight[server]'."
        ) from None
    check_listen(host, token, "the server")
    parallel, jobs = _jobs_and_store(jobs_at_once, store)
    config = ServerConfig(
        jobs=jobs,
        parallel_jobs=parallel,
        data=data,
        db=db,
        token=token or None,
        max_upload_mb=max_upload_mb,
        sample_size=sample_size,
        classify=not no_classify,
    )
    app = create_app(config)
    shown = f"http://{host}:{port}/" + ("?token=..." if token else "")
    click.echo(
        f"terrasight: serving {shown} (jobs in {jobs}, {parallel} at once); Ctrl-C to stop.",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("TERRASIGHT_LOG", "warning"))


def _jobs_and_store(jobs_at_once: str, store: Path | None) -> tuple[int, Path]:
    """``--jobs N`` and the folder; ``--jobs DIR`` (its meaning before) names the folder.

    Example:
        >>> _jobs_and_store("3", None)
        (3, PosixPath('terrasight-jobs'))
        >>> _jobs_and_store("/var/lib/ts", None)
        (1, PosixPath('/var/lib/ts'))
    """
    value = jobs_at_once.strip()
    if value.isdigit():
        if int(value) < 1:
            raise InvalidOptionError(f"--jobs must be at least 1 (got {value}).")
        return int(value), store or Path(DEFAULT_STORE)
    if store is not None:
        raise InvalidOptionError(
            f"--jobs {value!r} is not a number of jobs: give --jobs N (jobs at once) and "
            "--store DIR (the folder)."
        )
    return 1, Path(value)
