"""Images behind URLs: ``http(s)://``, ``s3://``, ``gs://`` and GDAL ``/vsi...`` paths.

A remote source stays a string from end to end (a :class:`~pathlib.Path` would
collapse ``//``). GDAL reads it through its virtual file systems with range
requests, so only the parts of a Cloud-Optimized GeoTIFF that a job needs are
fetched. Network settings (timeouts, retries, unsigned cloud buckets) are
passed in a :class:`rasterio.Env` around each read, never set process-wide;
a variable the user has set in the environment wins over the defaults here.
"""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import rasterio

URL_SCHEMES = ("http://", "https://", "s3://", "gs://")
"""URL schemes read over the network."""
_VSI = {"http://": "/vsicurl/", "https://": "/vsicurl/", "s3://": "/vsis3/", "gs://": "/vsigs/"}

NETWORK_DEFAULTS: dict[str, str] = {
    "GDAL_HTTP_TIMEOUT": "30",
    "GDAL_HTTP_CONNECTTIMEOUT": "10",
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF,.jp2,.vrt,.png,.jpg,.jpeg,.img",
}
"""GDAL settings for network reads; each is overridden by an environment variable of its name."""

HEAD_TIMEOUT = 15.0
"""Seconds to wait for the answer to the request that identifies a remote file."""


def repair(source: str | Path) -> str | Path:
    """A remote source as a string (undoing ``Path``'s ``http:/host``); a local one as a Path.

    Example:
        >>> repair(Path("https://example.com/a.tif"))
        'https://example.com/a.tif'
        >>> repair("before.tif")
        PosixPath('before.tif')
    """
    text = str(source)
    for scheme in URL_SCHEMES:
        single = scheme[:-1]  # "https:/" as Path("https://...") prints it
        if text.startswith(single) and not text.startswith(scheme):
            text = scheme + text[len(single) :]
    return text if is_remote(text) else Path(text)


def is_remote(source: str | Path) -> bool:
    """Whether ``source`` is a URL or a GDAL ``/vsi...`` path rather than a local file.

    Example:
        >>> is_remote("s3://bucket/scene.tif"), is_remote("/vsicurl/https://h/a.tif")
        (True, True)
        >>> is_remote("scene.tif")
        False
    """
    text = str(source)
    return text.startswith(URL_SCHEMES) or text.startswith("/vsi")


def gdal_path(source: str | Path) -> str | Path:
    """The name GDAL opens: ``/vsicurl/``, ``/vsis3/`` or ``/vsigs/`` for URLs.

    Example:
        >>> gdal_path("s3://bucket/key/scene.tif")
        '/vsis3/bucket/key/scene.tif'
        >>> gdal_path("https://host/a.tif")
        '/vsicurl/https://host/a.tif'
    """
    text = str(source)
    for scheme, vsi in _VSI.items():
        if text.startswith(scheme):
            return vsi + (text if vsi == "/vsicurl/" else text[len(scheme) :])
    return text if text.startswith("/vsi") else source


def source_name(source: str | Path) -> str:
    """The file name of a local path or URL (without a query string).

    Example:
        >>> source_name("https://host/data/S2_B04.tif?token=x")
        'S2_B04.tif'
    """
    text = str(source)
    if is_remote(text):
        return PurePosixPath(urlsplit(text).path).name or text
    return Path(text).name


def gdal_options(source: str | Path) -> dict[str, str]:
    """GDAL settings for reading ``source``: empty for a local file.

    Buckets are read unsigned (``AWS_NO_SIGN_REQUEST``, ``GS_NO_SIGN_REQUEST``)
    unless credentials are in the environment.

    Example:
        >>> gdal_options("s3://bucket/a.tif")["AWS_NO_SIGN_REQUEST"]  # doctest: +SKIP
        'YES'
        >>> gdal_options("a.tif")
        {}
    """
    if not is_remote(source):
        return {}
    options = {k: v for k, v in NETWORK_DEFAULTS.items() if k not in os.environ}
    text = str(source)
    aws = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_NO_SIGN_REQUEST", "AWS_WEB_IDENTITY_TOKEN_FILE")
    if (text.startswith(("s3://", "/vsis3/"))) and not any(k in os.environ for k in aws):
        options["AWS_NO_SIGN_REQUEST"] = "YES"
    gcs = ("GS_ACCESS_KEY_ID", "GS_OAUTH2_REFRESH_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS")
    if text.startswith(("gs://", "/vsigs/")) and not any(
        k in os.environ for k in (*gcs, "GS_NO_SIGN_REQUEST")
    ):
        options["GS_NO_SIGN_REQUEST"] = "YES"
    return options


def remote_env(source: str | Path) -> contextlib.AbstractContextManager[Any]:
    """A :class:`rasterio.Env` with :func:`gdal_options` for a remote source, else a no-op.

    Example:
        >>> with remote_env("https://host/a.tif"):  # doctest: +SKIP
        ...     ds = rasterio.open(gdal_path("https://host/a.tif"))
    """
    options = gdal_options(source)
    return rasterio.Env(**options) if options else contextlib.nullcontext()


def http_url(source: str) -> str | None:
    """The plain HTTPS address of a remote source, when it has one (public buckets).

    Example:
        >>> http_url("gs://bucket/a.tif")
        'https://storage.googleapis.com/bucket/a.tif'
        >>> http_url("/vsicurl/http://h/a.tif")
        'http://h/a.tif'
    """
    text = source[len("/vsicurl/") :] if source.startswith("/vsicurl/") else source
    if text.startswith(("http://", "https://")):
        return text
    if text.startswith("s3://"):
        bucket, _, key = text[len("s3://") :].partition("/")
        return f"https://{bucket}.s3.amazonaws.com/{key}"
    if text.startswith("gs://"):
        return "https://storage.googleapis.com/" + text[len("gs://") :]
    return None


def remote_identity(source: str) -> dict[str, Any]:
    """What identifies a remote file's content cheaply: its URL, size, ETag and Last-Modified.

    One ``HEAD`` request (a one-byte range ``GET`` when the server refuses HEAD);
    the file itself is not read. When the server cannot be asked (a private
    bucket), only the URL is recorded.

    Example:
        >>> remote_identity("https://host/a.tif")  # doctest: +SKIP
        {'path': 'https://host/a.tif', 'size': 1234567, 'etag': '"5f-3a"', 'last_modified': '...'}
    """
    identity: dict[str, Any] = {"path": source}
    url = http_url(source)
    if url is None:
        return identity
    headers = None
    for method, extra in (("HEAD", {}), ("GET", {"Range": "bytes=0-0"})):
        request = urllib.request.Request(url, method=method, headers=extra)
        try:
            with urllib.request.urlopen(request, timeout=HEAD_TIMEOUT) as response:
                headers = response.headers
                break
        except (urllib.error.URLError, OSError, ValueError):
            continue
    if headers is None:
        return identity
    size = headers.get("Content-Length")
    if (span := headers.get("Content-Range")) and "/" in span:
        size = span.rsplit("/", 1)[1]
    if size is not None and size.strip().isdigit():
        identity["size"] = int(size)
    for key, name in (("etag", "ETag"), ("last_modified", "Last-Modified")):
        if headers.get(name):
            identity[key] = headers[name]
    return identity
