"""Real local servers the channel tests send to: SMTP (aiosmtpd) and an HTTP SMS
provider speaking cuishou's signed protocol."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cuishou.notices.channels import signature_ok


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpSink:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class SmsGateway:
    """Answers ``fail_first`` requests with ``status`` (e.g. 500), then 200 with an id."""

    secret: str
    fail_first: int = 0
    status: int = 500
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    calls: int = 0
    url: str = ""


@contextmanager
def sms_gateway(
    secret: str = "s3cret", fail_first: int = 0, status: int = 500
) -> Iterator[SmsGateway]:
    gateway = SmsGateway(secret=secret, fail_first=fail_first, status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            gateway.calls += 1
            if not signature_ok(
                gateway.secret,
                self.headers.get("X-Cuishou-Timestamp", ""),
                body,
                self.headers.get("X-Cuishou-Signature", ""),
            ):
                gateway.bad_signatures += 1
                self._answer(401, {"error": "bad signature"})
                return
            if gateway.calls <= gateway.fail_first:
                self._answer(gateway.status, {"error": "try later"})
                return
            gateway.received.append(json.loads(body))
            self._answer(200, {"id": f"gw-{len(gateway.received)}"})

        def _answer(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
