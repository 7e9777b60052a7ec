"""Integrators subscribe to ticket events; each delivery is signed with their own secret."""
import dataclasses
import json

import pytest
from standardwebhooks import Webhook

from chalicelib import settings as settings_module
from chalicelib.errors import Unprocessable
from chalicelib.services import webhooks

from .conftest import bearer, sms

JSON = {"Content-Type": "application/json"}


def subscribe(stack, http, url, events, agent="sam"):
    return http.post("/admin/webhooks", headers={**bearer(stack.settings, agent), **JSON},
                     body=json.dumps({"url": url, "events": events}))


def test_a_subscriber_gets_the_events_it_chose_signed_with_its_secret(stack, http):
    created = subscribe(stack, http, stack.sink.url + "/webhooks/crm", ["ticket.created", "ticket.assigned"])
    assert created.status_code == 201 and created.json_body["secret"].startswith("whsec_")
    secret = created.json_body["secret"]
    listed = http.get("/admin/webhooks", headers=bearer(stack.settings, "sam")).json_body["items"]
    assert [s["url"] for s in listed] == [stack.sink.url + "/webhooks/crm"] and "secret" not in listed[0]
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    stack.pump.drain()
    http.post("/queues/general/claim", headers=bearer(stack.settings, "bob"))
    stack.pump.drain()
    crm = [r for r in stack.sent("webhook") if r["url"].endswith("/webhooks/crm")]
    assert sorted(r["body"]["type"] for r in crm) == ["ticket.assigned", "ticket.created"]
    for record in crm:
        body = json.dumps(record["body"], separators=(",", ":"))
        assert Webhook(secret).verify(body, record["headers"])["data"]["ticket_id"]


def test_unsubscribing_stops_deliveries_and_only_supervisors_manage_subscriptions(stack, http):
    assert subscribe(stack, http, stack.sink.url + "/webhooks/x", ["ticket.created"], agent="bob").status_code == 403
    sid = subscribe(stack, http, stack.sink.url + "/webhooks/x", ["ticket.created"]).json_body["id"]
    assert http.delete(f"/admin/webhooks/{sid}", headers=bearer(stack.settings, "sam")).status_code == 204
    sms(stack, http, "SM" + "2" * 32, "Where is my bag?")
    stack.pump.drain()
    assert not [r for r in stack.sent("webhook") if r["url"].endswith("/webhooks/x")]


@pytest.mark.parametrize("url", ["http://example.com/hook", "https://127.0.0.1/hook", "https://10.0.0.8/hook",
                                 "https://169.254.169.254/latest/meta-data", "https://localhost/hook"])
def test_outside_the_local_stage_private_and_plain_http_urls_are_refused(stack, monkeypatch, url):
    monkeypatch.setattr(settings_module, "_settings", dataclasses.replace(stack.settings, stage="prod"))
    with pytest.raises(Unprocessable):
        webhooks.check_url(url)


def test_a_delivery_checks_the_address_again_and_never_follows_a_redirect(stack, monkeypatch):
    from types import SimpleNamespace

    from chalicelib.services import notifier, providers
    posted = []
    session = SimpleNamespace(post=lambda url, **kw: posted.append((url, kw)) or SimpleNamespace(status_code=204))
    monkeypatch.setattr(providers, "http", lambda: session)
    secret = "whsec_" + "A" * 43 + "="
    monkeypatch.setattr(webhooks, "target", lambda _id: {"url": "https://10.0.0.8/hook", "secret": secret})
    monkeypatch.setattr(settings_module, "_settings", dataclasses.replace(stack.settings, stage="prod"))
    with pytest.raises(notifier.PermanentFailure, match="non-public"):
        notifier._post_webhook("msg_1", "ticket.created", {"ticket_id": "t"}, "wh_1")
    assert posted == []
    monkeypatch.setattr(settings_module, "_settings", stack.settings)  # local: any address, still no redirects
    notifier._post_webhook("msg_2", "ticket.created", {"ticket_id": "t"}, "wh_1")
    assert posted[0][0] == "https://10.0.0.8/hook" and posted[0][1]["allow_redirects"] is False
