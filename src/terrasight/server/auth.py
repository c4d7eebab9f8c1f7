"""The bearer token: every request but ``GET /health`` must carry it.

It may come as ``Authorization: Bearer T`` (API clients), as the cookie the page
gets when it is opened with ``?token=T`` once (so that map tiles, downloads and
the event stream, which cannot set headers, carry it too), or as ``?token=T``.
Compared in constant time; a refusal is a 401 JSON error like every other.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from terrasight.errors import AccessDeniedError, http_status

COOKIE = "terrasight_token"
OPEN_PATHS = frozenset({"/health"})


class TokenGuard:
    """ASGI middleware refusing requests without the right token.

    Example:
        >>> app.add_middleware(TokenGuard, token="a-long-secret")  # doctest: +SKIP
    """

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = presented_token(scope)
        if given is None:
            error = AccessDeniedError(
                "this server needs a token: send 'Authorization: Bearer TOKEN', or open the page "
                "as /?token=TOKEN."
            )
        elif not hmac.compare_digest(given.encode(), self.token):
            error = AccessDeniedError("wrong token; ask whoever started the server for it.")
        else:
            await self.app(scope, receive, self._set_cookie(scope, send, given))
            return
        await _refuse(send, error)

    def _set_cookie(self, scope: dict, send: Any, token: str) -> Any:
        """Give the page the cookie when it came with ``?token=``."""
        if "token" not in parse_qs(scope.get("query_string", b"").decode()):
            return send

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        return sending


def presented_token(scope: dict) -> str | None:
    """The token a request carries (header, then cookie, then query), or None.

    Example:
        >>> presented_token({"headers": [(b"authorization", b"Bearer abc")], "query_string": b""})
        'abc'
    """
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    try:
        cookies = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
    except CookieError:
        cookies = SimpleCookie()
    if COOKIE in cookies:
        return cookies[COOKIE].value
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query["token"][0] if query.get("token") else None


async def _refuse(send: Any, error: AccessDeniedError) -> None:
    body = json.dumps({"error": type(error).__name__, "detail": str(error)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": http_status(error),
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
