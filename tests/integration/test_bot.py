"""The bot: first answers on the customer's channel, follow-ups, handover to people, closes, deflection counts."""
import dataclasses
import json
from datetime import timedelta

from chalicelib import clock
from chalicelib.config import DEFAULT_JET
from chalicelib.services import bot, jetconfig, sweep
from chalicelib.settings import override_settings
from chalicelib.storage.models import BotStat, Customer, Identity, Message, Ticket
from tests.conftest import event
from tests.helpers import jetdesk_signed, outbox_intents

from .channels.test_chat_flow import poll, say, start
from .conftest import bearer, sms

PHONE = "+14155550123"
JSON = {"Content-Type": "application/json"}


def send(stack, http, n: int, text: str, sender: str = PHONE):
    sms(stack, http, f"SM{n:032d}", text, sender=sender)
    stack.pump.drain()


def integration(stack, http, payload):
    body, headers = jetdesk_signed(stack.settings, payload)
    assert http.post("/integrations/events", headers=headers, body=body).status_code == 202
    stack.pump.drain()


def booking(stack, http, booking_ref="X7K2QD", fare="business"):
    integration(stack, http, {"id": f"evt_booking_{booking_ref}", "type": "booking.updated",
                              "occurred_at": "2026-11-23T09:00:00Z", "customer": {"phone": PHONE},
                              "data": {"booking_ref": booking_ref, "fare_class": fare}})


def ticket_of(phone: str = PHONE) -> Ticket:
    customer = Customer.get(Identity.get(f"phone:{phone}").customer_id)
    return Ticket.get(customer.open_ticket_id or customer.last_ticket_id)


def texts_sent(stack) -> list[str]:
    return [r["body"]["Body"] for r in stack.sent("twilio") if "Body" in r.get("body", {})]


def timeline(ticket_id: str) -> list[tuple[str, str]]:
    return [(m.author, m.text) for m in Message.query(ticket_id)]


def counts(intent: str) -> dict:
    stats = list(BotStat.query(intent))
    return {k: sum(int(getattr(s, k)) for s in stats) for k in ("answered", "handed_over", "closed", "reopened",
                                                                 "turns")}


def queue_depth(http, stack, agent="bob", queue="general") -> int:
    items = http.get("/queues", headers=bearer(stack.settings, agent)).json_body["items"]
    return next(q["depth"] for q in items if q["name"] == queue)


def test_a_baggage_question_gets_the_bots_answer_at_once_and_waits_in_no_queue(stack, http):
    booking(stack, http)
    send(stack, http, 1, "Hi, how many bags can I bring?")
    ticket = ticket_of()
    assert (ticket.status, ticket.queue_slot, ticket.bot["intent"], ticket.bot["answers"]) == \
        ("bot", None, "baggage_allowance", 1)
    [answer] = texts_sent(stack)   # the answer, and no acknowledgement
    assert "Your Business fare on booking X7K2QD includes 2 cabin bags" in answer and ticket.ref not in answer
    assert timeline(ticket.id)[-1] == ("bot", answer)
    assert queue_depth(http, stack) == 0 and ticket.due_at is not None and ticket.sla_breached_at is None
    assert not [o for o in outbox_intents() if o.kind == "agent_alert"]
    assert counts("baggage_allowance") == {"answered": 1, "handed_over": 0, "closed": 0, "reopened": 0, "turns": 1}


def test_a_follow_up_goes_back_to_the_bot_which_answers_again(stack, http):
    send(stack, http, 1, "How many bags can I bring?")
    send(stack, http, 2, "And when does check-in open?")
    ticket = ticket_of()
    assert (ticket.status, ticket.bot["answers"], ticket.bot["last_intent"]) == ("bot", 2, "check_in_times")
    assert texts_sent(stack)[-1].startswith("Online check-in opens 24 hours before departure")
    assert counts("baggage_allowance")["turns"] == 2 and counts("check_in_times") == dict.fromkeys(
        ("answered", "handed_over", "closed", "reopened", "turns"), 0)


