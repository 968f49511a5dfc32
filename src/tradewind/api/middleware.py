"""ASGI middleware guarding every request before a route reads it.

Pure ASGI (no ``BaseHTTPMiddleware``) so that nothing buffers a request body on the way:

- ``SecurityHeadersMiddleware`` sets ``X-Content-Type-Options: nosniff`` on every response, so
  a browser never guesses that a task log or an XCom value is HTML.
- ``ApiAuthGateMiddleware`` answers 401 to a ``/api/v2`` request that carries a body but no
  credentials, before the body is read: a stranger cannot make the server parse megabytes.
  It only checks that credentials are there and signed; the routes still check the user.
- ``BodyLimitMiddleware`` answers 413 to a body over ``[api] max_body_bytes``: at once when
  ``Content-Length`` says so, else as soon as a streamed (chunked) body passes the limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/v2"
NOSNIFF = (b"x-content-type-options", b"nosniff")


async def send_json(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A whole JSON response in Airflow's error shape, ``{"detail": ...}``."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return _header(scope, b"transfer-encoding") is not None


class SecurityHeadersMiddleware:
    """Adds ``X-Content-Type-Options: nosniff`` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != NOSNIFF[0]]
                message = {**message, "headers": [*headers, NOSNIFF]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ApiAuthGateMiddleware:
    """401 for a REST request with a body and without valid credentials, the body unread.

    ``authenticated(scope)`` tells whether the request carries a valid bearer token or a
    signed-in session; it must not read the body. Must sit inside the session middleware.
    """

    def __init__(self, app: ASGIApp, authenticated: Callable[[Scope], bool]) -> None:
        self.app = app
        self.authenticated = authenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and _is_api(scope["path"])
            and _has_body(scope)
            and not self.authenticated(scope)
        ):
            await send_json(send, 401, "Not authenticated", [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes the limit."""


class BodyLimitMiddleware:
    """413 for a request body over ``max_bytes``, read no further than the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        return f"Request body too large: the limit is {self.max_bytes} bytes ([api] max_body_bytes)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await send_json(send, 413, self._detail())
            return
        state: dict[str, Any] = {"received": 0, "over": False, "started": False}

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["over"] = True
                    raise BodyTooLarge(self._detail())
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"]:
                # Whatever the route made of the interrupted body (often a 400), the answer is 413.
                if message["type"] == "http.response.start" and not state["started"]:
                    state["started"] = True
                    await send_json(send, 413, self._detail())
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not state["started"]:
                state["started"] = True
                await send_json(send, 413, self._detail())
