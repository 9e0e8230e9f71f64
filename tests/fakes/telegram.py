"""A fake Telegram Bot API on a loopback socket: a real HTTP server in its own thread, speaking the Bot API's JSON.

It checks the token in the path (``/bot<TOKEN>/<method>``: another token gets 401, as Telegram answers), keeps every
message sent with the time it arrived, serves queued updates to ``getUpdates`` by offset (long polling), and plays
faults on ``sendMessage`` in order: a 429 with ``retry_after``, a 5xx, an answer later than the client waits. It also
takes a generic webhook's POSTs on ``/hook``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Fault:
    """What the next ``sendMessage`` gets instead of success: ``status`` with Telegram's error body (and
    ``retry_after`` in its parameters), or no answer for ``delay_s``."""

    status: int = 500
    retry_after: int | None = None
    delay_s: float = 0.0


@dataclass
class Sent:
    chat_id: int
    text: str
    at: float  # time.time() when it arrived


@dataclass
class FakeTelegram:
    token: str
    sent: list[Sent] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[str] = field(default_factory=list)  # every method asked for, with a wrong token too
    bodies: list[str] = field(default_factory=list)
    down: bool = False  # every sendMessage gets a 502 while set
    attempts: list[float] = field(default_factory=list)  # time.time() of every sendMessage with the right token
    hooked: list[dict[str, Any]] = field(default_factory=list)  # bodies POSTed to /hook
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def command(self, chat_id: int, text: str) -> int:
        """Queue a message from ``chat_id`` for ``getUpdates``; its update id."""
        with self._lock:
            update_id = 1000 + len(self._updates)
            message = {"message_id": update_id, "chat": {"id": chat_id, "type": "private"}, "text": text}
            self._updates.append({"update_id": update_id, "message": message})
            self._lock.notify_all()
            return update_id

    def texts(self, chat_id: int | None = None) -> list[str]:
        with self._lock:
            return [s.text for s in self.sent if chat_id is None or s.chat_id == chat_id]

    def handle(self, path: str, body: bytes) -> tuple[int, dict[str, Any], float]:
        """(status, JSON answer, delay before answering) for one request."""
        prefix, _, method = path.rpartition("/")
        self.requests.append(method)
        self.bodies.append(body.decode(errors="replace"))
        if path == "/hook":  # a generic webhook beside the bot, for the webhook channel
            with self._lock:
                self.hooked.append(json.loads(body))
                self._lock.notify_all()
            return 200, {"received": True}, 0.0
        if prefix != f"/bot{self.token}":  # echoing the path, as a careless server might: a token must not leak
            return 401, {"ok": False, "error_code": 401, "description": f"Unauthorized: {path}"}, 0.0
        request = json.loads(body or b"{}")
        if method == "sendMessage":
            with self._lock:
                self.attempts.append(time.time())
                fault = Fault(502) if self.down else self.faults.popleft() if self.faults else None
            if fault is not None:
                if fault.delay_s:
                    return 200, {"ok": True, "result": {}}, fault.delay_s  # too late: the client gave up
                answer: dict[str, Any] = {"ok": False, "error_code": fault.status, "description": "fault"}
                if fault.retry_after is not None:
                    answer["description"] = f"Too Many Requests: retry after {fault.retry_after}"
                    answer["parameters"] = {"retry_after": fault.retry_after}
                return fault.status, answer, 0.0
            with self._lock:
                self.sent.append(Sent(int(request["chat_id"]), str(request["text"]), time.time()))
                self._lock.notify_all()
            return 200, {"ok": True, "result": {"message_id": len(self.sent)}}, 0.0
        if method == "getUpdates":
            offset, wait = int(request.get("offset", 0)), min(float(request.get("timeout", 0)), 1.0)
            with self._lock:
                self._lock.wait_for(lambda: any(u["update_id"] >= offset for u in self._updates), timeout=wait)
                found = [u for u in self._updates if u["update_id"] >= offset]
            return 200, {"ok": True, "result": found}, 0.0
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, 0.0


def _handler(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes: Nagle would hold the body for an ACK

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, answer, delay_s = fake.handle(self.path, body)
            if delay_s:
                time.sleep(delay_s)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(fake: FakeTelegram, port: int = 0) -> Iterator[str]:
    """Serve ``fake`` on 127.0.0.1 (on ``port``, or a free one); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
