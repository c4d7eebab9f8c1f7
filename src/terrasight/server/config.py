"""The server's settings: one frozen object, made once by ``terrasight serve`` or a caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from terrasight.errors import InvalidOptionError

UPLOAD_SUFFIXES = (".tif", ".tiff", ".jp2", ".png", ".jpg", ".jpeg")
"""File name endings an upload may have."""

RASTER_DRIVERS = frozenset({"GTiff", "COG", "JP2OpenJPEG", "PNG", "JPEG"})
"""GDAL drivers an input file may be read with (no VRT: it can point at any file)."""


@dataclass(frozen=True)
class ServerConfig:
    """How the server runs.

    Attributes:
        jobs: folder holding every job (inputs, results, state); created.
        data: folder whose rasters jobs may be made from (None: only uploads and the sample).
        token: the bearer token every route but ``/health`` asks for (None: no token).
        max_upload_mb: largest accepted upload, per file.
        sample_size: side in pixels of the built-in sample pair (see
            :func:`terrasight.samples.demo.make_demo_pair`).
        workers: threads per change job.
        classify: classify each change object's land cover (needs PyTorch; slower).
        brain: the agent's brain for questions (``offline`` needs no network).
        db: an archive index folder (``terrasight index build``) for ``GET /api/search``
            (None: no archive search).
        parallel_jobs: change jobs run at once; more wait in a queue, oldest first.

    Example:
        >>> ServerConfig(jobs=Path("jobs"), max_upload_mb=0)
        Traceback (most recent call last):
        ...
        terrasight.errors.InvalidOptionError: max_upload_mb must be at least 1 (got 0).
    """

    jobs: Path = field(default_factory=lambda: Path("terrasight-jobs"))
    data: Path | None = None
    token: str | None = None
    max_upload_mb: int = 512
    sample_size: int = 1024
    workers: int = 2
    classify: bool = True
    brain: str = "offline"
    db: Path | None = None
    parallel_jobs: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "jobs", Path(self.jobs))
        if self.data is not None:
            object.__setattr__(self, "data", Path(self.data))
        if self.db is not None:
            object.__setattr__(self, "db", Path(self.db))
        if self.max_upload_mb < 1:
            raise InvalidOptionError(
                f"max_upload_mb must be at least 1 (got {self.max_upload_mb})."
            )
        if self.parallel_jobs < 1:
            raise InvalidOptionError(
                f"parallel_jobs must be at least 1 (got {self.parallel_jobs})."
            )
        if self.sample_size < 128:
            raise InvalidOptionError(f"sample_size must be at least 128 (got {self.sample_size}).")
        if self.token is not None and len(self.token) < 8:
            raise InvalidOptionError(
                "the token must have at least 8 characters; choose a longer one."
            )

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024
