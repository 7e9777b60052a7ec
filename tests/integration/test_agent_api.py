"""The agent API: queues in JET order, atomic claims, replies on the customer's channel."""
import dataclasses
import threading
import time

import pytest

from chalicelib.auth import tokens
from chalicelib.auth.tokens import Principal
from chalicelib.services import agents, queues
from chalicelib.storage.models import Agent, Message, Ticket

from .conftest import bearer, sms


def two_tickets(stack, http):
    sms(stack, http, "SM" + "1" * 32, "Can I choose my seat on this flight?", sender="+14155550001")  # not a bot intent
    sms(stack, http, "SM" + "2" * 32, "My bag is lost and this is terrible, I am furious!", sender="+14155550002")
    stack.pump.drain()


def test_requests_without_a_valid_bearer_token_are_refused(stack, http):
    with pytest.raises(Exception, match="Unauthorized"):
        http.get("/queues", headers={"Authorization": "Bearer not-a-token"})


def test_an_agent_sees_their_queues_with_depth_and_top_score(stack, http):
    two_tickets(stack, http)
    response = http.get("/queues", headers=bearer(stack.settings, "bob"))
    assert response.status_code == 200
    [general] = response.json_body["items"]
    assert general["name"] == "general" and (general["depth"], general["depth_capped"]) == (2, False)
    assert general["top_score"] > 0 and general["oldest_wait_seconds"] >= 0


def test_a_deep_queue_is_counted_in_one_page_up_to_a_cap_and_shown_as_at_least_that(stack, http, monkeypatch):
    two_tickets(stack, http)
    monkeypatch.setattr(queues, "DEPTH_SHOWN", 1)
    [general] = http.get("/queues", headers=bearer(stack.settings, "bob")).json_body["items"]
    assert (general["depth"], general["depth_capped"]) == (1, True)


