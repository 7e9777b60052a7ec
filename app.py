"""JetDesk HTTP routes and event handlers. Thin: parse, call one service, answer."""
from __future__ import annotations

import json
import logging

from chalice import AuthResponse, Chalice, Rate, Response

import channels
from chalicelib import logs, openapi, sources, validation, web
from chalicelib.auth import tokens
from chalicelib.clock import iso
from chalicelib.errors import ApiError, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType
from chalicelib.services import (
    agents,
    bot,
    canned,
    chat,
    conversations,
    deflection,
    helpdesk,
    ingest,
    intake,
    jetconfig,
    mail,
    notifier,
    pages,
    presenters,
    providers,
    queues,
    replay,
    stream_failures,
    sweep,
    tickets,
    voice,
    webhooks,
    whatif,
    worklist,
)
from chalicelib.settings import get_settings
from chalicelib.storage import models
from channels import twilio_sms
from channels import web as web_form
from channels.base import RawRequest

settings = get_settings()
models.configure(settings)
logs.configure()

app = Chalice(app_name="jetdesk")
app.experimental_feature_flags.update(["WEBSOCKETS"])
RFC822 = "message/rfc822"
app.api.binary_types.append(RFC822)  # raw mail may be 8-bit: API Gateway must pass it base64
app.api.binary_types.append(web_form.MULTIPART)  # the help form's attachment
app.log.setLevel(logging.INFO)
app.log.propagate, app.log.handlers = True, []  # one JSON handler, at the root
JSON = "application/json"


# ---- plumbing -------------------------------------------------------------

def _error(status: int, code: str, message: str, details=None, headers=None) -> Response:
    return Response({"error": {"code": code, "message": message, "details": details or []}},
                    status_code=status, headers={"Content-Type": JSON, **(headers or {})})


@app.middleware("http")
def secure_headers(event, get_response):
    """Customers' words come back in answers: never let a browser sniff them into HTML."""
    response = get_response(event)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not isinstance(response.body, (str, bytes)) and "content-type" not in map(str.lower, response.headers):
        response.headers["Content-Type"] = JSON     # said, not left to the gateway's default
    return response


MAX_PATH_ID = 200  # our ids are ULIDs and short names; DynamoDB refuses keys over 2 KB with a 500-worthy error


def _no_oversized_ids(params) -> None:
    for name, value in (params or {}).items():
        if len(value) > MAX_PATH_ID:
            raise NotFound(f"no {name.removesuffix('_id').replace('_', ' ')} with an id that long")


