"""The help form and the status page: one ticket per submission, a signed link scoped to it, nothing for bots."""
from __future__ import annotations

import email
import re
from email import policy
from urllib.parse import parse_qs, urlencode, urlparse

from urllib3 import encode_multipart_formdata

from chalicelib.auth import status_links
from chalicelib.services import providers
from chalicelib.storage.models import DeadLetter, InboundMessage, Message, Ticket

from ..conftest import bearer
from .conftest import agent_replies, only_ticket

NONCE = "01JDHELPFORM0000000000001"


def form_fields(**overrides) -> dict:
    return {"nonce": NONCE, "name": "Ana Lima", "email": "Ana@Example.com", "booking_ref": "ab12cd",
            "subject": "Refund for a cancelled flight", "website": "",
            "message": "My flight to Lisbon was cancelled. I want a refund, this is urgent.", **overrides}


def submit(http, fields: dict, attachment: tuple | None = None):
    parts = list(fields.items()) + [("attachment", attachment or ("", b"", "application/octet-stream"))]
    body, content_type = encode_multipart_formdata(parts)
    return http.post("/help", headers={"Content-Type": content_type}, body=body)


def confirmation_mail(stack) -> email.message.EmailMessage:
    [sent] = stack.sent("ses")
    return email.message_from_string(sent["body"]["raw"], policy=policy.default)


def status_token(stack) -> str:
    link = re.search(r"https?://\S+/help/status\?token=\S+", confirmation_mail(stack).get_content()).group(0)
    return parse_qs(urlparse(link).query)["token"][0]


def add_message(http, token: str, text: str, nonce: str = "01JDSTATUSMSG000000000001"):
    return http.post("/help/status", headers={"Content-Type": "application/x-www-form-urlencoded"},
                     body=urlencode({"token": token, "nonce": nonce, "message": text}))


def test_the_form_is_plain_html_under_a_strict_policy_with_a_fresh_submission_id(stack, http):
    first, second = http.get("/help"), http.get("/help")
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in first.headers["Content-Security-Policy"]
    page = first.body.decode()
    assert "<script" not in page and "style=" not in page
    assert '<div hidden><label for="website">' in page
    nonce = re.search(r'name="nonce" value="(\w+)"', page).group(1)
    assert nonce not in second.body.decode()


def test_a_submission_opens_a_web_ticket_and_emails_a_link_to_its_status_page(stack, http):
    answer = submit(http, form_fields(), ("boarding pass.pdf", b"%PDF-1.4 pass", "application/pdf"))
    assert answer.status_code == 200
    ref = re.search(r'id="ref">(JD-\w{8})<', answer.body.decode()).group(1)
    stack.pump.drain()
    ticket = only_ticket()
    assert (ticket.ref, ticket.channel, ticket.subject) == (ref, "web", "Refund for a cancelled flight")
    assert ticket.intent == "cancellation" and ticket.jet["tier"]  # scored and routed like any message
    [inbound] = [m for m in Message.query(ticket.id) if m.direction == "inbound"]
    [attachment] = inbound.attachments
    stored = providers.s3().get_object(Bucket=stack.settings.attachments_bucket, Key=attachment["key"])
    assert stored["Body"].read() == b"%PDF-1.4 pass" and attachment["name"] == "boarding pass.pdf"
    mail = confirmation_mail(stack)
    assert mail["To"] == "ana@example.com" and ref in mail["Subject"] and ref in mail.get_content()
    page = http.get("/help/status?" + urlencode({"token": status_token(stack)}))
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert "Waiting for an agent" in page.body.decode() and "My flight to Lisbon" in page.body.decode()
    assert "&lt;status link&gt;" not in page.body.decode()  # the acknowledgement is not part of the conversation


def test_the_confirmation_says_it_was_sent_automatically_and_an_agents_answer_does_not(stack, http):
    submit(http, form_fields())
    stack.pump.drain()
    assert confirmation_mail(stack)["Auto-Submitted"] == "auto-replied"   # RFC 3834: no auto-reply to it
    agent_replies(stack, http, only_ticket().id, "Your refund is on its way.")
    answer = email.message_from_string(stack.sent("ses")[-1]["body"]["raw"], policy=policy.default)
    assert "refund is on its way" in answer.get_content() and answer["Auto-Submitted"] is None


def test_a_form_typed_with_our_own_support_address_opens_nothing_and_mails_nothing(stack, http):
    for ours in (stack.settings.support_email.upper(), stack.settings.support_email.replace("@", "+web@")):
        answer = submit(http, form_fields(email=ours))
        assert answer.status_code == 422 and "our own support address" in answer.body.decode()
    stack.pump.drain()
    assert InboundMessage.count() == 0 and Ticket.count() == 0 and stack.sent("ses") == []


def test_a_double_submit_answers_the_same_ref_and_opens_one_ticket(stack, http):
    refs = {re.search(r"JD-\w{8}", submit(http, form_fields()).body.decode()).group(0) for _ in range(2)}
    stack.pump.drain()
    assert len(refs) == 1 and only_ticket().ref == refs.pop()
    assert InboundMessage.count() == 1 and len(stack.sent("ses")) == 1


def test_the_same_page_sent_again_with_other_words_adds_them_to_the_ticket_it_opened(stack, http):
    first = submit(http, form_fields()).body.decode()
    again = submit(http, form_fields(message="Sorry, I meant my flight to Porto.")).body.decode()
    submit(http, form_fields(message="Sorry, I meant my flight to Porto."))
    stack.pump.drain()
    assert re.search(r"JD-\w{8}", first).group(0) == re.search(r"JD-\w{8}", again).group(0)
    texts = [m.text for m in Message.query(only_ticket().id) if m.direction == "inbound"]
    assert texts == [form_fields()["message"], "Sorry, I meant my flight to Porto."]


