"""The OpenAPI 3.1 document, built from the JSON Schemas the app validates with."""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from .validation import SCHEMAS

FORM, JSON, RFC822 = "application/x-www-form-urlencoded", "application/json", "message/rfc822"
MULTIPART = "multipart/form-data"
AGENT, CHAT = [{"agentToken": []}], [{"chatSession": []}]

# method, path, summary, security, request (schema name or content type), success status
OPERATIONS: list[tuple[str, str, str, Any, Any, str]] = [
    ("get", "/health", "Liveness of the app and its table", [], None, "200"),
    ("get", "/openapi.json", "This document", [], None, "200"),
    ("get", "/console", "The agent console (HTML page)", [], None, "200"),
    ("get", "/chat", "The customer web-chat page (HTML page)", [], None, "200"),
    ("get", "/assets/{name}", "A script, style sheet or icon of the pages", [], None, "200"),
    ("post", "/channels/twilio/sms", "Twilio Messaging webhook (SMS, MMS, WhatsApp)", [{"twilioSignature": []}],
     FORM, "200"),
    ("post", "/channels/twilio/status", "Twilio delivery status callback", [{"twilioSignature": []}], FORM, "204"),
    ("post", "/channels/twilio/voice", "Twilio Voice call webhook: TwiML greeting; a key pressed asks for a call-back",
     [{"twilioSignature": []}], FORM, "200"),
    ("post", "/channels/twilio/voice/recording", "Twilio <Record> action and recording status callback (voicemail)",
     [{"twilioSignature": []}], FORM, "200"),
    ("post", "/channels/twilio/voice/transcription", "Twilio transcribeCallback (the voicemail's text)",
     [{"twilioSignature": []}], FORM, "200"),
    ("post", "/channels/email/inbound", "One raw RFC 822 message from a mail relay", [{"jetdeskSignature": []}],
     RFC822, "202"),
    ("get", "/channels/meta", "Meta webhook verification (hub.challenge)", [], None, "200"),
    ("post", "/channels/meta", "Messenger, Instagram and WhatsApp Cloud events", [{"metaSignature": []}], JSON, "200"),
    ("get", "/channels/x", "X Account Activity CRC check", [], None, "200"),
    ("post", "/channels/x", "X direct-message events", [{"xSignature": []}], JSON, "200"),
    ("post", "/channels/telegram", "Telegram Bot API update", [{"telegramSecret": []}], JSON, "200"),
    ("post", "/channels/chat/sessions", "Start a web-chat conversation", [], "chat_session", "201"),
    ("post", "/channels/chat/messages", "A customer's chat message", CHAT, "chat_message", "202"),
    ("get", "/channels/chat/messages", "The conversation after a cursor", CHAT, None, "200"),
    ("post", "/channels/chat/feedback", "The chat customer rates a stage of their journey (customer.feedback)",
     CHAT, "chat_feedback", "202"),
    ("post", "/integrations/events", "Integrator event (journey, booking, ticket, feedback)",
     [{"jetdeskSignature": []}], "integration_event", "202"),
    ("get", "/queues", "The agent's queues: depth, oldest wait, top score", AGENT, None, "200"),
    ("get", "/queues/{queue}/tickets", "A queue in JET order (paged)", AGENT, None, "200"),
    ("post", "/queues/{queue}/claim", "Claim the best eligible ticket under a lease (204 when none)", AGENT, None,
     "200"),
    ("get", "/tickets", "A customer's tickets by contact (?contact=)", AGENT, None, "200"),
    ("get", "/tickets/{ticket_id}", "Ticket, messages, JET banner and history", AGENT, None, "200"),
    ("post", "/tickets/{ticket_id}/replies", "Reply on the ticket's channel: a text, or a canned response as it is",
     AGENT, "reply", "201"),
    ("get", "/tickets/{ticket_id}/canned-responses",
     "The canned responses that fit the ticket best (intent and language first), filled from it", AGENT, None, "200"),
    ("post", "/tickets/{ticket_id}/accept", "Accept a claim (ends the lease)", AGENT, None, "200"),
    ("post", "/tickets/{ticket_id}/release", "Back to its queue", AGENT, None, "200"),
    ("post", "/tickets/{ticket_id}/transfer", "To a queue or an agent", AGENT, "transfer", "200"),
    ("post", "/tickets/{ticket_id}/resolve", "Resolve", AGENT, None, "200"),
    ("post", "/tickets/{ticket_id}/feedback", "Live JET: the agent's reading of the customer", AGENT, "feedback",
     "200"),
    ("put", "/agents/me/duty", "Go on or off duty (P1 and breach pages reach agents on duty)", AGENT, "duty",
     "200"),
    ("get", "/agents/{agent_id}/tickets",
     "An agent's own tickets, newest first (?state=held|resolved, paged; `me`, or anyone's for supervisors)", AGENT,
     None, "200"),
    ("get", "/customers/{customer_id}", "A customer across channels, with journey and tickets", AGENT, None, "200"),
    ("get", "/admin/dead-letters", "Refused and failed payloads of a day (supervisors)", AGENT, None, "200"),
    ("post", "/admin/dead-letters/{letter_id}/replay", "Replay a dead letter (supervisors)", AGENT, None, "200"),
    ("get", "/admin/jet-config", "The JET configuration in force (supervisors)", AGENT, None, "200"),
    ("put", "/admin/jet-config", "Save a new JET configuration version (supervisors)", AGENT, "jet_config", "200"),
    ("post", "/admin/jet-config/what-if", "Preview a configuration on the queues (supervisors)", AGENT,
     "jet_config", "200"),
    ("get", "/admin/webhooks", "Integrators' webhook subscriptions (supervisors)", AGENT, None, "200"),
    ("post", "/admin/webhooks", "Subscribe a URL to ticket events; answers the signing secret once", AGENT,
     "webhook_subscription", "201"),
    ("delete", "/admin/webhooks/{subscription_id}", "Unsubscribe", AGENT, None, "204"),
    ("get", "/admin/reports/deflection", "The bot's answers, handovers and closes per intent (?from=&to=, days; "
     "supervisors)", AGENT, None, "200"),
    ("get", "/admin/canned-responses", "Canned responses, oldest first (paged; supervisors)", AGENT, None, "200"),
    ("post", "/admin/canned-responses", "Create a canned response for an intent and language (supervisors)", AGENT,
     "canned_response", "201"),
    ("put", "/admin/canned-responses/{canned_id}", "Replace a canned response, on condition of its version "
     "(supervisors)", AGENT, "canned_response_update", "200"),
    ("delete", "/admin/canned-responses/{canned_id}", "Delete a canned response (supervisors)", AGENT, None, "204"),
    ("get", "/help", "The public help form (HTML)", [], None, "200"),
    ("post", "/help", "Open a ticket from the help form (HTML confirmation with the ref; 5 a minute per address)",
     [], ("help_form", (MULTIPART, FORM)), "200"),
    ("get", "/help/status", "The customer's ticket, state and conversation (HTML; ?token= from the email link)",
     [{"statusLink": []}], None, "200"),
    ("post", "/help/status", "The customer adds a message to their ticket (HTML)", [{"statusLink": []}],
     ("help_message", (FORM,)), "200"),
    ("get", "/local/sent", "What the local sinks recorded (local stage only)", [], None, "200"),
    ("get", "/local/agents", "The seeded agents, for the console's sign-in (local stage only)", [], None, "200"),
    ("post", "/local/agents/{agent_id}/token", "A bearer token for a seeded agent (local stage only)", [], None,
     "200"),
]

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "details"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array"}}}}}

