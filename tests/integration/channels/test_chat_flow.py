"""Web chat: a session scoped to one conversation, messages in, agent replies polled out."""
import json

from chalicelib.services import scoring
from chalicelib.storage.models import Customer, Identity, Ticket, TicketEvent

from ..conftest import bearer
from .conftest import agent_replies, only_ticket


def start(http, **body):
    response = http.post("/channels/chat/sessions", headers={"Content-Type": "application/json"},
                         body=json.dumps({"name": "Amélie", **body}))
    assert response.status_code == 201
    return response.json_body


def say(http, session, text, client_id=None):
    body = {"text": text, **({"client_id": client_id} if client_id else {})}
    return http.post("/channels/chat/messages", body=json.dumps(body),
                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + session["token"]})


def poll(http, session, after=None):
    path = "/channels/chat/messages" + (f"?after={after}" if after else "")
    return http.get(path, headers={"Authorization": "Bearer " + session["token"]}).json_body


def test_a_chat_message_opens_a_ticket_and_the_agent_reply_is_polled(stack, http):
    session = start(http, email="amelie@example.fr")
    assert set(session) == {"token", "conversation_id", "expires_at"}
    assert say(http, session, "Mon vol est annulé, que faire ?", client_id="c1").status_code == 202
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    assert ticket.channel == "chat" and ticket.language == "fr"
    first = poll(http, session)
    assert [m["direction"] for m in first["items"]] == ["inbound"]
    agent_replies(stack, http, ticket.id, "Je vous rebooke tout de suite.")
    later = poll(http, session, after=first["next"])
    seen = {m["id"] for m in first["items"]}   # the newest messages come again for a few seconds: kept once
    assert [(m["direction"], m["text"]) for m in later["items"] if m["id"] not in seen] == [
        ("outbound", "Je vous rebooke tout de suite.")]


def test_a_message_threaded_after_a_reply_the_page_already_polled_still_reaches_it(stack, http):
    session = start(http)
    say(http, session, "my bag is lost", client_id="c1")
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    first = poll(http, session)
    say(http, session, "it is a red suitcase", client_id="c2")     # stored; the stream has not got to it yet
    headers = {**bearer(stack.settings, "sam"), "Content-Type": "application/json"}
    assert http.post(f"/tickets/{ticket.id}/replies", headers=headers,
                     body=json.dumps({"text": "We are on it"})).status_code == 201
    middle = poll(http, session, after=first["next"])
    stack.pump.drain()                                             # now the red suitcase is threaded
    last = poll(http, session, after=middle["next"])
    shown = {m["id"]: m["text"] for m in first["items"] + middle["items"] + last["items"]}
    assert sorted(shown.values()) == ["We are on it", "it is a red suitcase", "my bag is lost"]


def test_the_poll_cursor_moves_past_messages_once_they_have_settled(stack, http, monkeypatch):
    from chalicelib.services import chat
    session = start(http)
    say(http, session, "my bag is lost", client_id="c1")
    stack.pump.drain()
    assert poll(http, session)["next"] is None                    # seconds old: it will come again
    monkeypatch.setattr(chat, "SETTLE_SECONDS", 0)
    settled = poll(http, session)
    assert settled["next"] == settled["items"][-1]["id"] and poll(http, session, after=settled["next"])["items"] == []


def test_a_resent_client_id_is_one_message(stack, http):
    session = start(http)
    say(http, session, "hello there, my bag is lost", client_id="same")
    assert say(http, session, "hello there, my bag is lost", client_id="same").json_body["duplicate"] is True
    stack.pump.drain()
    assert next(iter(Ticket.scan())).inbound_count == 1


def test_a_session_sees_only_its_own_conversation(stack, http):
    mine, theirs = start(http), start(http)
    say(http, theirs, "private matter about my booking")
    stack.pump.drain()
    assert poll(http, mine)["items"] == []


def test_a_typed_email_is_kept_unverified_and_never_joins_another_customers_tickets(stack, http):
    from ..conftest import sms
    sms(stack, http, "SM" + "5" * 32, "Where is my bag?")
    stack.pump.drain()
    Identity("email:victim@example.com", customer_id=next(iter(Ticket.scan())).customer_id, verified=True).save()
    session = start(http, email="victim@example.com")
    say(http, session, "Please send the bag to my new address")
    stack.pump.drain()
    assert Ticket.count() == 2
    assert Identity.get("chat:" + session["conversation_id"]).customer_id != \
        Identity.get("email:victim@example.com").customer_id


