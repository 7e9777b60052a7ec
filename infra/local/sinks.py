"""Local stand-ins for Twilio, SES, Meta, X, Telegram and integrators' webhook endpoints.

They record exactly what would have left the building and answer like the real
services do, so the official clients run unchanged. ``GET /sent`` lists the
records newest first; ``POST /faults`` makes the next N calls of a provider fail
(for the reliability suite).
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

TWILIO_API = "https://api.twilio.com"
REAL_BASES = {"meta": "https://graph.facebook.com/v21.0", "x": "https://api.x.com",
              "telegram": "https://api.telegram.org", "ses": "https://email.us-east-1.amazonaws.com"}


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
        provider = self.path.split("/")[1]
        if provider in _ANSWERS:
            return self._json_api(provider, body)
        self._answer(404, b'{"error": "unknown sink path"}')

    def _json_api(self, provider: str, body: bytes) -> None:
        fault = self.server.next_fault(provider)
        if fault:
            return self._answer(fault, json.dumps({"error": {"message": "sink fault", "code": 2}}).encode())
        path = self.path[len(provider) + 1:]
        if provider == "telegram":  # the bot token is part of the path: never keep it
            path = re.sub(r"^/bot[^/]+", "/bot<token>", path)
        if provider == "ses":
            request, status, answer, content_type = _ses(body)
        else:
            request = json.loads(body or b"null")
            status, answer, content_type = 200, _ANSWERS[provider](path, request), "application/json"
        self.server.record({"provider": provider, "method": "POST", "url": REAL_BASES[provider] + path,
                            "body": request, "answer": answer})
        self._answer(status, answer.encode() if isinstance(answer, str) else json.dumps(answer).encode(),
                     content_type)

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


def _meta(path: str, request: dict) -> dict:
    if path == "/me/messages":
        return {"recipient_id": request["recipient"]["id"], "message_id": "m_" + secrets.token_hex(12)}
    return {"messaging_product": "whatsapp", "contacts": [{"input": request.get("to"), "wa_id": request.get("to")}],
            "messages": [{"id": "wamid." + secrets.token_hex(16)}]}


def _x(path: str, request: dict) -> dict:
    return {"data": {"dm_conversation_id": "1-" + path.split("/")[4], "dm_event_id": str(secrets.randbits(60))}}


def _telegram(path: str, request: dict) -> dict:
    return {"ok": True, "result": {"message_id": secrets.randbelow(10**6), "chat": {"id": request.get("chat_id")},
                                   "text": request.get("text")}}


_ANSWERS = {"meta": _meta, "x": _x, "telegram": _telegram, "ses": None}


def _ses(body: bytes) -> tuple[dict, int, str, str]:
    """SES's query API (SendRawEmail): record the decoded message, answer its XML."""
    form = dict(parse_qsl(body.decode()))
    raw = base64.b64decode(form.get("RawMessage.Data", "")).decode("utf-8", errors="replace")
    message_id = "0100" + secrets.token_hex(16) + "-000000"
    answer = ('<SendRawEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><SendRawEmailResult>'
              f"<MessageId>{message_id}</MessageId></SendRawEmailResult><ResponseMetadata><RequestId>"
              f"{secrets.token_hex(8)}</RequestId></ResponseMetadata></SendRawEmailResponse>")
    return {"Action": form.get("Action"), "raw": raw, "message_id": message_id}, 200, answer, "text/xml"


def start(address=("127.0.0.1", 0)) -> Sinks:
    sinks = Sinks(address)
    threading.Thread(target=sinks.serve_forever, name="sinks", daemon=True).start()
    return sinks
