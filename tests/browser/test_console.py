"""The agent console in Chromium: the banner, claim, reply, live feedback, and a re-score moving a row live."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import requests
from playwright.sync_api import expect

from tests.e2e.conftest import eventually
from tests.e2e.test_live_jet import integration_event
from tests.e2e.test_sms_path import send_sms

from .test_chat_page import say, start_chat, ticket_of

INDICATORS = ["time_pressure", "disruption", "mood", "effort", "value", "care_needs"]


def clear_queue(base: str, auth: dict, queue: str) -> None:
    """Resolve what earlier tests left waiting, so the next claim is this test's ticket."""
    for ticket in requests.get(f"{base}/queues/{queue}/tickets", headers=auth, timeout=10).json()["items"]:
        requests.post(f"{base}/tickets/{ticket['id']}/resolve", headers=auth, timeout=10)


def sign_in(page, agent: str):
    """The local stage's picker of seeded agents."""
    page.locator(f"[data-agent={agent}]").click()
    expect(page.locator("#who")).to_contain_text(f"Signed in as {agent}")


def row(page, ticket_id: str):
    return page.locator(f'#rows li[data-id="{ticket_id}"]')


def order(page) -> list[str]:
    return page.locator("#rows li").evaluate_all("rows => rows.map(r => r.dataset.id)")


def test_an_agent_sees_the_banner_claims_replies_and_the_customer_sees_the_reply(local_stack, token, open_page,
                                                                                  screenshot):
    base, sam = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    clear_queue(base, sam, "disruption")
    chat = open_page("/chat")
    start_chat(chat, "Ana <i>Lima</i>")
    written = "My flight was cancelled and I am stuck at the airport! <b>Help</b>"
    say(chat, written)
    ticket = ticket_of(base, sam, chat)
    assert ticket["queue"] == "disruption"

    console = open_page("/console")
    sign_in(console, "alice")
    console.locator("[data-queue=disruption]").click()
    mine = row(console, ticket["id"])
    expect(mine).to_be_visible()
    expect(mine.locator(".ref")).to_have_text(ticket["ref"])
    expect(mine.locator(".score .tier")).to_have_text(ticket["jet"]["tier"])
    chips = mine.locator(".chip")
    assert chips.evaluate_all("cs => cs.map(c => c.dataset.indicator)") == INDICATORS
    disruption = mine.locator("[data-indicator=disruption]")
    disruption.hover()
    expect(disruption.locator(".tip")).to_be_visible()
    expect(disruption.locator(".tip")).to_contain_text("cancellation (not yet confirmed)")
    mood = mine.locator("[data-indicator=mood]")
    mood.focus()   # keyboard users get the reason too
    expect(mood.locator(".tip")).to_be_visible()
    assert order(console)[0] == ticket["id"]

    console.locator("body").press("c")   # claim next, from the keyboard
    expect(console.locator("#t-head .ref")).to_have_text(ticket["ref"])
    expect(console.locator("#t-head")).to_contain_text("assigned to alice")
    expect(console.locator("#t-messages .msg.inbound .msg-text")).to_have_text([written])
    expect(console.locator("#t-customer")).to_contain_text("Ana <i>Lima</i>")
    assert console.locator("#t-messages b, #t-customer i").count() == 0
    expect(console.locator("#t-recs li")).not_to_have_count(0)

    console.locator("#reply").fill("I am so sorry. I have rebooked you on JD125 at 17:10.")
    console.locator("#reply").press("Control+Enter")
    expect(console.locator("#t-messages .msg.outbound .msg-text")).to_have_text(
        ["I am so sorry. I have rebooked you on JD125 at 17:10."])
    expect(chat.locator("#messages .msg.outbound .msg-text")).to_have_text(
        ["I am so sorry. I have rebooked you on JD125 at 17:10."])

    before = float(console.locator("#t-banner .score-value").inner_text())
    console.get_by_role("button", name="Angry").click()
    expect(console.locator("#t-history tbody tr").first).to_contain_text("agent feedback: angry")
    assert float(console.locator("#t-banner .score-value").inner_text()) > before
    screenshot(console, "console-ticket")
    screenshot(chat, "chat-reply")

    console.get_by_role("button", name="Resolve").click()
    expect(console.locator("#t-head .meta")).to_contain_text("resolved")