SECURITY_SCHEMES = {
    "agentToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "Cognito (RS256) in AWS; the local HS256 issuer on the local stack"},
    "chatSession": {"type": "http", "scheme": "bearer", "description": "Token from POST /channels/chat/sessions"},
    "twilioSignature": {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature"},
    "jetdeskSignature": {"type": "apiKey", "in": "header", "name": "X-JetDesk-Signature",
                         "description": "t=<unix>,v1=<hex HMAC-SHA256(secret, t + '.' + body)>, 300 s window"},
    "metaSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature-256"},
    "xSignature": {"type": "apiKey", "in": "header", "name": "x-twitter-webhooks-signature"},
    "telegramSecret": {"type": "apiKey", "in": "header", "name": "X-Telegram-Bot-Api-Secret-Token"},
    "statusLink": {"type": "apiKey", "in": "query", "name": "token",
                   "description": "signed, expiring status-page token scoped to one ticket (a form field on POST)"},
}


def _component(name: str) -> dict[str, Any]:
    """A schema file as a component: its internal refs re-pointed inside components."""
    text = (SCHEMAS / f"{name}.json").read_text().replace('"#/$defs/', f'"#/components/schemas/{name}/$defs/')
    schema = json.loads(text)
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return schema


def _operation(summary: str, security: Any, request: Any, status: str, path: str) -> dict[str, Any]:
    error = {"description": "error", "content": {JSON: {"schema": {"$ref": "#/components/schemas/error"}}}}
    op: dict[str, Any] = {"summary": summary, "security": security,
                          "responses": {status: {"description": "success"}, "default": error}}
    params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
    if request in (FORM, RFC822, JSON):
        op["requestBody"] = {"required": True, "content": {request: {"schema": {}}}}
    elif isinstance(request, tuple):   # a form: its fields' schema, under each content type it may come as
        schema = {"$ref": f"#/components/schemas/{request[0]}"}
        op["requestBody"] = {"required": True, "content": {ct: {"schema": schema} for ct in request[1]}}
    elif request:
        op["requestBody"] = {"required": True,
                             "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{request}"}}}}
    return op


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    paths: dict[str, dict] = {}
    for method, path, summary, security, request, status in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(summary, security, request, status, path)
    schemas = {p.stem: _component(p.stem) for p in sorted(SCHEMAS.glob("*.json"))}
    return {"openapi": "3.1.0",
            "info": {"title": "JetDesk", "version": "1.0.0",
                     "description": "Multi-channel support tickets with JET priority."},
            "paths": paths,
            "components": {"schemas": {**schemas, "error": copy.deepcopy(ERROR)},
                           "securitySchemes": SECURITY_SCHEMES}}
