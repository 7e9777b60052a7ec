"""The customer's web-chat page in Chromium: start, write, see the agent's reply arrive, rate a stage."""
from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.e2e.conftest import eventually

SESSION_KEY = "jetdesk.chat.session"


def start_chat(page, name: str, email: str = ""):
    page.get_by_label("Your name").fill(name)
    if email:
        page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Start chatting").click()
    expect(page.locator("#conversation")).to_be_visible()


def say(page, text: str):
    page.get_by_label("Message").fill(text)
    page.keyboard.press("Enter")
    expect(page.locator("#messages .msg.inbound:not(.pending) .msg-text").filter(has_text=text)).to_have_count(1)


def conversation_id(page) -> str:
    return page.evaluate(f"JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).conversation_id")


def ticket_of(base: str, auth: dict, page) -> dict:
    """The ticket the chat opened, once the event pump has threaded it."""
    contact = "chat:" + conversation_id(page)

    def found():
        items = requests.get(f"{base}/tickets", params={"contact": contact}, headers=auth, timeout=10).json()
        return items["items"][0] if items["items"] else None
    return eventually(found)


def test_a_customer_writes_sees_the_agents_reply_arrive_and_rates_the_stage(local_stack, token, open_page,
                                                                           screenshot):
    base, sam = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    chat = open_page("/chat")
    start_chat(chat, "Ana Lima", "ana@example.com")
    expect(chat.get_by_role("heading", name="Hello Ana Lima")).to_be_visible()
    say(chat, "My bag did not arrive in Lisbon. Where is it?")
    ticket = ticket_of(base, sam, chat)
    assert ticket["channel"] == "chat"

    reply = requests.post(f"{base}/tickets/{ticket['id']}/replies", headers=sam, timeout=10,
                          json={"text": "Found it: it comes on the evening flight, we deliver it to you."})
    assert reply.status_code == 201
    support = chat.locator("#messages .msg.outbound")
    expect(support).to_have_count(1)
    expect(support.locator(".msg-text")).to_have_text("Found it: it comes on the evening flight, we deliver it to you.")
    expect(support.locator(".msg-meta")).to_contain_text("Support")

    chat.get_by_label("Stage").select_option("arrival")
    chat.locator("label[for=rating-2]").click()
    chat.get_by_role("button", name="Rate").click()
    expect(chat.locator("#rate-msg")).to_contain_text("Thank you")
    screenshot(chat, "chat")

    def rated():
        customer = requests.get(f"{base}/customers/{ticket['customer_id']}", headers=sam, timeout=10).json()
        return customer["profile"].get("ratings")
    assert [(r["stage"], r["rating"]) for r in eventually(rated)] == [("arrival", 2)]
    mood = next(i for i in ticket_of(base, sam, chat)["jet"]["indicators"] if i["key"] == "mood")
    assert "rated arrival 2/5" in mood["reason"]
    requests.post(f"{base}/tickets/{ticket['id']}/resolve", headers=sam, timeout=10)


def test_what_a_customer_types_is_shown_as_text_and_never_run(local_stack, token, open_page):
    chat = open_page("/chat")
    name = '<img src=x onerror="window.pwned=1">Zoe'
    start_chat(chat, name)
    expect(chat.locator("#conv-title")).to_have_text(f"Hello {name}")
    markup = "<script>window.pwned=2</script><b>hello</b> is my booking OK?"
    say(chat, markup)
    expect(chat.locator("#messages .msg-text").first).to_have_text(markup)
    assert chat.locator("#messages b, #messages script, #conversation img").count() == 0
    assert chat.evaluate("window.pwned") is None
    sam = {"Authorization": "Bearer " + token("sam")}
    ticket = ticket_of(local_stack.base_url, sam, chat)
    requests.post(f"{local_stack.base_url}/tickets/{ticket['id']}/resolve", headers=sam, timeout=10)


def test_a_chat_survives_a_reload_and_can_be_left(open_page):
    chat = open_page("/chat")
    start_chat(chat, "Kim")
    say(chat, "Is there wifi on board?")
    chat.reload()
    expect(chat.locator("#messages .msg.inbound .msg-text")).to_have_text(["Is there wifi on board?"])
    chat.get_by_role("button", name="Leave the chat").click()
    expect(chat.get_by_label("Your name")).to_be_visible()
    assert chat.evaluate(f"sessionStorage.getItem('{SESSION_KEY}')") is None
