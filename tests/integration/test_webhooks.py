"""Integrators subscribe to ticket events; each delivery is signed with their own secret."""
import dataclasses
import json
import threading
from types import SimpleNamespace

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


@pytest.mark.parametrize("stage", ["prod", "local"])
@pytest.mark.parametrize("port", ["99999", "0", "-1", "https"])
def test_a_url_with_a_port_out_of_range_is_refused_with_422_on_every_stage(stack, http, monkeypatch, stage, port):
    monkeypatch.setattr(settings_module, "_settings", dataclasses.replace(stack.settings, stage=stage))
    answer = subscribe(stack, http, f"https://example.com:{port}/hook", ["ticket.created"])
    assert answer.status_code == 422 and "port" in answer.json_body["error"]["message"]


def test_a_delivery_checks_the_address_again_and_never_follows_a_redirect(stack, monkeypatch):
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


def test_a_delivery_connects_to_the_address_it_checked_even_if_the_name_resolves_elsewhere_next(stack, monkeypatch):
    import socket

    import urllib3
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))],
                    [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))]])
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *a, **kw: next(answers))
    pools = []

    class Pool:
        def __init__(self, host, port, **kw):
            pools.append((host, port, kw))

        def urlopen(self, method, path, **kw):
            pools.append((method, path, kw["headers"]["Host"], kw["redirect"]))
            return SimpleNamespace(status=204)

        def close(self):
            pass

    monkeypatch.setattr(urllib3, "HTTPSConnectionPool", Pool)
    monkeypatch.setattr(settings_module, "_settings", dataclasses.replace(stack.settings, stage="prod"))
    assert webhooks.post("https://hooks.example.com/in?k=1", b"{}", {}) == 204
    (host, port, options), sent = pools
    assert (host, port) == ("93.184.216.34", 443)
    assert options["server_hostname"] == options["assert_hostname"] == "hooks.example.com"
    assert sent == ("POST", "/in?k=1", "hooks.example.com", False)