def test_asking_for_an_agent_hands_over_to_the_queue_with_the_bot_exchange_and_the_effort_it_cost(stack, http):
    send(stack, http, 1, "How many bags can I bring?")
    send(stack, http, 2, "agent")
    ticket = ticket_of()
    assert (ticket.status, ticket.queue_slot, ticket.bot["outcome"]) == ("open", "general", "handed_over")
    assert texts_sent(stack)[-1].startswith("Thanks. A person from our team will answer you here shortly")
    assert queue_depth(http, stack) == 1
    seen = http.get(f"/tickets/{ticket.id}", headers=bearer(stack.settings, "bob")).json_body
    assert [(m["direction"], m["author"]) for m in seen["messages"]] == [
        ("inbound", "customer"), ("outbound", "bot"), ("inbound", "customer"), ("outbound", "bot")]
    assert seen["bot"] == {"intent": "baggage_allowance", "answers": 1, "outcome": "handed_over",
                           "reason": "asked for a person"}
    effort = next(i for i in seen["jet"]["indicators"] if i["key"] == "effort")
    assert "1 bot answer(s) before a person" in effort["reason"]
    assert any(e["action"] == "handed over" and e["actor"] == "bot" for e in seen["events"])
    assert any(o.payload.get("what", "").startswith("handed over by the bot") for o in outbox_intents())
    assert counts("baggage_allowance")["handed_over"] == 1


def test_a_message_the_bot_cannot_match_goes_to_people(stack, http):
    send(stack, http, 1, "How many bags can I bring?")
    send(stack, http, 2, "My grandmother is flying with me, can she keep her cane?")
    ticket = ticket_of()
    assert (ticket.status, ticket.bot["reason"]) == ("open", "the bot could not match the message")
    assert ticket.queue_slot == "general"


def test_a_cancellation_arriving_while_the_bot_holds_the_ticket_sends_it_to_people(stack, http):
    send(stack, http, 1, "How many bags can I bring?")
    integration(stack, http, event("integration/journey_cancelled.json"))
    ticket = ticket_of()
    assert (ticket.status, ticket.queue_slot) == ("open", "disruption")
    assert ticket.bot["reason"] == "rose to disruption: AF123 is cancelled"
    assert texts_sent(stack)[-1].startswith("Thanks. A person from our team")
    assert counts("baggage_allowance")["handed_over"] == 1


def test_a_ticket_the_bot_holds_that_rises_to_p2_goes_to_people_at_the_next_sweep(stack, http):
    booking(stack, http, fare="business")
    send(stack, http, 1, "How many bags can I bring?")
    ticket = ticket_of()
    assert ticket.jet["tier"] == "P4"
    stricter = {**DEFAULT_JET, "bands": [["P1", 90], ["P2", ticket.jet["score"] - 1], ["P3", 1], ["P4", 0]]}
    jetconfig.save("sam", stricter)          # a supervisor's new bands: the same facts now weigh P2
    sweep.run(clock.now() + timedelta(minutes=16))
    risen = Ticket.get(ticket.id)
    assert (risen.status, risen.queue_slot, risen.jet["tier"]) == ("open", "general", "P2")
    assert risen.bot["reason"] == "rose to JET P2"


def test_p1_is_never_answered_by_the_bot(stack, http):
    integration(stack, http, event("integration/journey_cancelled.json"))
    send(stack, http, 1, "My flight is cancelled!! How many bags can I bring on the new one? This is terrible.")
    ticket = ticket_of()
    assert ticket.jet["tier"] == "P1" and ticket.status == "open" and ticket.bot is None
    assert ticket.queue_slot == "disruption"
    assert [author for author, _ in timeline(ticket.id)] == ["customer", "system"]  # the acknowledgement only


def test_quiet_after_the_answer_the_bot_closes_the_ticket_and_a_later_message_reopens_it_for_people(stack, http):
    send(stack, http, 1, "How many bags can I bring?")
    ticket = ticket_of()
    quiet_until = ticket.bot["quiet_until"]
    assert sweep.run(clock.now() + timedelta(minutes=30))["rescored"] == 1 and ticket_of().status == "bot"
    sweep.run(clock.now() + timedelta(minutes=bot.knowledge()["quiet_minutes"], seconds=5))
    closed = Ticket.get(ticket.id)
    assert (closed.status, closed.resolved_by, closed.due_at, closed.queue_slot) == ("resolved", "bot", None, None)
    assert Customer.get(closed.customer_id).open_ticket_id is None and quiet_until
    assert counts("baggage_allowance")["closed"] == 1
    send(stack, http, 2, "Actually my bag was damaged on arrival")
    again = Ticket.get(ticket.id)
    assert (again.status, again.queue_slot, again.resolved_by) == ("open", "general", None)
    assert counts("baggage_allowance")["reopened"] == 1