def test_a_cancellation_makes_the_ticket_climb_the_list_without_a_reload(local_stack, token, open_page, screenshot):
    base, sam = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    clear_queue(base, sam, "disruption")
    rival, mine = "+1415557" + str(uuid.uuid4().int)[:4], "+1415558" + str(uuid.uuid4().int)[:4]
    send_sms(base, rival, "My flight is delayed and I am furious, this is terrible service!")
    send_sms(base, mine, "Hello, was my flight cancelled? Please check.")

    def queued(phone):
        items = requests.get(f"{base}/tickets", params={"contact": phone}, headers=sam, timeout=10).json()["items"]
        return items[0] if items and items[0]["queue"] == "disruption" else None
    rival_ticket, ticket = eventually(lambda: queued(rival)), eventually(lambda: queued(mine))
    assert rival_ticket["jet"]["score"] > ticket["jet"]["score"]

    console = open_page("/console")
    sign_in(console, "sam")
    console.locator("[data-queue=disruption]").click()
    expect(row(console, ticket["id"])).to_be_visible()
    expect(row(console, rival_ticket["id"])).to_be_visible()
    assert order(console).index(rival_ticket["id"]) < order(console).index(ticket["id"])
    console.evaluate("window.sameDocument = true")

    departure = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    answer = integration_event(base, {
        "id": "evt_" + uuid.uuid4().hex, "type": "journey.updated",
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "customer": {"phone": mine},
        "data": {"booking_ref": "Q4TR8K", "segments": [
            {"flight": "JD456", "origin": "LIS", "destination": "CDG", "scheduled_departure": departure,
             "status": "cancelled", "delay_minutes": 0, "connection_at_risk": True}]}})
    assert answer.status_code == 202

    console.wait_for_function(
        "([mine, rival]) => { const ids = [...document.querySelectorAll('#rows li')].map(r => r.dataset.id);"
        " return ids.includes(mine) && ids.indexOf(mine) < ids.indexOf(rival); }",
        arg=[ticket["id"], rival_ticket["id"]], timeout=30_000)
    assert console.evaluate("window.sameDocument") is True   # it moved by itself: no reload
    climbed = row(console, ticket["id"])
    expect(climbed.locator(".move")).to_contain_text("▲")
    expect(climbed.locator("[data-indicator=disruption]")).to_have_attribute("data-level", "high")
    expect(climbed.locator("[data-indicator=disruption] .tip")).to_contain_text("JD456 is cancelled")

    climbed.locator(".open").click()
    expect(console.locator("#t-journey")).to_contain_text("JD456")
    expect(console.locator("#t-history tbody tr").first).to_contain_text("journey.updated")
    screenshot(console, "console")


def test_an_agent_releases_a_claimed_ticket_and_transfers_it_to_another_queue(local_stack, token, open_page):
    base, sam = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    clear_queue(base, sam, "general")
    phone = "+1415559" + str(uuid.uuid4().int)[:4]
    send_sms(base, phone, "Can I bring my guitar on board as hand luggage?")
    ticket = eventually(lambda: (requests.get(f"{base}/tickets", params={"contact": phone}, headers=sam,
                                              timeout=10).json()["items"] or [None])[0])
    assert ticket["queue"] == "general"

    console = open_page("/console")
    sign_in(console, "alice")
    console.locator("[data-queue=general]").click()
    expect(row(console, ticket["id"])).to_be_visible()
    console.get_by_role("button", name="Claim next").click()
    expect(console.locator("#t-head .meta")).to_contain_text("assigned to alice")
    expect(row(console, ticket["id"])).to_have_count(0)   # claimed: out of the queue

    console.get_by_role("button", name="Release").click()
    expect(console.locator("#t-head .meta")).to_contain_text("unassigned")
    expect(row(console, ticket["id"])).to_be_visible()    # back in the queue

    console.get_by_label("Transfer to").select_option("disruption")
    console.get_by_role("button", name="Transfer", exact=True).click()
    expect(console.locator("#t-head .meta")).to_contain_text("queue disruption")
    expect(row(console, ticket["id"])).to_have_count(0)
    console.locator("[data-queue=disruption]").click()
    expect(row(console, ticket["id"])).to_be_visible()


