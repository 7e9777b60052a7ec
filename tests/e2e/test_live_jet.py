"""Live JET over HTTP: a flight cancellation moves the customer's ticket up its queue at once."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests

from chalicelib.auth.signatures import jetdesk_signature
from infra.local.stage import stage_environment

from .conftest import eventually
from .test_sms_path import send_sms

SECRET = stage_environment("local")["JETDESK_SIGNING_SECRET"]


def integration_event(base: str, payload: dict) -> requests.Response:
    body = json.dumps(payload).encode()
    return requests.post(base + "/integrations/events", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-JetDesk-Signature": jetdesk_signature(SECRET, body, int(time.time()))})


def listing(base, auth, queue):
    return requests.get(f"{base}/queues/{queue}/tickets", headers=auth, timeout=10).json()["items"]


def test_a_cancellation_raises_the_ticket_and_its_place_in_the_queue(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    rival, mine = "+1415555" + str(uuid.uuid4().int)[:4], "+1415556" + str(uuid.uuid4().int)[:4]
    send_sms(base, rival, "My suitcase is lost and I am really upset about it!")
    send_sms(base, mine, "Hello, where is my bag please?")

    def both_queued():
        found = {}
        for phone in (rival, mine):
            items = requests.get(f"{base}/tickets?contact={phone.replace('+', '%2B')}", headers=auth,
                                 timeout=10).json()["items"]
            if items:
                found[phone] = items[0]
        return found if len(found) == 2 else None
    tickets = eventually(both_queued)
    ticket, rival_ticket = tickets[mine], tickets[rival]
    assert ticket["queue"] == "general" and rival_ticket["jet"]["score"] > ticket["jet"]["score"]
    before = ticket["jet"]["score"]

    departure = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    answer = integration_event(base, {
        "id": "evt_" + uuid.uuid4().hex, "type": "journey.updated",
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "customer": {"phone": mine},
        "data": {"booking_ref": "X7K2QD", "segments": [
            {"flight": "JD123", "origin": "LIS", "destination": "CDG", "scheduled_departure": departure,
             "status": "cancelled", "delay_minutes": 0, "connection_at_risk": False}]}})
    assert answer.status_code == 202

    def moved():
        items = listing(base, auth, "disruption")
        return items if any(t["id"] == ticket["id"] and t["jet"]["score"] > before for t in items) else None
    items = eventually(moved)
    row = next(t for t in items if t["id"] == ticket["id"])
    assert row["jet"]["score"] > rival_ticket["jet"]["score"]  # it overtook the ticket that was ahead of it
    scores = [t["jet"]["score"] for t in items if not t["jet"].get("breached")]
    assert scores == sorted(scores, reverse=True)  # and sits in its new queue by score
    disruption = next(i for i in row["jet"]["indicators"] if i["key"] == "disruption")
    assert disruption["value"] == 1.0 and "JD123 is cancelled" in disruption["reason"]
    history = requests.get(f"{base}/tickets/{ticket['id']}", headers=auth, timeout=10).json()["history"]
    assert history[-1]["cause"] == "journey.updated" and history[-1]["from"] == before
