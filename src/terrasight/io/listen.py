"""Where a server listens: a loopback address needs no token, any other address does.

``terrasight serve`` and ``terrasight mcp --http`` both refuse to listen where other
machines can reach them unless a bearer token guards every request.
"""

from __future__ import annotations

import ipaddress

from terrasight.errors import InvalidOptionError

MIN_TOKEN = 8
"""The fewest characters a bearer token may have."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, token: str | None, what: str) -> None:
    """Refuse to listen on ``host`` without a token where other machines reach it, and a token
    shorter than :data:`MIN_TOKEN`; ``what`` names what the token guards, for the message.

    Raises:
        InvalidOptionError: an address reachable from elsewhere and no token, or a short token.

    Example:
        >>> check_listen("127.0.0.1", None, "the server")
        >>> check_listen("0.0.0.0", None, "the server")
        Traceback (most recent call last):
        ...
        terrasight.errors.InvalidOptionError: --host 0.0.0.0 is reachable from other machines: give --token (or $TERRASIGHT_TOKEN) so that only those who have it can use the server.
    """
    if not token and not is_loopback(host):
        raise InvalidOptionError(
            f"--host {host} is reachable from other machines: give --token (or "
            f"$TERRASIGHT_TOKEN) so that only those who have it can use {what}."
        )
    if token is not None and len(token) < MIN_TOKEN:
        raise InvalidOptionError(
            f"the token must have at least {MIN_TOKEN} characters; choose a longer one."
        )
