"""JetDesk HTTP routes and event handlers. Thin: parse, call one service, answer."""
from __future__ import annotations

import json
import logging

from chalice import AuthResponse, Chalice, Response

from channels import integration, twilio_sms
from channels.base import RawRequest
from chalicelib import logs, validation
from chalicelib.auth import tokens
from chalicelib.clock import iso
from chalicelib.errors import ApiError, PayloadTooLarge, UnsupportedMediaType
from chalicelib.services import (agents, conversations, intake, notifier, presenters, providers, queues,
                                 tickets)
from chalicelib.settings import get_settings
from chalicelib.storage import models

settings = get_settings()
models.configure(settings)
logs.configure()

app = Chalice(app_name="jetdesk")
app.log.setLevel(logging.INFO)
app.log.propagate, app.log.handlers = True, []  # one JSON handler, at the root
JSON = "application/json"


# ---- plumbing -------------------------------------------------------------

def _error(status: int, code: str, message: str, details=None, headers=None) -> Response:
    return Response({"error": {"code": code, "message": message, "details": details or []}},
                    status_code=status, headers={"Content-Type": JSON, **(headers or {})})


@app.middleware("http")
def json_errors(event, get_response):
    """Every error leaves as {"error": {...}}, including Chalice's own (415, 405)."""
    try:
        response = get_response(event)
    except ApiError as exc:
        return _error(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except Exception:  # noqa: BLE001 - the last line of defence; details go to the log only
        app.log.exception("unhandled error", extra={"path": app.current_request.context.get("resourcePath")})
        return _error(500, "internal", "something went wrong on our side; try again")
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = {415: "unsupported_media_type", 405: "method_not_allowed",
                500: "internal"}.get(response.status_code, "bad_request")
        return _error(response.status_code, code, body.get("Message", ""))
    return response


def raw_request() -> RawRequest:
    r = app.current_request
    body = r.raw_body or b""
    if len(body) > settings.max_body_bytes:
        raise PayloadTooLarge(f"body over {settings.max_body_bytes} bytes")
    return RawRequest(r.method, r.context.get("resourcePath", ""), dict(r.headers), body,
                      dict(r.query_params or {}))


def json_body(schema: str) -> dict:
    request = raw_request()
    if not (request.header("content-type") or "").startswith(JSON):
        raise UnsupportedMediaType("send application/json")
    return validation.validated(schema, request.body)


def actor() -> agents.Actor:
    ctx = app.current_request.context.get("authorizer") or {}
    return agents.actor(tokens.Principal(ctx["principalId"], ctx.get("role", "agent")))


class Unauthenticated(Exception):
    """API Gateway answers 401 when a token authorizer raises exactly 'Unauthorized'."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@app.authorizer()
def agent_token(auth_request):
    """Bearer JWT: local HS256 issuer, or Cognito (RS256 via JWKS) in AWS."""
    scheme, _, token = (auth_request.token or "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token:
            raise ApiError("no bearer token")
        principal = tokens.verify(settings, token)
    except ApiError as exc:
        app.log.info("token refused: %s", exc.message)
        raise Unauthenticated() from None
    return AuthResponse(routes=["*"], principal_id=principal.agent_id, context={"role": principal.role})


# ---- public ---------------------------------------------------------------

@app.route("/health")
def health():
    models.Queue.count(limit=1)  # DynamoDB answers
    return {"status": "ok", "stage": settings.stage}


# ---- inbound channels -----------------------------------------------------

@app.route("/channels/twilio/sms", methods=["POST"], content_types=[twilio_sms.FORM])
def twilio_inbound():
    intake.receive("twilio/sms", raw_request(), lambda r: twilio_sms.verify(r, settings), twilio_sms.normalize)
    return Response(twilio_sms.acknowledge(), headers={"Content-Type": "text/xml"})


@app.route("/integrations/events", methods=["POST"], content_types=[JSON])
def integration_event():
    stored = intake.receive(
        "integrations/events", raw_request(),
        verify=lambda r: integration.verify(r, settings) or r.body,
        normalize=lambda body: integration.normalize(validation.validated("integration_event", body)))
    return Response({"accepted": True, "duplicate": not stored}, status_code=202 if stored else 200)


# ---- agent API ------------------------------------------------------------

@app.route("/queues", authorizer=agent_token)
def list_queues():
    return {"items": queues.summary(actor()), "next": None}


@app.route("/queues/{queue}/tickets", authorizer=agent_token)
def queue_tickets(queue):
    params = app.current_request.query_params or {}
    return queues.tickets(actor(), queue, params.get("cursor"))


@app.route("/queues/{queue}/claim", methods=["POST"], authorizer=agent_token)
def claim(queue):
    claimed = queues.claim(actor(), queue)
    if claimed is None:
        return Response("", status_code=204)
    ticket, lease_until = claimed
    return {**presenters.ticket(ticket), "lease": {"expires_at": iso(lease_until)}}


@app.route("/tickets", authorizer=agent_token)
def tickets_by_contact():
    contact = (app.current_request.query_params or {}).get("contact")
    if not contact:
        raise ApiError("give ?contact=<email | E.164 phone | kind:handle>")
    return tickets.for_contact(actor(), contact)


@app.route("/tickets/{ticket_id}", authorizer=agent_token)
def get_ticket(ticket_id):
    return tickets.get(actor(), ticket_id)


@app.route("/tickets/{ticket_id}/replies", methods=["POST"], content_types=[JSON], authorizer=agent_token)
def reply(ticket_id):
    body = json_body("reply")
    return Response(tickets.reply(actor(), ticket_id, body["text"]), status_code=201)


# ---- local stage only -----------------------------------------------------

if settings.is_local:
    @app.route("/local/sent")
    def local_sent():
        return providers.http().get(settings.sink_url + "/sent", timeout=5).json()


# ---- async path -----------------------------------------------------------

@app.on_dynamodb_record(stream_arn=settings.stream_arn("inbound"), batch_size=10, starting_position="TRIM_HORIZON")
def handle_inbound(event):
    for record in event:
        if record.event_name == "INSERT":
            conversations.process(models.InboundMessage.from_raw_data(record.new_image))


@app.on_dynamodb_record(stream_arn=settings.stream_arn("outbox"), batch_size=25, starting_position="TRIM_HORIZON")
def handle_outbox(event):
    for record in event:
        if record.event_name == "INSERT":
            notifier.deliver(models.Outbox.from_raw_data(record.new_image))


@app.on_sqs_message(queue=settings.notify_retry_queue, batch_size=1)
def handle_notify_retry(event):
    for record in event:
        notifier.redeliver(json.loads(record.body)["outbox_id"])