@app.middleware("http")
def json_errors(event, get_response):
    """Every error leaves as {"error": {...}}, including Chalice's own (415, 405)."""
    try:
        _no_oversized_ids(event.uri_params)
        response = get_response(event)
    except ApiError as exc:
        return _error(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except Exception:  # noqa: BLE001 - the last line of defence; details go to the log only
        app.log.exception("unhandled error", extra={"path": app.current_request.context.get("resourcePath")})
        return _error(500, "internal", "something went wrong on our side; try again")
    body = response.body
    if response.status_code == 415 and app.current_request is not None:  # refused before our views: keep it
        request = app.current_request
        ingest.reject(request.context.get("resourcePath", "?"), "unsupported media type", dict(request.headers),
                      (request.raw_body or b"")[:ingest.MAX_KEPT_BODY], replayable=False)
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = {415: "unsupported_media_type", 405: "method_not_allowed",
                500: "internal"}.get(response.status_code, "bad_request")
        kept = {k: v for k, v in response.headers.items() if k.lower() == "allow"}  # RFC 9110: a 405 lists them
        return _error(response.status_code, code, body.get("Message", ""), headers=kept)
    return response


def raw_request(limit: int | None = None) -> RawRequest:
    """The request as the channels read it; over the route's body limit, 413 (provider webhooks by default)."""
    r = app.current_request
    body = r.raw_body or b""
    limit = settings.max_body_bytes if limit is None else limit
    if len(body) > limit:
        ingest.reject(r.context.get("resourcePath", "?"), "payload too large", dict(r.headers), body, replayable=False)
        raise PayloadTooLarge(f"body over {limit} bytes", [{"limit_bytes": limit}])
    return RawRequest(r.method, r.context.get("resourcePath", ""), dict(r.headers), body,
                      dict(r.query_params or {}))


def json_body(schema: str) -> dict:
    request = raw_request(settings.max_api_body_bytes)
    if not (request.header("content-type") or "").lower().startswith(JSON):   # media types ignore case
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


@app.route("/openapi.json")
def openapi_document():
    return openapi.document()


# ---- pages: the agent console and the customer chat (static, strict CSP) ---

@app.route("/console")
def console_page():
    return Response(*web.page("console"))


@app.route("/chat")
def chat_page():
    return Response(*web.page("chat"))


@app.route("/assets/{name}")
def page_asset(name):
    return Response(*web.asset(name))


# ---- customer pages (public HTML) ----------------------------------------

def _client() -> str:
    return app.current_request.context.get("identity", {}).get("sourceIp", "unknown")


def _html(render) -> Response:
    """An HTML page, or the error as an HTML page with the same status (the customer is in a browser)."""
    try:
        page = render()
    except ApiError as exc:
        page = pages.error(exc.status, exc.message)
        return Response(page.html, status_code=page.status, headers={**pages.HEADERS, **exc.headers})
    return Response(page.html, status_code=page.status, headers=pages.HEADERS)


@app.route("/help", methods=["GET"])
def help_form():
    return _html(helpdesk.form)


@app.route("/help", methods=["POST"], content_types=[web_form.FORM, web_form.MULTIPART])
def help_submit():
    return _html(lambda: helpdesk.submit(raw_request(), _client()))


@app.route("/help/status", methods=["GET"])
def help_status():
    return _html(lambda: helpdesk.status((app.current_request.query_params or {}).get("token")))


@app.route("/help/status", methods=["POST"], content_types=[web_form.FORM, web_form.MULTIPART])
def help_add_message():
    return _html(lambda: helpdesk.add_message(raw_request()))


# ---- inbound channels -----------------------------------------------------

@app.route("/channels/twilio/sms", methods=["POST"], content_types=[twilio_sms.FORM])
def twilio_inbound():
    intake.receive(sources.TWILIO_SMS, raw_request())
    return Response(twilio_sms.acknowledge(), headers={"Content-Type": "text/xml"})


@app.route("/channels/twilio/status", methods=["POST"], content_types=[twilio_sms.FORM])
def twilio_status():
    intake.receive(sources.TWILIO_STATUS, raw_request())
    return Response("", status_code=204)


@app.route("/channels/twilio/voice", methods=["POST"], content_types=[twilio_sms.FORM])
def twilio_voice_call():
    return Response(voice.answer_call(raw_request()), headers={"Content-Type": "text/xml"})


@app.route("/channels/twilio/voice/recording", methods=["POST"], content_types=[twilio_sms.FORM])
def twilio_voice_recording():
    return Response(voice.recording(raw_request()), headers={"Content-Type": "text/xml"})


@app.route("/channels/twilio/voice/transcription", methods=["POST"], content_types=[twilio_sms.FORM])
def twilio_voice_transcription():
    return Response(voice.transcription(raw_request()), headers={"Content-Type": "text/xml"})


@app.route("/channels/email/inbound", methods=["POST"], content_types=[RFC822])
def email_inbound():
    receipt = intake.receive(sources.EMAIL, raw_request(settings.max_mail_bytes))
    return Response({"accepted": True, "duplicate": not receipt.stored}, status_code=202 if receipt.stored else 200)


@app.route("/channels/meta", methods=["GET"])
def meta_handshake():
    challenge = channels.for_provider("meta").handshake(app.current_request.query_params or {}, settings)
    return Response(challenge, headers={"Content-Type": "text/plain"})


@app.route("/channels/meta", methods=["POST"], content_types=[JSON])
def meta_inbound():
    intake.receive(sources.META, raw_request())
    return Response("EVENT_RECEIVED", headers={"Content-Type": "text/plain"})


@app.route("/channels/x", methods=["GET"])
def x_crc():
    return channels.for_provider("x").crc_response((app.current_request.query_params or {}).get("crc_token"), settings)


@app.route("/channels/x", methods=["POST"], content_types=[JSON])
def x_inbound():
    intake.receive(sources.X, raw_request())
    return Response("", status_code=200)


@app.route("/channels/telegram", methods=["POST"], content_types=[JSON])
def telegram_inbound():
    intake.receive(sources.TELEGRAM, raw_request())
    return {}


@app.route("/channels/chat/sessions", methods=["POST"], content_types=[JSON])
def chat_session():
    body = json_body("chat_session")
    client = app.current_request.context.get("identity", {}).get("sourceIp", "unknown")
    return Response(chat.start(body["name"], body.get("email"), client), status_code=201)


@app.route("/channels/chat/messages", methods=["POST"], content_types=[JSON])
def chat_message():
    session = channels.for_provider("chat").verify(raw_request(settings.max_api_body_bytes), settings)
    body = json_body("chat_message")
    answer = chat.post(session, body["text"], body.get("client_id"))
    return Response(answer, status_code=200 if answer["duplicate"] else 202)


@app.route("/channels/chat/messages", methods=["GET"])
def chat_poll():
    session = channels.for_provider("chat").verify(raw_request(), settings)
    return chat.conversation(session, (app.current_request.query_params or {}).get("after"))


@app.route("/channels/chat/feedback", methods=["POST"], content_types=[JSON])
def chat_feedback():
    session = channels.for_provider("chat").verify(raw_request(), settings)
    body = json_body("chat_feedback")
    answer = chat.rate(session, body["stage"], body["rating"], body.get("comment"), body.get("client_id"))
    return Response(answer, status_code=200 if answer["duplicate"] else 202)


@app.route("/integrations/events", methods=["POST"], content_types=[JSON])
def integration_event():
    receipt = intake.receive(sources.INTEGRATIONS, raw_request())
    return Response({"accepted": True, "duplicate": not receipt.stored}, status_code=202 if receipt.stored else 200)


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
    return Response(tickets.reply(actor(), ticket_id, body.get("text"), body.get("status", "pending"),
                                  body.get("canned_response_id")), status_code=201)


@app.route("/tickets/{ticket_id}/canned-responses", authorizer=agent_token)
def ticket_canned_responses(ticket_id):
    return tickets.canned_responses(actor(), ticket_id)


@app.route("/tickets/{ticket_id}/accept", methods=["POST"], authorizer=agent_token)
def accept(ticket_id):
    return tickets.accept(actor(), ticket_id)


@app.route("/tickets/{ticket_id}/release", methods=["POST"], authorizer=agent_token)
def release(ticket_id):
    return tickets.release(actor(), ticket_id)


@app.route("/tickets/{ticket_id}/transfer", methods=["POST"], content_types=[JSON], authorizer=agent_token)
def transfer(ticket_id):
    body = json_body("transfer")
    return tickets.transfer(actor(), ticket_id, body.get("queue"), body.get("agent"))


@app.route("/tickets/{ticket_id}/resolve", methods=["POST"], authorizer=agent_token)
def resolve(ticket_id):
    return tickets.resolve(actor(), ticket_id)


@app.route("/tickets/{ticket_id}/feedback", methods=["POST"], content_types=[JSON], authorizer=agent_token)
def feedback(ticket_id):
    body = json_body("feedback")
    return tickets.feedback(actor(), ticket_id, body["emotion"], body.get("note"))


@app.route("/agents/me/duty", methods=["PUT"], content_types=[JSON], authorizer=agent_token)
def duty():
    return agents.set_duty(actor(), json_body("duty")["on_duty"])


@app.route("/agents/{agent_id}/tickets", authorizer=agent_token)
def agent_tickets(agent_id):
    params = app.current_request.query_params or {}
    return worklist.tickets(actor(), agent_id, params.get("state"), params.get("cursor"))


@app.route("/customers/{customer_id}", authorizer=agent_token)
def customer(customer_id):
    return tickets.customer_view(actor(), customer_id)


# ---- web chat over WebSockets (deployed stages; polling works everywhere) --

@app.on_ws_connect()
def chat_connect(event):
    token = (event.to_dict().get("queryStringParameters") or {}).get("token")
    return {"statusCode": 200} if chat.connect(event.connection_id, token) else {"statusCode": 401}


@app.on_ws_message()
def chat_ws_message(event):
    """A customer may also type over the socket: {"token", "text", "client_id"?}."""
    body = event.json_body or {}
    text = str(body.get("text") or "").strip()[:4000]
    if not text:
        return
    request = RawRequest("POST", "", {"Authorization": f"Bearer {body.get('token', '')}"}, b"")
    chat.post(channels.for_provider("chat").verify(request, settings), text, body.get("client_id"))


@app.on_ws_disconnect()
def chat_disconnect(event):
    chat.disconnect(event.connection_id)


# ---- supervisors ----------------------------------------------------------

def supervisor() -> agents.Actor:
    who = actor()
    if not who.is_supervisor:
        raise Forbidden("supervisors only")
    return who


@app.route("/admin/dead-letters", authorizer=agent_token)
def dead_letters():
    supervisor()
    params = app.current_request.query_params or {}
    return replay.listing(params.get("day"), params.get("cursor"))


@app.route("/admin/dead-letters/{letter_id}/replay", methods=["POST"], authorizer=agent_token)
def replay_dead_letter(letter_id):
    supervisor()
    return replay.replay(letter_id)


@app.route("/admin/jet-config", authorizer=agent_token)
def jet_config():
    supervisor()
    return jetconfig.read()


@app.route("/admin/jet-config", methods=["PUT"], content_types=[JSON], authorizer=agent_token)
def save_jet_config():
    who = supervisor()
    config = json_body("jet_config")
    return jetconfig.save(who.id, config, expected_version=config.get("version"))


@app.route("/admin/jet-config/what-if", methods=["POST"], content_types=[JSON], authorizer=agent_token)
def jet_what_if():
    who = supervisor()
    return whatif.compare(list(who.queues), json_body("jet_config"))


@app.route("/admin/webhooks", authorizer=agent_token)
def list_webhooks():
    supervisor()
    return webhooks.listing()


@app.route("/admin/webhooks", methods=["POST"], content_types=[JSON], authorizer=agent_token)
def subscribe_webhook():
    who = supervisor()
    body = json_body("webhook_subscription")
    return Response(webhooks.subscribe(who.id, body["url"], body["events"]), status_code=201)


@app.route("/admin/webhooks/{subscription_id}", methods=["DELETE"], authorizer=agent_token)
def unsubscribe_webhook(subscription_id):
    webhooks.unsubscribe(supervisor().id, subscription_id)
    return Response("", status_code=204)


@app.route("/admin/reports/deflection", authorizer=agent_token)
def deflection_report():
    supervisor()
    params = app.current_request.query_params or {}
    return deflection.report(bot.intents(), params.get("from"), params.get("to"))


@app.route("/admin/canned-responses", authorizer=agent_token)
def list_canned_responses():
    supervisor()
    return canned.listing((app.current_request.query_params or {}).get("cursor"))


@app.route("/admin/canned-responses", methods=["POST"], content_types=[JSON], authorizer=agent_token)
def create_canned_response():
    who = supervisor()
    return Response(canned.create(who.id, json_body("canned_response")), status_code=201)


@app.route("/admin/canned-responses/{canned_id}", methods=["PUT"], content_types=[JSON], authorizer=agent_token)
def update_canned_response(canned_id):
    who = supervisor()
    return canned.update(who.id, canned_id, json_body("canned_response_update"))


@app.route("/admin/canned-responses/{canned_id}", methods=["DELETE"], authorizer=agent_token)
def delete_canned_response(canned_id):
    supervisor()
    canned.delete(canned_id)
    return Response("", status_code=204)


# ---- local stage only -----------------------------------------------------

if settings.is_local:
    @app.route("/local/sent")
    def local_sent():
        return providers.http().get(settings.sink_url + "/sent", timeout=5).json()

    @app.route("/local/agents")
    def local_agents():
        """The seeded agents, for the console's sign-in picker."""
        from infra.local import demo  # the local stack's own seed data (never in a deployed package)
        return {"items": [{"id": agent_id, "name": a["name"], "role": a["role"], "queues": a["queues"]}
                          for agent_id, a in demo.AGENTS.items()], "next": None}

    @app.route("/local/agents/{agent_id}/token", methods=["POST"])
    def local_agent_token(agent_id):
        """A bearer token for a stored agent, minted as `make token AGENT=…` does."""
        return {"token": agents.local_token(settings, agent_id)}


# ---- async path -----------------------------------------------------------

@app.on_dynamodb_record(stream_arn=settings.stream_arn("inbound"), batch_size=10, starting_position="TRIM_HORIZON")
def handle_inbound(event):
    for record in event:
        if record.event_name == "INSERT":
            conversations.process(models.InboundMessage.from_raw_data(record.new_image))


@app.on_dynamodb_record(stream_arn=settings.stream_arn("outbox"), batch_size=25, starting_position="TRIM_HORIZON")
def handle_outbox(event):
    """Intents in stream order; the first that fails is reported with every record after it
    (ReportBatchItemFailures), so Lambda retries from there and not the ones already delivered."""
    for record in event:
        if record.event_name != "INSERT":
            continue
        try:
            notifier.deliver(models.Outbox.from_raw_data(record.new_image))
        except Exception as exc:  # noqa: BLE001 - reported to Lambda, which retries from this record
            app.log.warning("outbox record failed; retried from here", extra={"error": type(exc).__name__})
            return {"batchItemFailures": [{"itemIdentifier": record.sequence_number}]}
    return {"batchItemFailures": []}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_timers(event):
    """Expired leases back to their queue, SLA breaches escalated, scores aged."""
    context = event.context   # None from the local pump: no timeout to keep within
    sweep.run(seconds_left=(lambda: context.get_remaining_time_in_millis() / 1000) if context else None)


@app.on_sns_message(topic=settings.inbound_mail_topic)
def handle_inbound_mail(event):
    mail.receive_ses(json.loads(event.message))


@app.on_sqs_message(queue=settings.notify_retry_queue, batch_size=1)
def handle_notify_retry(event):
    for record in event:
        body = json.loads(record.body)
        receives = int(record.to_dict().get("attributes", {}).get("ApproximateReceiveCount", 1))
        notifier.retry(body, receives)


@app.on_sqs_message(queue=settings.stream_failures_queue, batch_size=1)
def handle_stream_failure(event):
    """A stream batch Lambda gave up on (its on-failure destination holds only where it is in the
    stream): its records read back, tried once more, and what still fails kept as a dead letter."""
    handlers = {settings.table_name("inbound"): handle_inbound, settings.table_name("outbox"): handle_outbox}
    for record in event:
        receives = int(record.to_dict().get("attributes", {}).get("ApproximateReceiveCount", 1))
        # handed over again (the run before died, or ran out of time on a record): kept, not tried again
        stream_failures.keep(record.body, handlers, try_again=receives == 1)
