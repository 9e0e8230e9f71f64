"""A minimal SMTP server on a loopback socket, in its own thread: enough of RFC 5321 for ``smtplib`` (EHLO, AUTH
PLAIN, MAIL, RCPT, DATA, QUIT). aiosmtpd is asyncio's, and not needed for this much. It keeps each message's bytes;
a wrong password gets 535, as a real server answers bad credentials."""

from __future__ import annotations

import base64
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class FakeSmtp:
    username: str
    password: str
    messages: list[bytes] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


def _handler(fake: FakeSmtp) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 fake.smtp ESMTP")
            authenticated = False
            while raw := self.rfile.readline():
                verb, _, argument = raw.decode().strip().partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250-fake.smtp")
                    self.reply("250 AUTH PLAIN")
                elif verb == "AUTH":
                    _, _, initial = argument.partition(" ")
                    _, user, password = base64.b64decode(initial).decode().split("\0")
                    fake.logins.append((user, password))
                    authenticated = (user, password) == (fake.username, fake.password)
                    self.reply("235 2.7.0 accepted" if authenticated else "535 5.7.8 bad credentials")
                elif verb in ("MAIL", "RCPT"):
                    self.reply("250 ok" if authenticated else "530 5.7.0 authentication required")
                elif verb == "DATA":
                    self.reply("354 go on")
                    data = b""
                    while (line := self.rfile.readline()) not in (b".\r\n", b""):
                        data += line
                    fake.messages.append(data)
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 not here")

    return Handler


@contextmanager
def serving(fake: FakeSmtp) -> Iterator[int]:
    """Serve ``fake`` on 127.0.0.1; yields its port."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
