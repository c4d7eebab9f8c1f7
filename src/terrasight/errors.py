"""Errors and warnings raised by terrasight.

Every error derives from :class:`TerrasightError` and also from the builtin it
resembles, so ``except OSError`` still catches a file that cannot be read. Each
message names the file or value, what is wrong, and what to do about it.
"""

from __future__ import annotations


class TerrasightError(Exception):
    """Root of all errors raised by terrasight."""


class RasterReadError(TerrasightError, OSError):
    """Raised when a raster file is missing, unreadable or not a raster."""


class InvalidRasterError(TerrasightError, ValueError):
    """Raised when a raster can be read but cannot be used (too small, all nodata, ...)."""


class BandSelectionError(TerrasightError, ValueError):
    """Raised when requested bands do not exist or the two dates' bands do not match."""


class PairAlignmentError(TerrasightError, ValueError):
    """Raised when two images of a pair cannot be put on one grid (no overlap, ...)."""


class UnknownMethodError(TerrasightError, KeyError):
    """Raised when a change method or model name is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DatasetLayoutError(TerrasightError, ValueError):
    """Raised when an evaluation dataset folder does not have the expected layout."""


class OutputExistsError(TerrasightError, FileExistsError):
    """Raised when an output folder holds results of a different job."""


class OutputFolderError(TerrasightError, OSError):
    """Raised when an output folder cannot be created or written (a file is in the way, ...)."""


class TerrasightWarning(UserWarning):
    """Base class of terrasight's warnings."""


class NotGeoreferencedWarning(TerrasightWarning):
    """Warned when an image has no CRS: results are in pixel space."""
