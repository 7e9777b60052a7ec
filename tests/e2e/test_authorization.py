"""Who may call what, over HTTP on the running stack: every agent route against every kind of caller."""
from __future__ import annotations

import re
import time
import uuid

import jwt
import pytest
import requests

from chalicelib import openapi
from infra.local.stage import stage_environment

from .conftest import eventually
from .test_sms_path import send_sms

SECRETS = stage_environment("local")
AGENT_ROUTES = [("GET", "/queues"), ("GET", "/queues/disruption/tickets"), ("POST", "/queues/disruption/claim"),
                ("GET", "/tickets?contact=%2B14155550100"), ("GET", "/tickets/{t}"), ("POST", "/tickets/{t}/replies"),
                ("POST", "/tickets/{t}/accept"), ("POST", "/tickets/{t}/release"), ("POST", "/tickets/{t}/transfer"),
                ("POST", "/tickets/{t}/resolve"), ("POST", "/tickets/{t}/feedback"), ("GET", "/customers/{c}"),
                ("GET", "/tickets/{t}/canned-responses"), ("PUT", "/agents/me/duty"),
                ("GET", "/agents/alice/tickets"),
                ("GET", "/admin/dead-letters"), ("GET", "/admin/jet-config"), ("GET", "/admin/webhooks"),
                ("GET", "/admin/canned-responses"), ("GET", "/admin/reports/deflection"),
                # function level: every supervisor action, with bodies a supervisor gets 404/422 for (no side effect)
                ("PUT", "/admin/jet-config"), ("POST", "/admin/jet-config/what-if"), ("POST", "/admin/webhooks"),
                ("DELETE", "/admin/webhooks/wh_none"), ("POST", "/admin/dead-letters/none/replay"),
                ("POST", "/admin/canned-responses"), ("PUT", "/admin/canned-responses/none"),
                ("DELETE", "/admin/canned-responses/none")]
# an agent's own personal slot (tickets offered to them as their customers' agent): theirs alone, by that name
OWN_ROUTES = [("GET", "/queues/mine/tickets"), ("POST", "/queues/mine/claim"), ("GET", "/agents/me/tickets")]
SOMEONE_ELSES = [("GET", "/queues/agent:alice/tickets"), ("POST", "/queues/agent:alice/claim")]
BODIES = {"replies": {"text": "hi"}, "transfer": {"queue": "general"}, "feedback": {"emotion": "calm"},
          "jet-config": {}, "what-if": {}, "webhooks": {}, "canned-responses": {}, "none": {},
          "duty": {}}   # 422 for any agent: nobody goes off duty here


def test_the_matrix_covers_every_route_that_takes_an_agent_token():
    """A new agent route fails here until it is in the matrix (the routes come from the published document)."""
    def template_of(path):
        bare = path.split("?")[0]
        return next(t for t in agent_templates if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), bare))
    agent_templates = {path for _, path, _, security, _, _ in openapi.OPERATIONS if security == openapi.AGENT}
    documented = {(method.upper(), path) for method, path, _, security, _, _ in openapi.OPERATIONS
                  if security == openapi.AGENT}
    assert {(m, template_of(p)) for m, p in AGENT_ROUTES + OWN_ROUTES} == documented


def local_jwt(agent: str, **overrides) -> str:
    now = int(time.time())
    claims = {"sub": agent, "role": "agent", "iss": SECRETS["JETDESK_JWT_ISSUER"],
              "aud": SECRETS["JETDESK_JWT_AUDIENCE"], "iat": now, "exp": now + 600, **overrides}
    return jwt.encode(claims, SECRETS["JETDESK_JWT_SECRET"], algorithm="HS256")


@pytest.fixture(scope="module")
def disruption_ticket(local_stack, token):
    phone = "+1415557" + str(uuid.uuid4().int)[:4]
    send_sms(local_stack.base_url, phone, "My flight was cancelled, please help")
    auth = {"Authorization": "Bearer " + token("sam")}

    def found():
        items = requests.get(f"{local_stack.base_url}/tickets?contact={phone.replace('+', '%2B')}", headers=auth,
                             timeout=10).json()["items"]
        return items[0] if items else None
    return eventually(found)


