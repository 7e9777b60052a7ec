"""SMS in → ticket scored and queued → claim → reply → recorded by the Twilio sink, over HTTP."""
from __future__ import annotations

import uuid

import requests
from twilio.request_validator import RequestValidator

from infra.local.stage import stage_environment
from tests.conftest import event

from .conftest import eventually, start_stack

SECRETS = stage_environment("local")


def send_sms(base_url: str, sender: str, text: str) -> requests.Response:
    sid = "SM" + uuid.uuid4().hex
    params = {**event("twilio/sms_inbound.json"), "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid,
              "From": sender, "Body": text}
    url = base_url + "/channels/twilio/sms"
    signature = RequestValidator(SECRETS["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def test_an_sms_becomes_a_ticket_an_agent_claims_and_answers(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("alice")}
    while requests.post(base + "/queues/disruption/claim", headers=auth, timeout=10).status_code == 200:
        pass  # other tests' tickets out of the way: the next claim must be this one
    answer = send_sms(base, "+14155550123", "My flight was cancelled and nobody is helping. Terrible!")
    assert answer.status_code == 200 and "<Response" in answer.text

    def queued():
        items = requests.get(base + "/queues/disruption/tickets", headers=auth, timeout=10).json()["items"]
        return items[0] if items else None
    ticket = eventually(queued)
    assert ticket["jet"]["tier"] in ("P1", "P2", "P3", "P4") and len(ticket["jet"]["indicators"]) == 6

    claim = requests.post(base + "/queues/disruption/claim", headers=auth, timeout=10)
    assert claim.status_code == 200 and claim.json()["id"] == ticket["id"] and claim.json()["lease"]["expires_at"]

    reply = requests.post(base + f"/tickets/{ticket['id']}/replies", headers=auth, timeout=10,
                          json={"text": "I am so sorry. You are rebooked on AF125 tonight."})
    assert reply.status_code == 201

    def handed_over():
        messages = requests.get(base + f"/tickets/{ticket['id']}", headers=auth, timeout=10).json()["messages"]
        return messages[-1] if messages[-1]["delivery_status"] == "queued" else None
    delivered = eventually(handed_over)
    sent = requests.get(base + "/local/sent", timeout=10).json()["items"]
    twilio = [s for s in sent if s["provider"] == "twilio" and s["sid"] == delivered["provider_message_id"]]
    assert twilio[0]["body"]["Body"] == "I am so sorry. You are rebooked on AF125 tonight."
    assert twilio[0]["url"].startswith("https://api.twilio.com/2010-04-01/Accounts/")


def test_the_agent_api_refuses_missing_and_forged_tokens_with_json(local_stack):
    for headers in ({}, {"Authorization": "Bearer forged.token.here"}):
        response = requests.get(local_stack.base_url + "/queues", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_a_forged_twilio_webhook_is_refused(local_stack):
    response = requests.post(local_stack.base_url + "/channels/twilio/sms", timeout=10,
                             data={"MessageSid": "SMx", "From": "+14155550123", "Body": "hi"},
                             headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_the_stack_stops_cleanly_on_sigterm(tmp_path):
    stack = start_stack(tmp_path)
    assert stack.stop() == 0
    try:
        requests.get(stack.base_url + "/health", timeout=2)
        raise AssertionError("still answering after shutdown")
    except requests.ConnectionError:
        pass