def test_chat_without_a_session_is_401_and_a_flood_is_429(stack, http, monkeypatch):
    import time
    from types import SimpleNamespace

    from chalicelib.services import ratelimit
    minute = (int(time.time()) // 60) * 60 + 1.0
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: minute))  # one window, however slow the run
    assert http.get("/channels/chat/messages").status_code == 401
    forged = http.get("/channels/chat/messages", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
    assert forged.json_body["error"]["message"] == "the chat session token is not valid; start a new session"
    session = start(http)
    codes = [say(http, session, f"message {i}").status_code for i in range(25)]
    assert codes.count(202) == 20 and codes[-1] == 429


def ws_event(route: str, connection_id: str, query=None, body=None) -> dict:
    event = {"requestContext": {"routeKey": route, "eventType": route.strip("$").upper(), "connectionId": connection_id,
                                "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "stage": "api",
                                "apiId": "abc123"},
             "isBase64Encoded": False}
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def test_a_connected_page_gets_agent_replies_pushed_over_websockets(stack, http, monkeypatch):
    import dataclasses

    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    from chalicelib import settings as settings_module
    from chalicelib.services import providers
    monkeypatch.setattr(settings_module, "_settings", dataclasses.replace(
        stack.settings, chat_websocket_endpoint="https://abc123.execute-api.us-east-1.amazonaws.com/api"))
    providers.reset()
    session = start(http)
    app = stack.app
    assert app.chat_connect(ws_event("$connect", "conn-1", {"token": session["token"]}), None)["statusCode"] == 200
    assert app.chat_connect(ws_event("$connect", "conn-2", {"token": "forged"}), None)["statusCode"] == 401
    typed = {"token": session["token"], "text": "Hello from the socket"}
    app.chat_ws_message(ws_event("$default", "conn-1", body=typed), None)
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    agent_replies(stack, http, ticket.id, "Pushed to you.")
    pushed = apigatewaymanagementapi_backends["123456789012"]["us-east-1"].connections["conn-1"].data
    assert b"Pushed to you." in pushed
    app.chat_disconnect(ws_event("$disconnect", "conn-1"), None)
    from chalicelib.storage.models import ChatConnection
    assert ChatConnection.count() == 0


def test_a_typed_email_that_is_not_one_is_422_and_a_resend_is_200(stack, http):
    response = http.post("/channels/chat/sessions", headers={"Content-Type": "application/json"},
                         body=json.dumps({"name": "A", "email": "a@b"}))
    assert response.status_code == 422
    session = start(http)
    assert say(http, session, "hello, where is my bag", client_id="k").status_code == 202
    assert say(http, session, "hello, where is my bag", client_id="k").status_code == 200


def test_the_customer_sees_no_agent_ids_nor_internal_reasons(stack, http):
    session = start(http)
    say(http, session, "My bag is lost, can you help?")
    stack.pump.drain()
    agent_replies(stack, http, next(iter(Ticket.scan())).id, "Looking now.")
    items = poll(http, session)["items"]
    assert [m["from"] for m in items] == ["you", "support"]
    assert all(set(m) == {"id", "direction", "text", "created_at", "from"} for m in items)


def rate(http, session, stage="support", rating=1, **more):
    return http.post("/channels/chat/feedback", body=json.dumps({"stage": stage, "rating": rating, **more}),
                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + session["token"]})


def test_a_stage_rating_from_the_chat_is_a_customer_feedback_that_rescores_the_ticket(stack, http):
    session = start(http)
    say(http, session, "My bag did not arrive in Lisbon, where is it?")
    stack.pump.drain()
    before = only_ticket()
    answer = rate(http, session, "arrival", 1, comment="Nobody at the desk", client_id="r1")
    assert answer.status_code == 202 and answer.json_body["duplicate"] is False
    stack.pump.drain()
    ticket = only_ticket()
    customer = Customer.get(Identity.get("chat:" + session["conversation_id"]).customer_id)
    assert [(r["stage"], r["rating"]) for r in customer.profile["ratings"]] == [("arrival", 1)]
    mood = next(i for i in ticket.jet["indicators"] if i["key"] == "mood")
    assert "rated arrival 1/5" in mood["reason"] and ticket.jet["score"] > before.jet["score"]
    assert scoring.history(ticket.id)[-1]["cause"] == "customer.feedback"
    [event] = [e for e in TicketEvent.query(ticket.id) if e.action == "rescored"]
    assert event.actor == "customer"


def test_a_resent_rating_is_one_and_a_rating_needs_a_session_and_a_stage_and_1_to_5(stack, http):
    session = start(http)
    assert rate(http, session, client_id="same").status_code == 202
    assert rate(http, session, client_id="same").json_body["duplicate"] is True
    assert rate(http, session, rating=6).status_code == 422
    assert rate(http, session, stage="lounge").status_code == 422
    assert rate(http, {"token": "forged"}).status_code == 401
    stack.pump.drain()
    customer = Customer.get(Identity.get("chat:" + session["conversation_id"]).customer_id)
    assert len(customer.profile["ratings"]) == 1   # a rating before any message still reaches the customer
