"""Request bodies within bounds, before any route reads them.

A body declared or found larger than ``api.max_body_bytes`` is refused with 413; one that has not fully arrived
``api.request_timeout_s`` after the request's headers (a client sending a byte a second) with 408. Either way the
connection's task ends, and no other request waits for it. A body that arrived is handed on unchanged. (Headers
that trickle in are hypercorn's to cut off: ``server.py`` sets its idle timeout to the same setting.)
"""

from __future__ import annotations

import trio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from b1e55ed.api.errors import error_response

WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DRAIN_FACTOR = 16  # a body too large is read and dropped up to this many times the limit before the answer


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        too_large = error_response(413, f"request body over api.max_body_bytes ({self._max_bytes} bytes)", "body")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_bytes):
            await too_large(scope, receive, send)
            return
        received: list[Message] = []
        size = 0
        with trio.move_on_after(self._timeout_s) as waited:
            while size <= DRAIN_FACTOR * self._max_bytes:
                message = await receive()
                if message["type"] != "http.request":
                    received.append(message)
                    break  # the client went away: the route sees the disconnect as it would have
                size += len(message.get("body", b""))
                if size <= self._max_bytes:
                    received.append(message)
                if not message.get("more_body", False):
                    break
        # Too large: the rest was read and dropped (up to a bound), so that the client is listening for the answer.
        if size > self._max_bytes:
            await too_large(scope, receive, send)
            return
        if waited.cancelled_caught:
            late = f"request body not received within api.request_timeout_s ({self._timeout_s:g} s)"
            await error_response(408, late, headers={"Connection": "close"})(scope, receive, send)
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)