def call(base, method, path, ticket, headers):
    path = path.replace("{t}", ticket["id"]).replace("{c}", ticket["customer_id"])
    body = next((b for k, b in BODIES.items() if path.endswith("/" + k)), None)
    return requests.request(method, base + path, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize("caller", ["none", "garbage", "forged", "expired", "chat session"])
def test_every_agent_route_refuses_callers_without_a_valid_agent_token(local_stack, disruption_ticket, caller):
    chat = requests.post(local_stack.base_url + "/channels/chat/sessions", json={"name": "x"}, timeout=10).json()
    tokens = {"none": None, "garbage": "not-a-jwt", "chat session": chat["token"],
              "forged": jwt.encode({"sub": "sam", "role": "supervisor", "exp": 9999999999}, "guessed-secret-long-enough"
                                   "-for-hs256", algorithm="HS256"),
              "expired": local_jwt("sam", exp=int(time.time()) - 5)}
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if tokens[caller] else {}
    for method, path in AGENT_ROUTES + OWN_ROUTES + SOMEONE_ELSES:
        response = call(local_stack.base_url, method, path, disruption_ticket, headers)
        assert response.status_code == 401, (caller, method, path, response.status_code)
        assert response.json()["error"]["code"] == "unauthorized"


def test_an_agent_outside_the_queue_reaches_neither_its_tickets_nor_supervisor_routes(local_stack, disruption_ticket,
                                                                                      token):
    bob = {"Authorization": "Bearer " + token("bob")}  # general only
    anyone = {("GET", "/queues"), ("GET", "/tickets?contact=%2B14155550100"), ("PUT", "/agents/me/duty")}
    forbidden = [r for r in AGENT_ROUTES if r not in anyone]
    for method, path in forbidden:
        response = call(local_stack.base_url, method, path, disruption_ticket, bob)
        if (method, path) in OWN_ROUTES:
            assert response.status_code not in (401, 403), (method, path, response.status_code)
        else:
            assert response.status_code == 403, (method, path, response.status_code)


def test_an_agent_reaches_their_own_slot_and_nobody_reaches_anyone_elses(local_stack, disruption_ticket, token):
    for agent in ("bob", "sam"):
        auth = {"Authorization": "Bearer " + token(agent)}
        for method, path in OWN_ROUTES:
            response = call(local_stack.base_url, method, path, disruption_ticket, auth)
            assert response.status_code in (200, 204), (agent, method, path, response.status_code)
        for method, path in SOMEONE_ELSES:   # a supervisor too: the slot is the agent's own
            response = call(local_stack.base_url, method, path, disruption_ticket, auth)
            assert response.status_code == 403, (agent, method, path, response.status_code)


def test_a_supervisor_reaches_every_route(local_stack, disruption_ticket, token):
    sam = {"Authorization": "Bearer " + token("sam")}
    for method, path in AGENT_ROUTES:
        response = call(local_stack.base_url, method, path, disruption_ticket, sam)
        assert response.status_code not in (401, 403), (method, path, response.status_code)


def test_a_chat_session_sees_its_own_conversation_and_no_one_elses(local_stack):
    base = local_stack.base_url
    sessions = [requests.post(base + "/channels/chat/sessions", json={"name": n}, timeout=10).json() for n in "AB"]
    a, b = ({"Authorization": "Bearer " + s["token"]} for s in sessions)
    secret = "my booking ref is " + uuid.uuid4().hex[:6].upper()
    assert requests.post(base + "/channels/chat/messages", json={"text": secret}, headers=a, timeout=10).ok
    mine = eventually(lambda: requests.get(base + "/channels/chat/messages", headers=a, timeout=10).json()["items"])
    assert secret in [m["text"] for m in mine]
    theirs = requests.get(base + "/channels/chat/messages", headers=b, timeout=10).json()["items"]
    assert secret not in [m["text"] for m in theirs]
