"""The web app: a FastAPI server over the same tasks and agent as the command line.

``terrasight serve`` starts it (see :mod:`terrasight.server.main`); in Python:

>>> from terrasight.server import ServerConfig, create_app
>>> app = create_app(ServerConfig(jobs="jobs/", token="s3cret"))  # doctest: +SKIP

Jobs and their results live on disk under ``jobs``; a restarted server lists every
finished job and resumes the unfinished ones. Needs ``pip install 'terrasight[server]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from terrasight.server.config import ServerConfig

if TYPE_CHECKING:
    from terrasight.server.app import create_app

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    """``create_app`` imported on first use, so that ``terrasight serve --help`` and the
    command list work without FastAPI; using it without the server extra says which."""
    if name != "create_app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from terrasight.server.app import create_app
    except ImportError as exc:
        from terrasight.errors import MissingDependencyError

        raise MissingDependencyError(
            f"the server needs {exc.name}: pip install 'terrasight[server]'."
        ) from None
    return create_app
