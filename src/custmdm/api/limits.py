"""Limits every request meets before a route sees it: a size cap (413), and no NUL
characters anywhere (422): PostgreSQL cannot store them in text, and no customer data
has them."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custmdm.api.problems import problem

#: Largest request body accepted: a customer with every name and contact is a few KB.
MAX_BODY = 1024 * 1024


class RequestLimits:
    """ASGI middleware: refuse oversized bodies and NUL characters with problem details."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if b"%00" in raw_path or b"%00" in scope.get("query_string", b""):
            await _refuse_nul(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _too_large(self.max_body, scope, receive, send)
            return
        body, more = b"", True
        while more:  # read the body here (it is small) to check it whole
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _too_large(self.max_body, scope, receive, send)
                return
        if b"\x00" in body or b"\\u0000" in body:
            await _refuse_nul(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(limit: int, scope: Any, receive: Receive, send: Send) -> None:
    await problem(413, "too-large", "The request is too large",
                  f"a request body is at most {limit} bytes")(scope, receive, send)


async def _refuse_nul(scope: Any, receive: Receive, send: Send) -> None:
    await problem(422, "validation", "The input cannot be accepted",
                  "the request contains a NUL character (\\u0000), which no field "
                  "takes")(scope, receive, send)
