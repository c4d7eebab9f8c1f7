"""Whole-file downloads, for servers that cannot send parts of a file.

GDAL reads a remote raster with HTTP range requests. A server that ignores the
``Range`` header (Python's ``http.server``, some proxies) answers every request
with the whole file, which GDAL refuses ("Range downloading not supported by
this server!"). Such a file is downloaded once, whole, into the cache
(``$TERRASIGHT_CACHE/downloads``), with a progress bar, when it is no larger
than a limit: :data:`DOWNLOAD_LIMIT_MB` megabytes, or ``$TERRASIGHT_DOWNLOAD_LIMIT_MB``
(``0`` turns downloads off). A larger file gets a message that says to download
it first.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from terrasight.errors import RemoteReadError
from terrasight.io.cachedir import user_cache
from terrasight.io.remote import HEAD_TIMEOUT, http_url, remote_identity, source_name

DOWNLOAD_LIMIT_MB = 1024
"""Largest file (MB) downloaded whole when its server cannot send parts of it."""

_CHUNK = 1 << 20


def download_limit_mb() -> int:
    """The size limit in MB for whole downloads: ``$TERRASIGHT_DOWNLOAD_LIMIT_MB`` or the default.

    Example:
        >>> download_limit_mb() >= 0
        True
    """
    text = os.environ.get("TERRASIGHT_DOWNLOAD_LIMIT_MB", "").strip()
    return int(text) if text.isdigit() else DOWNLOAD_LIMIT_MB


def accepts_ranges(url: str) -> bool | None:
    """Whether the server of ``url`` answers a range request with part of the file.

    ``True`` for a 206 answer, ``False`` for a 200 (the whole file), ``None`` when the
    server cannot be asked (no plain HTTP address, no answer). No body is read.

    Example:
        >>> accepts_ranges("https://example.com/scene.tif")  # doctest: +SKIP
        True
    """
    address = http_url(url)
    if address is None:
        return None
    request = urllib.request.Request(address, headers={"Range": "bytes=0-0"})
    try:
        with urllib.request.urlopen(request, timeout=HEAD_TIMEOUT) as response:
            return bool(response.status == 206)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def whole_file(url: str, role: str = "image") -> Path:
    """The file behind ``url`` downloaded whole into the cache (once; later calls reuse it).

    Raises:
        RemoteReadError: the file is larger than the limit (or of unknown size and grows past
            it), downloads are turned off, or the download fails; the message says what to do.

    Example:
        >>> whole_file("http://127.0.0.1:8000/before.tif")  # doctest: +SKIP
        PosixPath('/home/me/.cache/terrasight/downloads/3f2a.../before.tif')
    """
    address = http_url(url) or url
    identity = remote_identity(url)
    limit = download_limit_mb()
    size = identity.get("size")
    advice = f"Download the file first (for example `curl -O {address}`) and give the local path"
    if limit == 0:
        raise RemoteReadError(
            f"{role} {url}: the server does not answer range requests, so the file cannot be read "
            f"in parts, and downloads are turned off (TERRASIGHT_DOWNLOAD_LIMIT_MB=0). {advice}."
        )
    if size is not None and size > limit * 1e6:
        raise RemoteReadError(
            f"{role} {url}: the server does not answer range requests, so the file cannot be read "
            f"in parts, and it is {size / 1e6:,.0f} MB, more than the {limit:,} MB terrasight "
            f"downloads whole. {advice}, or raise TERRASIGHT_DOWNLOAD_LIMIT_MB."
        )
    key = hashlib.sha256(repr(sorted(identity.items())).encode()).hexdigest()[:20]
    target = user_cache("downloads") / key / source_name(url)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        _fetch(address, part, size, limit, role, url, advice)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)
    return target


def _fetch(
    address: str, part: Path, size: int | None, limit: int, role: str, url: str, advice: str
) -> None:
    """Stream ``address`` into ``part`` with a progress bar on stderr; stop past ``limit`` MB."""
    done = 0
    try:
        with (
            urllib.request.urlopen(address, timeout=HEAD_TIMEOUT) as response,
            part.open("wb") as out,
            tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc=f"downloading {source_name(url)}",
                disable=None,
                leave=False,
            ) as bar,
        ):
            while chunk := response.read(_CHUNK):
                done += len(chunk)
                if done > limit * 1e6:
                    raise RemoteReadError(
                        f"{role} {url}: the server does not answer range requests and the file "
                        f"is larger than the {limit:,} MB terrasight downloads whole. {advice}."
                    )
                out.write(chunk)
                bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as exc:
        if isinstance(exc, RemoteReadError):
            raise
        raise RemoteReadError(
            f"{role} {url}: the server does not answer range requests, and downloading the "
            f"whole file failed after {done / 1e6:,.1f} MB ({exc}). {advice}."
        ) from None
