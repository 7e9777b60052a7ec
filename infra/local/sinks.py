"""Local stand-ins for Twilio, SES and integrators' webhook endpoints.

They record exactly what would have left the building and answer like the real
services do, so the official clients run unchanged. ``GET /sent`` lists the
records newest first; ``POST /faults`` makes the next N calls of a provider fail
(for the reliability suite).
"""
from __future__ import annotations

import json
import secrets
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

TWILIO_API = "https://api.twilio.com"


class Sinks(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address=("127.0.0.1", 0)) -> None:
        super().__init__(address, _Handler)
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.faults: dict[str, list[int]] = {}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def record(self, entry: dict) -> None:
        with self.lock:
            self.records.append({**entry, "at": datetime.now(timezone.utc).isoformat()})

    def next_fault(self, provider: str) -> int | None:
        with self.lock:
            pending = self.faults.get(provider) or []
            return pending.pop(0) if pending else None


class _Handler(BaseHTTPRequestHandler):
    server: Sinks
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: the records are the log
        pass

    def _answer(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/sent":
            with self.server.lock:
                items = list(reversed(self.server.records))
            return self._answer(200, json.dumps({"items": items, "next": None}).encode())
        self._answer(404, b'{"error": "unknown sink path"}')

    def do_DELETE(self) -> None:
        with self.server.lock:
            self.server.records.clear()
        self._answer(204)

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/faults":
            spec = json.loads(body)
            with self.server.lock:
                self.server.faults.setdefault(spec["provider"], []).extend([spec.get("status", 500)] * spec["count"])
            return self._answer(204)
        if self.path.startswith("/twilio/"):
            return self._twilio(body)
        if self.path.startswith("/webhooks/"):
            return self._webhook(body)
        self._answer(404, b'{"error": "unknown sink path"}')

    def _twilio(self, body: bytes) -> None:
        url = TWILIO_API + self.path[len("/twilio"):]
        fault = self.server.next_fault("twilio")
        if fault:
            return self._answer(fault, json.dumps({"code": 20500, "message": "sink fault", "status": fault}).encode())
        form = dict(parse_qsl(body.decode()))
        sid = "SM" + secrets.token_hex(16)
        self.server.record({"provider": "twilio", "method": "POST", "url": url, "body": form, "sid": sid})
        resource = {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                    "body": form.get("Body"), "num_segments": "1", "direction": "outbound-api",
                    "api_version": "2010-04-01", "error_code": None, "error_message": None}
        self._answer(201, json.dumps(resource).encode())

    def _webhook(self, body: bytes) -> None:
        fault = self.server.next_fault("webhook")
        if fault:
            return self._answer(fault, b'{"error": "sink fault"}')
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("webhook-")}
        self.server.record({"provider": "webhook", "method": "POST", "url": self.server.url + self.path,
                            "headers": headers, "body": json.loads(body or b"null")})
        self._answer(204)


def start(address=("127.0.0.1", 0)) -> Sinks:
    sinks = Sinks(address)
    threading.Thread(target=sinks.serve_forever, name="sinks", daemon=True).start()
    return sinks
