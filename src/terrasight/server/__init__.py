"""The web app: a FastAPI server over the same tasks and agent as the command line.

``terrasight serve`` starts it (see :mod:`terrasight.server.main`); in Python:

>>> from terrasight.server import ServerConfig, create_app
>>> app = create_app(ServerConfig(jobs="jobs/", token="s3cret"))  # doctest: +SKIP

Jobs and their results live on disk under ``jobs``; a restarted server lists every
finished job and resumes the unfinished ones. Needs ``pip install 'terrasight[server]'``.
"""

from __future__ import annotations

from terrasight.server.app import create_app
from terrasight.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