def test_a_queue_lists_the_highest_score_first_in_pages(stack, http):
    two_tickets(stack, http)
    headers = bearer(stack.settings, "bob")
    first = http.get("/queues/general/tickets", headers=headers).json_body
    scores = [t["jet"]["score"] for t in first["items"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 2
    assert first["next"] is None
    page = queues.tickets(agents.actor(Principal("bob", "agent")), "general", limit=1)
    assert len(page["items"]) == 1 and page["next"]
    rest = http.get(f"/queues/general/tickets?cursor={page['next']}", headers=headers).json_body
    assert [t["id"] for t in rest["items"]] == [first["items"][1]["id"]]


def test_a_garbage_or_crafted_cursor_gets_400(stack, http):
    from chalicelib.services.presenters import encode_cursor
    bob, sam = bearer(stack.settings, "bob"), bearer(stack.settings, "sam")
    crafted = [encode_cursor(key) for key in ({"queue_slot": "x"}, {"queue_slot": {"S": "general"}},
                                              {"queue_slot": {"S": "general"}, "rank": {"N": "1"}, "id": {"S": "a"}})]
    for cursor in ["%%%", *crafted]:
        assert http.get(f"/queues/general/tickets?cursor={cursor}", headers=bob).status_code == 400, cursor
        assert http.get(f"/admin/dead-letters?cursor={cursor}", headers=sam).status_code == 400, cursor


@pytest.fixture
def cognito(stack, monkeypatch):
    """The stack verifying Cognito ID tokens (RS256 through the pool's JWKS); gives a token maker."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"

    class Jwks:
        def get_signing_key_from_jwt(self, token):
            return type("Key", (), {"key": key.public_key()})()
    monkeypatch.setattr(tokens, "_jwks", lambda url: Jwks())
    monkeypatch.setattr(stack.app, "settings", dataclasses.replace(
        stack.settings, jwt_secret="", jwks_url=issuer + "/.well-known/jwks.json", jwt_issuer=issuer,
        jwt_audience="client-123"))

    def id_token(username: str, groups: list[str]) -> dict:
        now = int(time.time())
        claims = {"sub": "uuid-" + username, "cognito:username": username, "cognito:groups": groups,
                  "iss": issuer, "aud": "client-123", "token_use": "id", "iat": now, "exp": now + 3600}
        return {"Authorization": "Bearer " + jwt.encode(claims, key, algorithm="RS256")}
    return id_token


def test_a_user_taken_out_of_the_cognito_supervisor_group_is_no_longer_a_supervisor(stack, http, cognito):
    assert http.get("/admin/jet-config", headers=cognito("sam", ["supervisor"])).status_code == 200
    demoted = http.get("/admin/jet-config", headers=cognito("sam", ["agent"]))
    assert demoted.status_code == 403 and demoted.json_body["error"]["code"] == "forbidden"
    assert http.get("/queues/escalations/tickets", headers=cognito("sam", [])).status_code == 200  # a member still


def test_the_cognito_supervisor_group_alone_makes_no_supervisor_of_a_stored_agent(stack, http, cognito):
    assert http.get("/admin/jet-config", headers=cognito("bob", ["supervisor"])).status_code == 403
    assert http.post("/queues/disruption/claim", headers=cognito("bob", ["supervisor"])).status_code == 403


def test_an_actor_is_a_supervisor_only_when_both_the_token_and_the_agents_item_say_so(stack):
    assert agents.actor(Principal("sam", "supervisor")).is_supervisor
    assert not agents.actor(Principal("sam", "agent")).is_supervisor
    assert not agents.actor(Principal("bob", "supervisor")).is_supervisor
    assert agents.actor_of(Agent.get("sam")).is_supervisor  # no token read (an offer, a transfer): the item


def test_a_local_sign_in_token_carries_the_stored_role_and_keeps_a_supervisor_one(stack, http):
    token = http.post("/local/agents/sam/token").json_body["token"]
    assert tokens.verify(stack.settings, token).role == "supervisor"
    assert http.get("/admin/jet-config", headers={"Authorization": "Bearer " + token}).status_code == 200
    sam = Agent.get("sam")
    sam.update(actions=[Agent.role.set("agent")])  # demoted in the table: the token still says supervisor
    assert http.get("/admin/jet-config", headers={"Authorization": "Bearer " + token}).status_code == 403


def test_claim_takes_the_best_ticket_under_a_lease(stack, http):
    two_tickets(stack, http)
    response = http.post("/queues/general/claim", headers=bearer(stack.settings, "bob"))
    assert response.status_code == 200
    claimed = response.json_body
    assert claimed["assignee"] == "bob" and claimed["status"] == "assigned"
    assert claimed["lease"]["expires_at"] and "mood" in [i["key"] for i in claimed["jet"]["indicators"]]
    assert "furious" in Ticket.get(claimed["id"]).recent_texts[0]


def test_claim_on_an_empty_queue_answers_204(stack, http):
    assert http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).status_code == 204


def test_claim_outside_the_agents_queues_is_forbidden(stack, http):
    response = http.post("/queues/disruption/claim", headers=bearer(stack.settings, "bob"))
    assert response.status_code == 403 and response.json_body["error"]["code"] == "forbidden"


@pytest.fixture
def atomic_moto(monkeypatch):
    """moto evaluates conditions without a lock; DynamoDB applies each write atomically.
    Serialising moto's request handling gives the threads below DynamoDB's guarantee."""
    from moto.dynamodb.responses import DynamoHandler
    lock, call = threading.Lock(), DynamoHandler.call_action

    def serialised(self):
        with lock:
            return call(self)
    monkeypatch.setattr(DynamoHandler, "call_action", serialised)


def test_a_queue_that_does_not_exist_is_404_even_to_a_supervisor(stack, http):
    headers = bearer(stack.settings, "sam")
    for response in (http.get("/queues/nosuch/tickets", headers=headers),
                     http.post("/queues/nosuch/claim", headers=headers)):
        assert response.status_code == 404 and response.json_body["error"]["code"] == "not_found"
    assert http.get("/queues/general/tickets", headers=headers).status_code == 200


def test_a_claim_from_a_stale_index_view_skips_a_ticket_already_taken(stack, http, monkeypatch):
    two_tickets(stack, http)
    stale = list(Ticket.queue_rank.query("general"))
    first = queues.claim(agents.actor(Principal("alice", "agent")), "general")[0]
    monkeypatch.setattr(Ticket.queue_rank, "query", lambda *a, **k: iter(stale))
    second = queues.claim(agents.actor(Principal("bob", "agent")), "general")[0]
    assert first.id == stale[0].id and second.id == stale[1].id
    assert Ticket.get(first.id).assignee == "alice" and Ticket.get(second.id).assignee == "bob"


def test_concurrent_claims_never_give_one_ticket_to_two_agents(stack, http, atomic_moto):
    for i in range(5):
        sms(stack, http, f"SM{i:032d}", "Where is my bag?", sender=f"+1415555010{i}")
    stack.pump.drain()
    results, lock = [], threading.Lock()

    def claim(agent_id):
        got = queues.claim(agents.actor(Principal(agent_id, "agent")), "general")
        with lock:
            results.append(got[0].id if got else None)

    threads = [threading.Thread(target=claim, args=(a,)) for a in ["alice", "bob", "sam"] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [r for r in results if r]
    assert len(taken) == 5 and len(set(taken)) == 5
    assert Ticket.queue_rank.count("general") == 0


def test_a_reply_takes_the_ticket_and_reaches_the_customer_through_twilio(stack, http):
    sms(stack, http, "SM" + "9" * 32, "Where is my bag?", sender="+14155550009")
    stack.pump.drain()
    [ticket] = http.get("/tickets?contact=%2B14155550009", headers=bearer(stack.settings, "bob")).json_body["items"]
    response = http.post(f"/tickets/{ticket['id']}/replies", headers={**bearer(stack.settings, "bob"),
                         "Content-Type": "application/json"}, body='{"text": "Found it, delivering tonight."}')
    assert response.status_code == 201 and response.json_body["delivery_status"] == "pending"
    stack.pump.drain()
    view = http.get(f"/tickets/{ticket['id']}", headers=bearer(stack.settings, "bob")).json_body
    assert view["assignee"] == "bob" and view["first_response_at"]
    reply = view["messages"][-1]
    assert (reply["direction"], reply["delivery_status"], reply["author"]) == ("outbound", "queued", "bob")
    sent = stack.sent("twilio")[-1]
    # the inbound came through a Messaging Service number pool: the answer goes back through it
    assert sent["body"] == {"To": "+14155550009", "MessagingServiceSid": "MG0123456789abcdef0123456789abcdef",
                            "Body": "Found it, delivering tonight.",
                            "StatusCallback": stack.settings.public_base_url + "/channels/twilio/status"}
    assert reply["provider_message_id"] == sent["sid"]


def test_a_reply_body_is_validated(stack, http):
    sms(stack, http, "SM" + "8" * 32, "Where is my bag?")
    stack.pump.drain()
    ticket_id = Ticket.queue_rank.query("general").next().id
    headers = {**bearer(stack.settings, "bob"), "Content-Type": "application/json"}
    response = http.post(f"/tickets/{ticket_id}/replies", headers=headers, body='{"text": ""}')
    assert response.status_code == 422
    both = http.post(f"/tickets/{ticket_id}/replies", headers=headers,
                     body='{"text": "Found it", "canned_response_id": "bag-found"}')
    assert both.status_code == 422 and both.json_body["error"]["details"] == [
        {"path": "/", "message": "exactly one of 'text', 'canned_response_id' is required"}]
    assert list(Message.query(ticket_id))[-1].author == "system"


def test_agents_cannot_see_or_answer_tickets_outside_their_queues(stack, http):
    sms(stack, http, "SM" + "7" * 32, "My flight was cancelled", sender="+14155550007")
    stack.pump.drain()
    ticket_id = Ticket.queue_rank.query("disruption").next().id
    headers = {**bearer(stack.settings, "bob"), "Content-Type": "application/json"}
    assert http.get(f"/tickets/{ticket_id}", headers=headers).status_code == 403
    assert http.post(f"/tickets/{ticket_id}/replies", headers=headers, body='{"text": "hi"}').status_code == 403
    assert http.get("/tickets?contact=%2B14155550007", headers=headers).json_body["items"] == []
    assert http.get(f"/tickets/{ticket_id}", headers=bearer(stack.settings, "sam")).status_code == 200


def test_an_agent_cannot_answer_a_ticket_someone_else_holds(stack, http):
    sms(stack, http, "SM" + "6" * 32, "Where is my bag?")
    stack.pump.drain()
    claimed = http.post("/queues/general/claim", headers=bearer(stack.settings, "alice")).json_body
    headers = {**bearer(stack.settings, "bob"), "Content-Type": "application/json"}
    assert http.post(f"/tickets/{claimed['id']}/replies", headers=headers, body='{"text": "hi"}').status_code == 403


def test_unknown_tickets_are_404_and_bad_contacts_400(stack, http):
    headers = bearer(stack.settings, "sam")
    assert http.get("/tickets/01JDNOPE000000000000000000", headers=headers).status_code == 404
    assert http.get("/tickets?contact=not-a-contact", headers=headers).status_code == 400
    assert http.get("/tickets", headers=headers).status_code == 400


def test_a_ticket_is_read_before_its_timeline_and_the_timeline_consistently(stack, http):
    from chalicelib.storage import models
    two_tickets(stack, http)
    [ticket] = [t for t in Ticket.scan() if "furious" in t.recent_texts[0]]
    reads = []

    def record(model, params, **_):
        table = params.get("TableName", "").removeprefix(stack.settings.table_name(""))
        reads.append((model.name, table, params.get("ConsistentRead", False)))

    events = models._shared["connection"].client.meta.events
    events.register("before-parameter-build.dynamodb", record)
    try:
        assert http.get(f"/tickets/{ticket.id}", headers=bearer(stack.settings, "bob")).status_code == 200
    finally:
        events.unregister("before-parameter-build.dynamodb", record)
    ticket_reads = [r for r in reads if r[1] in ("tickets", "messages", "ticket-events")]
    assert ticket_reads[:3] == [("GetItem", "tickets", True), ("Query", "messages", True),
                                ("Query", "ticket-events", True)]


def test_a_claim_reaches_a_ticket_the_agent_may_take_below_many_it_may_not(stack, http):
    from chalicelib import clock
    from chalicelib.domain import tickets as rules

    def waiting(score, language):
        ticket_id, now = clock.new_id(), clock.now()
        Ticket(ticket_id, ref=rules.ref_for(ticket_id), status="open", channel="sms", queue="general",
               customer_id="c", state_key=rules.state_key("open", ticket_id), language=language, created_at=now,
               updated_at=now, queue_slot="general", rank=rules.rank_for(score, ticket_id),
               jet={"score": score, "tier": "P3"}, reply_to={"channel": "sms"}, queued_at=now).save()
        return ticket_id
    for _ in range(queues.ROUNDS * queues.CANDIDATES + 1):
        waiting(30.0, "fr")
    english = waiting(10.0, "en")
    answer = http.post("/queues/general/claim", headers=bearer(stack.settings, "bob"))   # bob speaks English
    assert answer.status_code == 200 and answer.json_body["id"] == english