def test_thanks_closes_the_ticket_at_once(stack, http):
    send(stack, http, 1, "How many bags can I bring?")
    send(stack, http, 2, "Thanks!")
    ticket = Ticket.get(ticket_of().id)
    assert (ticket.status, ticket.resolved_by) == ("resolved", "bot")
    assert texts_sent(stack)[-1].startswith("Glad I could help")
    assert counts("baggage_allowance")["closed"] == 1


def test_refund_status_asks_for_the_booking_reference_then_answers_with_it(stack, http):
    send(stack, http, 1, "Where is my refund?")
    assert ticket_of().bot["awaiting"] == "booking_ref" and "booking reference" in texts_sent(stack)[-1]
    send(stack, http, 2, "It is x7k2qd")
    ticket = ticket_of()
    assert (ticket.status, ticket.bot["answers"], ticket.bot["booking_ref"]) == ("bot", 2, "X7K2QD")
    assert "Refunds for booking X7K2QD go back to the card" in texts_sent(stack)[-1]
    assert counts("refund_status")["turns"] == 2


def test_a_booking_field_cannot_inject_markup_or_placeholders_into_the_answer(stack, http):
    booking(stack, http, booking_ref="<b>{ref}</b>")
    send(stack, http, 1, "What is the baggage allowance?")
    [answer] = texts_sent(stack)
    assert "on booking ref includes" in answer and "<" not in answer and "{" not in answer   # tags dropped


def test_a_french_question_gets_a_french_answer(stack, http):
    send(stack, http, 1, "Bonjour, quelle est la franchise bagages pour mon vol ?")
    assert texts_sent(stack)[-1].startswith("Les tarifs Économie comprennent")


def test_turned_off_the_bot_answers_nothing(stack, http):
    override_settings(dataclasses.replace(stack.settings, bot_enabled=False))
    send(stack, http, 1, "How many bags can I bring?")
    ticket = ticket_of()
    assert (ticket.status, ticket.queue_slot, ticket.bot) == ("open", "general", None)
    assert texts_sent(stack)[0].startswith("Thanks, we have your message")


def test_web_chat_gets_the_bots_answer_in_the_poll_and_agent_hands_over(stack, http):
    session = start(http)
    say(http, session, "How many bags can I bring?")
    stack.pump.drain()
    [asked, answered] = poll(http, session)["items"]
    assert (asked["direction"], answered["direction"], answered["from"]) == ("inbound", "outbound", "support")
    assert answered["text"].startswith("Economy fares include")
    say(http, session, "I want a human please")
    stack.pump.drain()
    ticket = Ticket.get(Customer.get(Identity.get(f"chat:{session['conversation_id']}").customer_id).open_ticket_id)
    assert (ticket.status, ticket.queue_slot) == ("open", "general")
    assert poll(http, session)["items"][-1]["text"].startswith("Thanks. A person from our team")


def test_the_deflection_report_counts_per_intent_for_supervisors_only(stack, http):
    send(stack, http, 1, "How many bags can I bring?", sender="+14155550001")
    send(stack, http, 2, "Thanks", sender="+14155550001")
    send(stack, http, 3, "What is the baggage allowance?", sender="+14155550002")
    send(stack, http, 4, "agent", sender="+14155550002")
    send(stack, http, 5, "When does check-in open?", sender="+14155550003")
    today = clock.now().date().isoformat()
    response = http.get(f"/admin/reports/deflection?from={today}&to={today}", headers=bearer(stack.settings, "sam"))
    assert response.status_code == 200
    rows = {r["intent"]: r for r in response.json_body["items"]}
    assert (rows["baggage_allowance"]["answered"], rows["baggage_allowance"]["handed_over"],
            rows["baggage_allowance"]["closed"], rows["baggage_allowance"]["deflection_rate"]) == (2, 1, 1, 0.5)
    assert (rows["check_in_times"]["answered"], rows["check_in_times"]["deflection_rate"]) == (1, 0.0)
    assert rows["refund_status"]["deflection_rate"] is None
    assert response.json_body["total"]["answered"] == 3
    assert http.get("/admin/reports/deflection", headers=bearer(stack.settings, "bob")).status_code == 403
    bad = http.get("/admin/reports/deflection?from=yesterday", headers=bearer(stack.settings, "sam"))
    assert bad.status_code == 400 and bad.json_body["error"]["code"] == "bad_request"
    backwards = http.get(f"/admin/reports/deflection?from={today}&to=2020-01-01",
                         headers=bearer(stack.settings, "sam"))
    assert backwards.status_code == 400


