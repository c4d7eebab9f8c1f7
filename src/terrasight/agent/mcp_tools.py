"""The agent's tools as an MCP server: any MCP client or agent can use terrasight's tools.

The tools are those a :class:`~terrasight.agent.Agent` would offer for the same
inputs (detect, facts, count, measure, locate, ask, describe, search the archive,
when things changed...), found through the same registry; each one's input schema is
its derived chat-completions schema (:func:`~terrasight.agent.schema.tool_schema`),
never written by hand. A call runs the tool on the conversation's
:class:`~terrasight.agent.session.Session` and returns its result as JSON text and
as structured content; a tool's refusal (a bad argument, an object that does not
exist) comes back as a result with ``isError`` set, so the client's model can
correct itself. Needs ``pip install 'terrasight[mcp]'`` (the ``mcp`` package, 2.x).

Example:
    >>> tools = McpTools(Session("changes/"))  # doctest: +SKIP
    >>> server = tools.server()  # doctest: +SKIP
    >>> anyio.run(serve_stdio, server)  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from terrasight.agent.registry import call_tool, schemas, usable_tools
from terrasight.errors import MissingDependencyError

if TYPE_CHECKING:
    from mcp.server import Server

    from terrasight.agent.session import Session

INSTRUCTIONS = (
    "Tools over what changed between two satellite or aerial images of one place (or over a "
    "series of dates, or an archive of scenes). Change objects have ids, 1 the largest. Use "
    "the tools for every number, place and object id."
)


class McpTools:
    """The tools of one session, listed and called as MCP asks; calls run one at a time.

    Args:
        session: the inputs and what has been computed from them.
        tools: the tools by name (when None, those the session's inputs can serve).
    """

    def __init__(
        self, session: Session, tools: dict[str, Callable[..., dict[str, Any]]] | None = None
    ) -> None:
        self.session = session
        self.tools = tools if tools is not None else usable_tools(session)
        self._lock = threading.Lock()

    def listing(self) -> list[dict[str, Any]]:
        """``{"name", "description", "inputSchema"}`` of each tool, from its derived schema.

        Example:
            >>> McpTools(None, tools={}).listing()
            []
        """
        return [
            {
                "name": s["function"]["name"],
                "description": s["function"]["description"],
                "inputSchema": s["function"]["parameters"],
            }
            for s in schemas(self.tools)
        ]

    def call(self, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        """The tool's result (``{"error": why}`` when it refused or there is no such tool).

        Example:
            >>> McpTools(None, tools={}).call("fly", {})["error"]
            "there is no tool 'fly'; the tools are: none."
        """
        with self._lock:  # a session holds one result; its tools are not made to overlap
            return call_tool(self.tools, self.session, name, arguments or {})

    def server(self, name: str = "terrasight", version: str = "") -> Server:
        """An MCP server (the ``mcp`` package's low-level :class:`~mcp.server.Server`) offering
        the tools.

        Raises:
            MissingDependencyError: the ``mcp`` package is not installed.
        """
        mcp = _require_mcp()
        types = mcp.types
        from anyio import to_thread

        listed = [
            types.Tool(name=t["name"], description=t["description"], input_schema=t["inputSchema"])
            for t in self.listing()
        ]

        async def list_tools(ctx: Any, params: Any) -> Any:
            return types.ListToolsResult(tools=listed)

        async def call(ctx: Any, params: Any) -> Any:
            result = await to_thread.run_sync(self.call, params.name, params.arguments)
            text = json.dumps(result, default=str)
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=text)],
                structured_content=json.loads(text),
                is_error="error" in result,
            )

        return mcp.server.Server(
            name,
            version=version,
            instructions=INSTRUCTIONS,
            on_list_tools=list_tools,
            on_call_tool=call,
        )


async def serve_stdio(server: Server) -> None:
    """Serve ``server`` on standard input and output until the client closes them."""
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def http_app(server: Server, token: str | None, host: str = "127.0.0.1") -> Any:
    """The ASGI app of ``server`` over streamable HTTP at ``/mcp``, behind ``token`` (a bearer
    token every request must carry; None: none asked)."""
    app = server.streamable_http_app(host=host)
    return BearerGuard(app, token) if token else app


class BearerGuard:
    """ASGI middleware: HTTP requests must carry ``Authorization: Bearer TOKEN`` (compared in
    constant time); a refusal is a 401 with a JSON error."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"").decode("latin-1")
            ok = given.lower().startswith("bearer ") and hmac.compare_digest(
                given[7:].strip().encode(), self.token
            )
            if not ok:
                await _refuse(send)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Any) -> None:
    body = json.dumps(
        {
            "error": "AccessDeniedError",
            "detail": "this MCP server needs a token: send 'Authorization: Bearer TOKEN'.",
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b"Bearer"),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _require_mcp() -> Any:
    try:
        import mcp
        import mcp.server
        import mcp.types
    except ImportError:
        raise MissingDependencyError(
            "the MCP server needs the mcp package (2.x): pip install 'terrasight[mcp]'."
        ) from None
    return mcp
