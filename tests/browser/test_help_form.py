"""The help form and the status page in a real browser: what a customer types is shown, never run; links are scoped."""
from __future__ import annotations

import email
import re
import time
import uuid
from email import policy
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import requests

from chalicelib.auth import status_links
from infra.local.stage import stage_environment
from tests.e2e.conftest import eventually

SECRETS = stage_environment("local")
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def emailed_link(base: str, address: str) -> str:
    def sent():
        items = requests.get(base + "/local/sent", timeout=10).json()["items"]
        return [s for s in items if s["provider"] == "ses" and f"To: {address}" in s["body"]["raw"]]
    [mail] = eventually(sent, timeout=60)
    text = email.message_from_string(mail["body"]["raw"], policy=policy.default).get_content()
    return re.search(r"http://\S+/help/status\?token=\S+", text).group(0)


def fill_and_send(watched, base: str, address: str, tmp_path) -> str:
    page = watched.page
    page.goto(base + "/help")
    assert not page.locator("#website").is_visible()  # the honeypot is not there for people
    page.fill("#name", "Ana " + HOSTILE)
    page.fill("#email", address)
    page.fill("#booking_ref", "AB12CD")
    page.fill("#subject", "Cancelled " + HOSTILE)
    page.fill("#message", "My flight to Lisbon was cancelled. " + HOSTILE)
    receipt = tmp_path / "receipt.txt"
    receipt.write_text("hotel receipt 120 EUR")
    page.set_input_files("#attachment", str(receipt))
    page.click("button[type=submit]")
    page.wait_for_selector("#ref")
    return page.inner_text("#ref")


def test_a_customer_sends_the_form_and_follows_the_emailed_link_where_nothing_they_typed_runs(
        local_stack, page, token, tmp_path):
    base, address = local_stack.base_url, f"browser-{uuid.uuid4().hex[:8]}@example.com"
    ref = fill_and_send(page, base, address, tmp_path)
    assert re.fullmatch(r"JD-\w{8}", ref) and address in page.page.inner_text("main")

    link = emailed_link(base, address)
    page.page.goto(link)
    assert page.page.inner_text("#ref") == ref
    assert page.page.inner_text("#state") == "Waiting for an agent"
    conversation = page.page.inner_text("#conversation")
    assert "My flight to Lisbon was cancelled. " + HOSTILE in conversation  # shown as text
    assert "Attached: receipt.txt" in conversation
    assert page.page.locator("#conversation img, #conversation script").count() == 0

    page.page.fill("#message", "The receipt is attached. " + HOSTILE)
    page.page.click("button[type=submit]")
    page.page.click("#back")
    deadline = time.monotonic() + 60
    while "The receipt is attached." not in page.page.inner_text("#conversation"):
        assert time.monotonic() < deadline, "the added message never showed"
        time.sleep(0.5)
        page.page.reload()
    auth = {"Authorization": "Bearer " + token("sam")}
    [ticket] = requests.get(f"{base}/tickets?contact={quote(address)}", headers=auth, timeout=10).json()["items"]
    assert ticket["ref"] == ref and ticket["channel"] == "web"
    assert page.errors == [] and page.dialogs == [] and page.csp_violations() == []


def test_links_that_are_forged_expired_or_for_someone_else_open_nothing(local_stack, page, token, tmp_path):
    base, address = local_stack.base_url, f"browser-{uuid.uuid4().hex[:8]}@example.com"
    ref = fill_and_send(page, base, address, tmp_path)
    link = emailed_link(base, address)
    auth = {"Authorization": "Bearer " + token("sam")}
    [ticket] = requests.get(f"{base}/tickets?contact={quote(address)}", headers=auth, timeout=10).json()["items"]
    keys = SimpleNamespace(session_secret=SECRETS["JETDESK_SESSION_SECRET"], status_link_days=14)
    view = requests.get(f"{base}/tickets/{ticket['id']}", headers=auth, timeout=10).json()
    [sender] = [c.removeprefix("web:") for c in view["customer"]["contacts"]]
    expired = status_links.issue(keys, ticket["id"], sender, now=int(time.time()) - 15 * 86400)
    foreign = status_links.issue(keys, ticket["id"], "01JDNOTTHECUSTOMER0000001")
    forged = link.rsplit(".", 1)[0] + ".c2lnbmVkIGJ5IG5vYm9keQ"
    status_page = base + "/help/status?"
    for url, status, says in ((forged, 401, "not valid"),
                              (status_page + urlencode({"token": expired}), 401, "expired"),
                              (status_page + urlencode({"token": foreign}), 403, "does not open"),
                              (base + "/help/status", 401, "needs the link")):
        answer = page.page.goto(url)
        assert answer.status == status and says in page.page.inner_text("#error")
        assert ref not in page.page.inner_text("body")
    assert page.errors == [] and page.csp_violations() == []