def test_an_unanswered_report_day_is_zero_without_scanning(stack, http):
    response = http.get("/admin/reports/deflection?from=2020-01-01&to=2020-01-31",
                        headers=bearer(stack.settings, "sam"))
    assert response.json_body["total"] == {"answered": 0, "handed_over": 0, "closed": 0, "reopened": 0, "turns": 0,
                                           "deflected": 0, "deflection_rate": None}
    assert json.loads(json.dumps(response.json_body))["from"] == "2020-01-01"


def test_an_agent_answering_a_ticket_the_bot_holds_takes_it_over(stack, http):
    send(stack, http, 1, "How many bags can I bring?")
    ticket = ticket_of()
    headers = {**bearer(stack.settings, "sam"), "Content-Type": "application/json"}
    assert http.post(f"/tickets/{ticket.id}/replies", headers=headers,
                     body=json.dumps({"text": "Hello, Sam here."})).status_code == 201
    taken = Ticket.get(ticket.id)
    assert (taken.status, taken.bot["outcome"]) == ("pending", "handed_over")
    assert counts("baggage_allowance")["handed_over"] == 1
    send(stack, http, 2, "agent")     # no longer the bot's: no handover notice, no second count
    back = Ticket.get(ticket.id)   # the customer answered the person who took it over
    assert (back.status, back.assignee) == ("assigned", "sam") and counts("baggage_allowance")["handed_over"] == 1
    assert not texts_sent(stack)[-1].startswith("Thanks. A person")


def test_a_supervisor_sending_the_bots_ticket_to_the_queue_counts_it_handed_over(stack, http):
    send(stack, http, 1, "How many bags can I bring?")
    ticket = ticket_of()
    assert ticket.status == "bot"
    released = http.post(f"/tickets/{ticket.id}/release", headers=bearer(stack.settings, "sam"))
    assert released.status_code == 200 and released.json_body["status"] == "open"
    assert Ticket.get(ticket.id).bot["outcome"] == "handed_over" and counts("baggage_allowance")["handed_over"] == 1


def test_an_auto_reply_to_the_bots_closing_mail_reopens_nothing_and_a_real_answer_reaches_people(stack, http):
    from tests.helpers import outbox_intents
    from tests.integration.channels.test_email_flow import mail, relay

    def write(n, body, subject, extra=""):
        relay(stack, http, mail(subject=subject, msg_id=f"<a{n}@example.co.uk>", body=body, extra=extra))
        stack.pump.drain()
    write(1, "Hi, how many bags can I bring?", "Question")
    [ticket] = Ticket.scan()
    write(2, "Thanks!", f"Re: Question [{ticket.ref}]")
    assert Ticket.get(ticket.id).status == "resolved"
    write(3, "I am out of the office until 14 March.", f"Automatic reply: Question [{ticket.ref}]",
          extra="Auto-Submitted: auto-replied\r\n")
    assert Ticket.get(ticket.id).status == "resolved" and counts("baggage_allowance")["reopened"] == 0
    alerts = len([i for i in outbox_intents() if i.kind == "agent_alert"])
    write(4, "My bag arrived damaged, I need help", f"Re: Question [{ticket.ref}]")
    reopened = Ticket.get(ticket.id)
    assert reopened.status != "resolved" and reopened.resolved_by is None
    assert counts("baggage_allowance")["reopened"] == 1
    assert len([i for i in outbox_intents() if i.kind == "agent_alert"]) > alerts


def test_an_agents_feedback_that_raises_a_ticket_the_bot_holds_hands_it_to_people_at_once(stack, http):
    booking(stack, http, fare="business")
    send(stack, http, 1, "How many bags can I bring?")
    ticket = ticket_of()
    stricter = {**DEFAULT_JET, "bands": [["P1", 90], ["P2", ticket.jet["score"] + 0.1], ["P3", 1], ["P4", 0]]}
    jetconfig.save("sam", stricter)
    answer = http.post(f"/tickets/{ticket.id}/feedback", headers={**bearer(stack.settings, "sam"), **JSON},
                       body=json.dumps({"emotion": "angry"}))
    assert answer.status_code == 200
    stack.pump.drain()
    risen = Ticket.get(ticket.id)
    assert (risen.status, risen.queue_slot, risen.jet["tier"]) == ("open", "general", "P2")
    assert risen.bot["reason"] == "rose to JET P2"
    assert texts_sent(stack)[-1].startswith("Thanks. A person from our team")
    assert counts("baggage_allowance")["handed_over"] == 1
