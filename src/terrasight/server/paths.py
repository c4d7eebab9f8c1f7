"""File names from requests, checked before they reach the file system; uploads checked.

A name from a request is only ever looked up *under* a folder the server chose:
no absolute paths, no ``..``, no backslashes or control characters, no
percent-escapes left over, and after symbolic links are followed the file must
still be inside that folder. Uploads are stored under names the server picks,
limited in size and read with rasterio before a job may use them.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from terrasight.errors import InvalidRasterError, UnsafePathError, UploadRejectedError
from terrasight.server.config import RASTER_DRIVERS, UPLOAD_SUFFIXES

CHUNK = 1024 * 1024
MAX_NAME = 100
"""Longest stem kept of an uploaded file's name."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def resolve_under(root: Path, name: str) -> Path:
    """The file ``name`` (a relative, forward-slash path) inside ``root``.

    Raises:
        UnsafePathError: the name could point outside ``root``, or is not a plain relative path.

    Example:
        >>> resolve_under(Path("/srv/data"), "../etc/passwd")
        Traceback (most recent call last):
        ...
        terrasight.errors.UnsafePathError: '../etc/passwd' is not a file name under the data folder: give a relative path without '..', e.g. 'site/2019.tif'.
    """
    hint = "give a relative path without '..', e.g. 'site/2019.tif'."
    bad = (
        not name
        or len(name) > 512
        or any(ord(c) < 32 for c in name)
        or "\\" in name
        or "%" in name
        or ":" in name
    )
    parts = PurePosixPath(name).parts
    if bad or PurePosixPath(name).is_absolute() or any(p in ("..", ".") for p in parts):
        raise UnsafePathError(f"{name!r} is not a file name under the data folder: {hint}")
    base = root.resolve()
    full = (base / PurePosixPath(name)).resolve()
    if not full.is_relative_to(base):
        raise UnsafePathError(f"{name!r} leads outside the data folder: {hint}")
    return full


def list_rasters(root: Path, limit: int = 1000) -> list[str]:
    """Relative paths of the raster files under ``root`` (links leading outside are left out).

    Example:
        >>> list_rasters(Path("/nonexistent"))
        []
    """
    if not root.is_dir():
        return []
    base, found = root.resolve(), []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in UPLOAD_SUFFIXES and path.is_file():
            if path.resolve().is_relative_to(base):
                found.append(path.relative_to(root).as_posix())
        if len(found) >= limit:
            break
    return found


def upload_suffix(filename: str | None) -> str:
    """The lower-case ending of an uploaded file's name, when the server takes it.

    Raises:
        UploadRejectedError: no name, or an ending other than :data:`UPLOAD_SUFFIXES`.

    Example:
        >>> upload_suffix("Scene 2019.TIF")
        '.tif'
    """
    suffix = PurePosixPath(filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadRejectedError(
            f"{filename!r} is not an accepted upload: send a GeoTIFF, JPEG 2000, PNG or JPEG "
            f"file ({', '.join(UPLOAD_SUFFIXES)})."
        )
    return suffix


def upload_names(filenames: list[str | None], labels: list[str]) -> list[str]:
    """Safe, distinct file names for uploads: the client's names, with only letters, digits,
    ``.``, ``_`` and ``-`` kept (others become ``_``); a name left empty becomes its label; a
    name met before gets ``-2``, ``-3``...

    Raises:
        UploadRejectedError: a name without an accepted ending (see :func:`upload_suffix`).

    Example:
        >>> upload_names(["../Scene 2019.TIF", "scene_2019.tif"], ["before", "after"])
        ['Scene_2019.tif', 'scene_2019-2.tif']
        >>> upload_names(["dir/été 1.tif", "__.tif"], ["before", "after"])
        ['t_1.tif', 'after.tif']
    """
    names: list[str] = []
    for filename, label in zip(filenames, labels, strict=True):
        suffix = upload_suffix(filename)
        base = PurePosixPath((filename or "").replace("\\", "/")).name
        stem = _UNSAFE.sub("_", base[: len(base) - len(suffix)]).strip("._-")[:MAX_NAME]
        stem = stem or label
        name, n = f"{stem}{suffix}", 1
        while name.lower() in {m.lower() for m in names}:
            n += 1
            name = f"{stem}-{n}{suffix}"
        names.append(name)
    return names


def save_upload(source: BinaryIO, target: Path, max_bytes: int) -> int:
    """Copy an upload to ``target`` (a name made safe), stopping past ``max_bytes``.

    Raises:
        UploadRejectedError: the upload is larger than ``max_bytes`` (nothing is kept).
    """
    written = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                out.close()
                target.unlink(missing_ok=True)
                raise UploadRejectedError(
                    f"the upload is larger than the limit of {max_bytes // (1024 * 1024)} MB; "
                    "crop or compress the image, or start the server with a larger limit."
                )
            out.write(chunk)
    return written


def check_raster(path: Path, label: str) -> None:
    """Open ``path`` with rasterio: it must be a raster of an allowed format with pixels.

    Raises:
        InvalidRasterError: it is not a raster rasterio can read, or of another format.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                driver, width, height, count = ds.driver, ds.width, ds.height, ds.count
                ds.read(1, window=((0, min(height, 8)), (0, min(width, 8))))
    except (RasterioError, OSError) as exc:
        raise InvalidRasterError(
            f"the {label} image is not a raster that can be read ({exc}); upload a GeoTIFF, "
            "JPEG 2000, PNG or JPEG image."
        ) from None
    if driver not in RASTER_DRIVERS:
        raise InvalidRasterError(
            f"the {label} image is a {driver} file; upload a GeoTIFF, JPEG 2000, PNG or JPEG image."
        )
    if width < 1 or height < 1 or count < 1:
        raise InvalidRasterError(f"the {label} image has no pixels; upload another image.")


def remove_quietly(folder: Path) -> None:
    """Remove a folder the server made (an upload that was refused)."""
    shutil.rmtree(folder, ignore_errors=True)