def test_a_form_sent_again_with_other_words_and_threaded_first_opens_the_ticket_promised(stack, http):
    from chalicelib.services import conversations
    promised = re.search(r"JD-\w{8}", submit(http, form_fields()).body.decode()).group(0)
    submit(http, form_fields(message="Sorry, I meant my flight to Porto."))
    [resent] = [i for i in InboundMessage.scan() if i.key != "web#" + NONCE]   # test-only inspection
    conversations.process(resent)   # it reached the stream first (another shard)
    stack.pump.drain()
    ticket = only_ticket()
    assert ticket.ref == promised and len(stack.sent("ses")) == 1   # the confirmation, with its link
    texts = {m.text for m in Message.query(ticket.id) if m.direction == "inbound"}
    assert texts == {form_fields()["message"], "Sorry, I meant my flight to Porto."}


def test_a_filled_honeypot_is_thanked_kept_as_a_dead_letter_and_opens_nothing(stack, http):
    answer = submit(http, form_fields(website="http://spam.example"))
    assert answer.status_code == 200 and "JD-" not in answer.body.decode()
    assert InboundMessage.count() == 0
    assert [(d.source, d.reason) for d in DeadLetter.scan()] == [("web/help", "honeypot field filled in")]


def test_an_address_sending_too_many_forms_gets_429_with_retry_after(stack, http):
    answers = [submit(http, form_fields(nonce=f"01JDRATELIMIT00000000000{i}")) for i in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1 and "slow down" in answers[-1].body.decode()


def test_an_invalid_form_is_shown_again_escaped_with_what_to_fix_and_stores_nothing(stack, http):
    answer = submit(http, form_fields(email="not-an-address", name='<script>alert("x")</script>'))
    page = answer.body.decode()
    assert answer.status_code == 422 and 'role="alert"' in page
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert InboundMessage.count() == 0


def test_the_customer_adds_a_message_on_the_status_page_and_sees_the_agents_answer(stack, http):
    submit(http, form_fields())
    stack.pump.drain()
    token, ticket = status_token(stack), only_ticket()
    answer = add_message(http, token, "Also: <b>my bag</b> is still in Paris!")
    assert answer.status_code == 200 and "Back to your ticket" in answer.body.decode()
    add_message(http, token, "Also: <b>my bag</b> is still in Paris!")  # resent: the same nonce
    stack.pump.drain()
    agent_replies(stack, http, ticket.id, "Your refund is on its way & your bag too.")
    assert [m.text for m in Message.query(ticket.id) if m.direction == "inbound"][-1].startswith("Also:")
    assert Ticket.get(ticket.id).inbound_count == 2
    page = http.get("/help/status?" + urlencode({"token": token})).body.decode()
    assert "Also: &lt;b&gt;my bag&lt;/b&gt; is still in Paris!" in page
    assert "Your refund is on its way &amp; your bag too." in page
    [reply_mail] = [email.message_from_string(s["body"]["raw"], policy=policy.default) for s in stack.sent("ses")
                    if "refund is on its way" in s["body"]["raw"]]
    assert reply_mail["To"] == "ana@example.com" and ticket.ref in reply_mail["Subject"]


def test_forged_expired_and_foreign_links_are_refused_and_change_nothing(stack, http):
    submit(http, form_fields())
    stack.pump.drain()
    token, ticket = status_token(stack), only_ticket()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    expired = status_links.issue(stack.settings, ticket.id, NONCE, now=1_000_000_000)
    foreign = status_links.issue(stack.settings, ticket.id, "01JDSOMEONEELSE0000000001")
    before = InboundMessage.count()
    for bad, status, says in ((forged, 401, "not valid"), (expired, 401, "expired"), (foreign, 403, "does not open"),
                              ("", 401, "needs the link")):
        page = http.get("/help/status?" + urlencode({"token": bad}))
        assert (page.status_code, says in page.body.decode()) == (status, True)
        assert "Refund for a cancelled flight" not in page.body.decode()
        assert add_message(http, bad, "let me in").status_code == status
    assert InboundMessage.count() == before


def test_an_agent_finds_the_web_ticket_by_the_typed_email_which_proves_nothing(stack, http):
    submit(http, form_fields())
    stack.pump.drain()
    auth = bearer(stack.settings, "sam")
    view = http.get(f"/tickets/{only_ticket().id}", headers=auth).json_body
    assert view["channel"] == "web" and view["reply_action"] == {"action": "reply", "channel": "email"}
    assert view["customer"]["contacts"] == [f"web:{NONCE}"] and view["customer"]["name"] == "Ana Lima"
    found = http.get("/tickets?contact=ana@example.com", headers=auth).json_body["items"]
    assert [t["id"] for t in found] == [view["id"]]


def test_the_confirmation_to_an_address_on_an_international_domain_goes_to_a_deliverable_address(stack, http):
    """anna@müller.de went out as To: anna@=?utf-8?q?m=C3=BCller?=.de (an encoded word inside an
    address is no address, RFC 2047 section 5); its IDNA form is anna@xn--mller-kva.de."""
    assert submit(http, form_fields(email="anna@müller.de")).status_code == 200
    stack.pump.drain()
    assert confirmation_mail(stack)["To"] == "anna@xn--mller-kva.de"