@pytest.fixture
def tls_hook(tmp_path):
    """An HTTPS subscriber on loopback whose certificate names hooks.example.com, from a throwaway CA."""
    import http.server
    import ssl
    import threading

    import trustme
    ca = trustme.CA()
    seen = {}

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.update(path=self.path, host=self.headers["Host"],
                        body=self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    def serve(name):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(context)
        context.sni_callback = lambda sock, server_name, ctx: seen.update(sni=server_name)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    servers = []
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    yield SimpleNamespace(serve=serve, seen=seen, ca=str(tmp_path / "ca.pem"))
    for server in servers:
        server.shutdown()
        server.server_close()


def pinned_to_loopback(stack, monkeypatch, ca):
    """As if the subscriber's name had resolved to a checked public address that is the test's server."""
    import certifi
    monkeypatch.setattr(settings_module, "_settings", dataclasses.replace(stack.settings, stage="prod"))
    monkeypatch.setattr(webhooks, "check_url", lambda url: "127.0.0.1")
    monkeypatch.setattr(certifi, "where", lambda: ca)


def test_a_pinned_delivery_keeps_the_subscribers_name_for_tls_and_the_host_header(stack, monkeypatch, tls_hook):
    port = tls_hook.serve("hooks.example.com")
    pinned_to_loopback(stack, monkeypatch, tls_hook.ca)
    json_header = {"content-type": "application/json"}
    assert webhooks.post(f"https://hooks.example.com:{port}/in", b'{"a":1}', json_header) == 204
    assert tls_hook.seen == {"sni": "hooks.example.com", "path": "/in", "host": f"hooks.example.com:{port}",
                             "body": b'{"a":1}'}


def test_a_pinned_delivery_refuses_a_certificate_for_another_name(stack, monkeypatch, tls_hook):
    import urllib3
    port = tls_hook.serve("elsewhere.example.com")
    pinned_to_loopback(stack, monkeypatch, tls_hook.ca)
    with pytest.raises(urllib3.exceptions.SSLError):
        webhooks.post(f"https://hooks.example.com:{port}/in", b"{}", {})
    assert "path" not in tls_hook.seen


def test_an_agents_reply_on_an_api_ticket_reaches_every_integration_that_takes_ticket_reply(stack, http, monkeypatch):
    import dataclasses

    from chalicelib import settings as settings_module
    from chalicelib.storage.models import Message, Ticket
    from tests.conftest import event
    from tests.helpers import jetdesk_signed
    monkeypatch.setattr(settings_module, "_settings", dataclasses.replace(stack.settings, integration_webhook_url=""))
    sam = {**bearer(stack.settings, "sam"), "Content-Type": "application/json"}
    crm = stack.sink.url + "/webhooks/crm"
    http.post("/admin/webhooks", headers=sam, body=json.dumps({"url": crm, "events": ["ticket.reply"]}))
    body, headers = jetdesk_signed(stack.settings, event("integration/ticket_create.json"))
    http.post("/integrations/events", headers=headers, body=body)
    stack.pump.drain()
    [ticket] = Ticket.scan()
    http.post(f"/tickets/{ticket.id}/replies", headers=sam, body=json.dumps({"text": "We refunded the return leg."}))
    stack.pump.drain()
    [delivered] = [r["body"] for r in stack.sent("webhook") if r["url"] == crm]
    assert delivered["type"] == "ticket.reply" and delivered["data"]["text"] == "We refunded the return leg."
    reply = next(m for m in Message.query(ticket.id) if m.author == "sam")
    assert reply.delivery_status == "sent"

    http.delete(f"/admin/webhooks/{http.get('/admin/webhooks', headers=sam).json_body['items'][0]['id']}",
                headers=sam)   # nobody takes ticket.reply any more: the next reply cannot reach the customer
    http.post(f"/tickets/{ticket.id}/replies", headers=sam, body=json.dumps({"text": "Anything else?"}))
    stack.pump.drain()
    unsent = next(m for m in Message.query(ticket.id) if m.text == "Anything else?")
    assert unsent.delivery_status == "failed" and "ticket.reply" in unsent.failure_reason


def _reads_first_then_writes(monkeypatch, names):
    """The threads named each read the subscriptions once before any of them writes."""
    from chalicelib.storage.models import Setting
    real_get, all_read, waited = Setting.get, threading.Barrier(len(names), timeout=10), set()

    def get(*args, **kwargs):
        try:
            return real_get(*args, **kwargs)
        finally:
            name = threading.current_thread().name
            if name in names and name not in waited:
                waited.add(name)
                all_read.wait()
    monkeypatch.setattr(Setting, "get", get)


def _run_together(*calls):
    failures = []

    def run(call):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)
    threads = [threading.Thread(target=run, args=(call,), name=name) for name, call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_two_supervisors_subscribing_at_the_same_moment_both_keep_their_subscription(stack, monkeypatch):
    answers = {}
    _reads_first_then_writes(monkeypatch, {"alice-crm", "bob-crm"})
    _run_together(*[(name, lambda name=name: answers.update({name: webhooks.subscribe(
        "sam", stack.sink.url + f"/webhooks/{name}", ["ticket.created"])})) for name in ("alice-crm", "bob-crm")])
    monkeypatch.undo()
    assert {s["id"] for s in webhooks.listing()["items"]} == {a["id"] for a in answers.values()}


def test_an_unsubscribe_racing_a_subscribe_stays_unsubscribed(stack, monkeypatch):
    from chalicelib.storage.models import Setting
    revoked = webhooks.subscribe("sam", stack.sink.url + "/webhooks/old", ["ticket.created"])
    _reads_first_then_writes(monkeypatch, {"unsubscribe", "subscribe"})
    real_save, unsubscribed = Setting.save, threading.Event()

    def save(self, *args, **kwargs):
        if threading.current_thread().name == "subscribe":
            unsubscribed.wait(10)  # the subscriber's write lands just after the unsubscribe's
        try:
            return real_save(self, *args, **kwargs)
        finally:
            if threading.current_thread().name == "unsubscribe":
                unsubscribed.set()
    monkeypatch.setattr(Setting, "save", save)
    new = {}
    _run_together(("unsubscribe", lambda: webhooks.unsubscribe("sam", revoked["id"])),
                  ("subscribe", lambda: new.update(webhooks.subscribe("ann", stack.sink.url + "/webhooks/new",
                                                                      ["ticket.created"]))))
    monkeypatch.undo()
    assert {s["id"] for s in webhooks.listing()["items"]} == {new["id"]}


def test_a_subscription_that_keeps_conflicting_answers_409_and_stores_nothing(stack, http, monkeypatch):
    from chalicelib.storage.models import Setting
    first = subscribe(stack, http, stack.sink.url + "/webhooks/a", ["ticket.created"]).json_body
    stale = Setting.get(webhooks.KEY, consistent_read=True)
    second = subscribe(stack, http, stack.sink.url + "/webhooks/b", ["ticket.created"]).json_body
    monkeypatch.setattr(Setting, "get", lambda *args, **kwargs: stale)  # every read is one write behind
    answer = subscribe(stack, http, stack.sink.url + "/webhooks/c", ["ticket.created"])
    assert answer.status_code == 409 and answer.json_body["error"]["code"] == "conflict"
    monkeypatch.undo()
    assert [s["id"] for s in webhooks.listing()["items"]] == [first["id"], second["id"]]


def test_subscriptions_saved_before_revisions_were_kept_still_change(stack):
    from chalicelib import clock
    from chalicelib.storage.models import Setting
    old = {"id": "wh_old", "url": stack.sink.url + "/webhooks/old", "events": ["ticket.created"], "secret": "s"}
    Setting(webhooks.KEY, value={"subscriptions": [old]}, updated_by="sam", updated_at=clock.now()).save()
    new = webhooks.subscribe("sam", stack.sink.url + "/webhooks/new", ["ticket.created"])
    webhooks.unsubscribe("sam", "wh_old")
    assert [s["id"] for s in webhooks.listing()["items"]] == [new["id"]]