def test_canned_responses_sit_by_the_reply_box_filled_as_text_to_edit_or_send_as_is(local_stack, token, open_page,
                                                                                      screenshot):
    base, sam = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    clear_queue(base, sam, "general")
    made = requests.post(f"{base}/admin/canned-responses", headers=sam, timeout=10, json={
        "title": "Bag traced " + uuid.uuid4().hex[:6], "intent": "baggage", "language": "en",
        "text": "Dear {customer_name}, your bag ({ref}) is traced."}).json()
    chat = open_page("/chat")
    start_chat(chat, "Ana <i>Lima</i> {ref}")
    say(chat, "My bag did not arrive in Lisbon. Where is it?")
    ticket = ticket_of(base, sam, chat)
    assert (ticket["queue"], ticket["intent"]) == ("general", "baggage")

    console = open_page("/console")
    sign_in(console, "bob")
    console.locator("[data-queue=general]").click()
    row(console, ticket["id"]).locator(".open").click()
    item = console.locator(f'#t-canned [data-canned="{made["id"]}"]')
    filled = f"Dear Ana Lima ref, your bag ({ticket['ref']}) is traced."   # the name's markup and braces are gone
    expect(item.locator(".canned-text")).to_have_text(filled)
    expect(item).to_have_attribute("data-match", "intent_language")
    expect(console.locator('#t-canned [data-canned="demo-bag-en"]')).to_be_visible()   # the demo's own
    assert console.locator("#t-canned i").count() == 0

    item.get_by_role("button", name="Edit in reply").click()
    expect(console.locator("#reply")).to_have_value(filled)
    expect(console.locator("#reply")).to_be_focused()
    console.locator("#reply").press("End")
    console.keyboard.type(" We bring it to you tonight.")
    console.locator("#reply").press("Control+Enter")
    edited = filled + " We bring it to you tonight."
    expect(chat.locator("#messages .msg.outbound .msg-text")).to_have_text([edited])

    console.locator(f'#t-canned [data-canned="{made["id"]}"]').get_by_role("button", name="Send as is").click()
    expect(console.locator("#t-messages .msg.outbound .msg-text")).to_have_text([edited, filled])
    expect(chat.locator("#messages .msg.outbound .msg-text")).to_have_text([edited, filled])
    expect(console.locator("#t-events")).to_contain_text("bob replied")
    screenshot(console, "console-canned")
    requests.delete(f"{base}/admin/canned-responses/{made['id']}", headers=sam, timeout=10)
    requests.post(f"{base}/tickets/{ticket['id']}/resolve", headers=sam, timeout=10)


def test_an_agent_finds_a_ticket_they_answered_under_my_tickets_after_a_reload(local_stack, token, open_page):
    base, sam = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    clear_queue(base, sam, "general")
    phone = "+1415556" + str(uuid.uuid4().int)[:4]
    send_sms(base, phone, "Can I bring my cello on board?")
    ticket = eventually(lambda: (requests.get(f"{base}/tickets", params={"contact": phone}, headers=sam,
                                              timeout=10).json()["items"] or [None])[0])

    console = open_page("/console")
    sign_in(console, "alice")
    console.locator("[data-queue=general]").click()
    expect(row(console, ticket["id"])).to_be_visible()
    console.get_by_role("button", name="Claim next").click()
    console.locator("#reply").fill("Yes, with a seat of its own.")
    console.locator("#reply").press("Control+Enter")
    expect(console.locator("#t-messages .msg.outbound .msg-text").last).to_have_text("Yes, with a seat of its own.")

    console.reload()
    console.get_by_role("button", name="My tickets").click()
    expect(console.locator("#list-title")).to_have_text("My tickets")
    mine = row(console, ticket["id"])
    expect(mine).to_be_visible()
    expect(mine.locator(".meta")).to_contain_text("waiting on the customer")
    mine.locator("button.open").click()
    expect(console.locator("#t-head .ref")).to_have_text(ticket["ref"])
