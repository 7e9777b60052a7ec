"""Email: the signed relay route, SES through SNS (content or S3), threading and replies via SES."""
import json
import re
from collections import Counter

import boto3

from chalicelib.auth.signatures import jetdesk_signature
from chalicelib.storage import models
from chalicelib.storage.models import InboundMessage, Message, Ticket
from tests.conftest import event

from .conftest import agent_replies, only_ticket

RFC822 = "message/rfc822"


def relay(stack, http, raw: bytes, signature: str | None = None):
    headers = {"Content-Type": RFC822,
               "X-JetDesk-Signature": signature or jetdesk_signature(stack.settings.jetdesk_signing_secret, raw)}
    return http.post("/channels/email/inbound", headers=headers, body=raw)


def mail(sender="olivia.brown@example.co.uk", subject="Refund request", msg_id="<a1@example.co.uk>",
         body="My flight BA0304 was cancelled. Please refund me.", extra="", name="Olivia Brown") -> bytes:
    return (f"From: {name} <{sender}>\r\nTo: support@jetdesk.local\r\nSubject: {subject}\r\n"
            f"Message-ID: {msg_id}\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def test_a_relayed_mail_opens_a_ticket_with_its_attachment_in_s3(stack, http):
    assert relay(stack, http, event("email/attachment_pdf.eml")).status_code == 202
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    [inbound] = [m for m in Message.query(ticket.id) if m.direction == "inbound"]
    [pdf] = [a for a in inbound.attachments if a["content_type"] == "application/pdf"]
    body = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=stack.settings.attachments_bucket, Key=pdf["key"])["Body"].read()
    assert body.startswith(b"%PDF") and len(body) == pdf["size"]


def test_the_acknowledgement_and_agent_reply_go_out_through_ses_threaded_on_the_customers_mail(stack, http):
    relay(stack, http, mail())
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    [ack] = stack.sent("ses")
    assert f"[{ticket.ref}]" in ack["body"]["raw"] and "In-Reply-To: <a1@example.co.uk>" in ack["body"]["raw"]
    reply = agent_replies(stack, http, ticket.id, "Your refund is on its way.")
    raw = stack.sent("ses")[-1]["body"]["raw"]
    assert "To: olivia.brown@example.co.uk" in raw and "From: support@jetdesk.local" in raw
    assert re.search(r"Subject: Re: Refund request \[JD-", raw)
    assert reply.provider_message_id.endswith("@email.amazonses.com")


def test_a_reply_to_our_mail_threads_by_in_reply_to(stack, http):
    relay(stack, http, mail())
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    ours = agent_replies(stack, http, ticket.id, "Which booking?")
    answer = mail(subject="Re: something else", msg_id="<a2@example.co.uk>", body="Booking X7K2QD.",
                  extra=f"In-Reply-To: <{ours.provider_message_id}>\r\n")
    relay(stack, http, answer)
    stack.pump.drain()
    assert Ticket.count() == 1 and Ticket.get(ticket.id).inbound_count == 2


def _queries_threading_a_reply(stack, http, subject: str) -> int:
    """A reply to our mail (In-Reply-To ours, References an older id and ours), with ``subject``
    (``{ref}`` stands for the ticket's); the Queries its threading makes."""
    relay(stack, http, mail())
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    ours = agent_replies(stack, http, ticket.id, "Which booking?")
    answer = mail(subject=subject.format(ref=ticket.ref), msg_id="<a3@example.co.uk>", body="Booking X7K2QD.",
                  extra=f"In-Reply-To: <{ours.provider_message_id}>\r\nReferences: <a1@example.co.uk> "
                        f"<{ours.provider_message_id}>\r\n")
    relay(stack, http, answer)
    calls = Counter()
    client = models._shared["connection"].client
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    stack.pump.drain()
    assert Ticket.get(ticket.id).inbound_count == 2
    return calls["Query"]


def test_a_reply_quoting_the_ref_of_the_contacts_last_ticket_looks_up_no_reference(stack, http):
    # the ticket came with the customer (the identity's hint) and the subject names it
    assert _queries_threading_a_reply(stack, http, "Re: Refund request [{ref}]") == 0


def test_a_reply_stops_looking_up_references_at_the_first_that_threads(stack, http):
    # our mail's id; the older reference is not looked up
    assert _queries_threading_a_reply(stack, http, "Re: Refund request") == 1


def test_a_stranger_quoting_someone_elses_ref_gets_a_ticket_of_their_own(stack, http):
    relay(stack, http, mail())
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    relay(stack, http, mail(sender="mallory@example.net", subject=f"Re: [{ticket.ref}]", msg_id="<m1@example.net>",
                            body="Please send me the refund instead."))
    stack.pump.drain()
    assert Ticket.count() == 2 and Ticket.get(ticket.id).inbound_count == 1


def test_auto_replies_bounces_and_lists_never_open_tickets_nor_get_answers(stack, http):
    for name in ("auto_reply.eml", "bounce.eml", "mailing_list.eml", "delivery_delayed_null_return_path.eml"):
        assert relay(stack, http, event(f"email/{name}")).status_code == 202
    stack.pump.drain()
    assert Ticket.count() == 0 and stack.sent("ses") == []
    assert {i.reason for i in InboundMessage.scan()} == {"automated: no ticket opened"}


def test_ses_through_sns_with_the_content_inline(stack, http):
    notification = event("email/ses_sns_base64.json")
    boto3.client("sns", region_name="us-east-1").publish(
        TopicArn=f"arn:aws:sns:us-east-1:123456789012:{stack.settings.inbound_mail_topic}",
        Message=json.dumps(notification))
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    assert ticket.channel == "email" and ticket.language == "fr"


def test_ses_through_the_s3_action_reads_the_stored_object(stack, http):
    notification = event("email/ses_s3.json")
    action = notification["receipt"]["action"]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=action["bucketName"])
    s3.put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=event("email/reply_en.eml"))
    boto3.client("sns", region_name="us-east-1").publish(
        TopicArn=f"arn:aws:sns:us-east-1:123456789012:{stack.settings.inbound_mail_topic}",
        Message=json.dumps(notification))
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    [inbound] = [m for m in Message.query(ticket.id) if m.direction == "inbound"]
    assert "gate B44" in inbound.text and "Example Corp" not in inbound.text  # signature stripped


def test_a_bad_relay_signature_is_refused(stack, http):
    assert relay(stack, http, mail(), signature="t=1,v1=00").status_code == 401
    assert InboundMessage.count() == 0


def test_ses_mail_that_cannot_be_parsed_is_dead_lettered_and_replayable(stack, http):
    from .conftest import bearer
    notification = event("email/ses_sns_utf8.json")
    notification["content"] = event("email/invalid_from.eml").decode()
    boto3.client("sns", region_name="us-east-1").publish(
        TopicArn=f"arn:aws:sns:us-east-1:123456789012:{stack.settings.inbound_mail_topic}",
        Message=json.dumps(notification))
    stack.pump.drain()
    listing = http.get("/admin/dead-letters", headers=bearer(stack.settings, "sam")).json_body
    [letter] = listing["items"]
    assert letter["source"] == "email/ses" and letter["replayable"]
    assert http.get("/admin/dead-letters", headers=bearer(stack.settings, "bob")).status_code == 403
    again = http.post(f"/admin/dead-letters/{letter['id']}/replay", headers=bearer(stack.settings, "sam"))
    assert again.status_code == 422  # still unparseable: the fix has to come first


def ses_mail(stack, raw: bytes, dmarc: str) -> None:
    notification = event("email/ses_sns_utf8.json")
    notification["content"], notification["receipt"]["dmarcVerdict"] = raw.decode(), {"status": dmarc}
    boto3.client("sns", region_name="us-east-1").publish(
        TopicArn=f"arn:aws:sns:us-east-1:123456789012:{stack.settings.inbound_mail_topic}",
        Message=json.dumps(notification))
    stack.pump.drain()


def test_a_from_that_dmarc_did_not_prove_never_reaches_the_real_owners_tickets(stack, http):
    from chalicelib.storage.models import Customer, Identity
    ses_mail(stack, mail(), "PASS")
    [real] = list(Ticket.scan())
    forged = mail(msg_id="<forged@evil.example>", body="Cancel everything and refund to my new card",
                  extra=f"In-Reply-To: <a1@example.co.uk>\r\nSubject: Re: Refund request [{real.ref}]\r\n")
    ses_mail(stack, forged, "FAIL")
    assert Ticket.get(real.id).inbound_count == 1  # the owner's ticket did not take the forged mail
    [apart] = [t for t in Ticket.scan() if t.id != real.id]
    assert Identity.get("unauthenticated-email:olivia.brown@example.co.uk").customer_id == apart.customer_id
    assert Identity.get("email:olivia.brown@example.co.uk").customer_id == real.customer_id
    assert "email:olivia.brown@example.co.uk" not in Customer.get(apart.customer_id).contacts
    assert apart.reply_to["address"] == "olivia.brown@example.co.uk"  # answers still go to the mailbox named


def test_a_replayed_ses_mail_keeps_its_dmarc_verdict(stack):
    from chalicelib.services import intake
    from chalicelib.services import mail as ses
    from channels.base import RawRequest
    source = intake.SOURCES["email/ses"]
    for verdict, kind in (("false", "unauthenticated-email"), ("true", "email")):
        kept = source.parse(RawRequest("POST", "", {ses.AUTHENTICATED_HEADER: verdict}, mail()))
        assert source.normalize(kept)[0].sender_kind == kind


def test_a_mail_too_long_for_an_item_is_stored_cut_short_with_the_whole_text_attached(stack, http):
    from chalicelib.services import ingest
    text = "My flight BA0304 was cancelled. " + "Here is everything that happened. " * 15000  # ~500 KB
    assert relay(stack, http, mail(body=text)).status_code == 202
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    [inbound] = [m for m in Message.query(ticket.id) if m.direction == "inbound"]
    assert len(inbound.text) < ingest.MAX_STORED_TEXT + 200 and ingest.FULL_TEXT in inbound.text
    [whole] = [a for a in inbound.attachments if a["name"] == ingest.FULL_TEXT]
    kept = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=stack.settings.attachments_bucket, Key=whole["key"])["Body"].read().decode()
    assert kept.startswith("My flight BA0304") and len(kept) >= len(text) - 2


def test_a_subject_too_long_for_a_ticket_is_kept_cut_short_and_the_mail_still_opens_one(stack, http):
    from chalicelib.services import ingest
    subject = "Refund " + "please " * 40000   # ~280 KB: the ticket keeps the subject twice
    assert relay(stack, http, mail(subject=subject)).status_code == 202
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    assert ticket.subject == subject[:ingest.MAX_HEADER_TEXT].strip()


def a_parser_bug(monkeypatch):
    """The email parser fails every mail until the returned undo (the fix) is called."""
    import channels.email as email
    from chalicelib.errors import Unprocessable
    real = email.normalize

    def parser_bug(raw, authenticated=True, ours=""):
        raise Unprocessable("parser bug")
    monkeypatch.setattr(email, "normalize", parser_bug)
    return lambda: monkeypatch.setattr(email, "normalize", real)


def kept_whole(stack, letter: models.DeadLetter) -> bytes:
    return boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=stack.settings.attachments_bucket, Key=letter.payload["body_key"])["Body"].read()


def test_an_authentic_relayed_mail_over_64_kib_that_failed_to_parse_is_kept_whole_and_replays(stack, http,
                                                                                               monkeypatch):
    from .conftest import bearer
    fixed = a_parser_bug(monkeypatch)
    raw = mail(body="My receipt, line by line.\r\n" * 3000)       # about 80 KB
    assert len(raw) > 64 * 1024 and relay(stack, http, raw).status_code == 422
    [letter] = list(models.DeadLetter.scan())
    assert letter.payload["replayable"] and kept_whole(stack, letter) == raw
    fixed()
    replayed = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 200 and replayed.json_body["stored"] == 1, replayed.json_body


def test_ses_mail_over_64_kib_that_failed_to_parse_is_kept_whole_and_replays(stack, http, monkeypatch):
    from .conftest import bearer
    fixed = a_parser_bug(monkeypatch)
    raw = mail(body="My receipt, line by line.\r\n" * 3000)
    ses_mail(stack, raw, "PASS")
    [letter] = list(models.DeadLetter.scan())
    assert letter.source == "email/ses" and letter.payload["replayable"] and kept_whole(stack, letter) == raw
    fixed()
    replayed = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 200 and replayed.json_body["stored"] == 1, replayed.json_body
    [stored] = list(InboundMessage.scan())
    assert stored.body["sender_kind"] == "email"   # SES's verdict on the sender, kept beside the mail


def test_a_mail_whose_from_name_is_raw_utf8_opens_a_ticket_under_that_name(stack, http):
    assert relay(stack, http, event("email/utf8_display_name.eml")).status_code == 202
    stack.pump.drain()   # the name was stored as surrogates: every threading transaction failed
    [stored] = list(InboundMessage.scan())
    assert stored.body["sender_name"] == "Zoë Lefèvre" and stored.status == "processed"
    assert Ticket.count() == 1


def test_a_forwarded_mail_with_no_words_of_its_own_reaches_the_agent_whole(stack, http):
    assert relay(stack, http, event("email/forward_only.eml")).status_code == 202
    stack.pump.drain()
    [inbound] = [m for m in Message.query(only_ticket().id) if m.direction == "inbound"]
    assert "X7K2QD" in inbound.text and "GBP 212.40" in inbound.text, inbound.text


def answered_by_an_agent(stack, http) -> tuple[Ticket, Message]:
    """Olivia's mail, and an agent's answer to it: the ticket waits on her (pending)."""
    assert relay(stack, http, mail()).status_code == 202
    stack.pump.drain()
    ticket = only_ticket()
    ours = agent_replies(stack, http, ticket.id, "Your refund is on its way; anything else?")
    assert Ticket.get(ticket.id).status == "pending"
    return ticket, ours


def out_of_office(ticket: Ticket, ours: Message) -> bytes:
    """Exchange's automatic reply to our answer ({ref}, {ours}: the ticket's ref, our Message-ID)."""
    return (event("email/out_of_office_exchange.eml").replace(b"{ref}", ticket.ref.encode())
            .replace(b"{ours}", ours.provider_message_id.encode()))


def test_an_out_of_office_answering_the_agent_leaves_the_ticket_waiting_on_the_customer(stack, http):
    from chalicelib.storage.models import Agent
    ticket, ours = answered_by_an_agent(stack, http)
    load = dict(Agent.get("sam").load)
    assert relay(stack, http, out_of_office(ticket, ours)).status_code == 202
    stack.pump.drain()
    after = Ticket.get(ticket.id)
    assert after.status == "pending" and after.inbound_count == 1   # kept in the timeline, nothing more
    assert len([m for m in Message.query(ticket.id) if m.direction == "inbound"]) == 2
    assert dict(Agent.get("sam").load) == load


def test_an_out_of_office_is_not_what_the_agents_next_reply_answers(stack, http):
    ticket, ours = answered_by_an_agent(stack, http)
    relay(stack, http, out_of_office(ticket, ours))
    stack.pump.drain()
    agent_replies(stack, http, ticket.id, "Following up on your refund.")
    headers = stack.sent("ses")[-1]["body"]["raw"].split("\r\n\r\n", 1)[0]
    assert "Automatic reply" not in headers and "OOO0001" not in headers, headers
    assert "In-Reply-To: <a1@example.co.uk>" in headers


def references_sent(stack) -> list[str]:
    [line] = [h for h in stack.sent("ses")[-1]["body"]["raw"].splitlines() if h.startswith("References:")]
    return line.split()[1:]


def test_our_references_keep_the_threads_order_oldest_first(stack, http):
    """RFC 5322 3.6.4: the References of the mail answered, then its Message-ID."""
    ticket, ours = answered_by_an_agent(stack, http)
    ours_id = f"<{ours.provider_message_id}>"
    relay(stack, http, mail(subject=f"Re: Refund request [{ticket.ref}]", msg_id="<a2@example.co.uk>",
                            body="Booking X7K2QD.", extra=f"In-Reply-To: {ours_id}\r\n"
                                                          f"References: <a1@example.co.uk> {ours_id}\r\n"))
    stack.pump.drain()
    agent_replies(stack, http, ticket.id, "Thanks, refund approved.")
    assert references_sent(stack) == ["<a1@example.co.uk>", ours_id, "<a2@example.co.uk>"]


def test_a_long_thread_keeps_its_first_message_in_our_references(stack, http):
    thread = [f"<t{n}@example.co.uk>" for n in range(12)]
    relay(stack, http, mail(msg_id="<t12@example.co.uk>", extra=f"In-Reply-To: {thread[-1]}\r\n"
                                                               f"References: {' '.join(thread)}\r\n"))
    stack.pump.drain()   # the acknowledgement answers it
    assert references_sent(stack) == [thread[0], *thread[-8:], "<t12@example.co.uk>"]


def test_the_text_after_an_inline_photo_reaches_the_agent(stack, http):
    assert relay(stack, http, event("email/apple_mail_split_text.eml")).status_code == 202
    stack.pump.drain()
    [inbound] = [m for m in Message.query(only_ticket().id) if m.direction == "inbound"]
    assert "250 GBP" in inbound.text and [a["name"] for a in inbound.attachments] == ["IMG_0042.jpeg"]


def test_an_email_forwarded_inline_as_message_rfc822_is_kept_in_s3(stack, http):
    assert relay(stack, http, event("email/mutt_mime_forward.eml")).status_code == 202
    stack.pump.drain()
    [inbound] = [m for m in Message.query(only_ticket().id) if m.direction == "inbound"]
    [forwarded] = inbound.attachments
    kept = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=stack.settings.attachments_bucket, Key=forwarded["key"])["Body"].read()
    assert forwarded["content_type"] == "message/rfc822" and b"X7K2QD" in kept


def to_header(sent: dict) -> str:
    [to] = [line for line in sent["body"]["raw"].splitlines() if line.startswith("To:")]
    return to


def test_a_customer_on_an_international_domain_is_answered_at_the_address_she_wrote_from(stack, http):
    # ordinary mail names the domain in ASCII; kept in Unicode, it went out as anna@=?utf-8?q?m=C3=BCller?=.de
    assert relay(stack, http, mail(sender="anna@xn--mller-kva.de", name="Anna Muller")).status_code == 202
    stack.pump.drain()
    [ack] = stack.sent("ses")
    assert to_header(ack) == "To: anna@xn--mller-kva.de"


def test_a_customer_on_an_international_domain_is_found_by_either_form_of_her_address(stack, http):
    from .conftest import bearer
    relay(stack, http, mail(sender="anna@xn--mller-kva.de", name="Anna Muller"))
    stack.pump.drain()
    for typed in ("anna@xn--mller-kva.de", "anna@m%C3%BCller.de"):
        found = http.get(f"/tickets?contact={typed}", headers=bearer(stack.settings, "sam")).json_body["items"]
        assert [t["id"] for t in found] == [only_ticket().id], typed


def test_a_mail_with_a_message_id_too_long_for_a_key_opens_a_ticket_and_its_answer_threads(stack, http):
    long_id = "x" * 2100 + "@example.net"   # the dedup key was refused by DynamoDB: the relay got a 500
    assert relay(stack, http, mail(msg_id=f"<{long_id}>")).status_code == 202
    stack.pump.drain()
    relay(stack, http, mail(subject="More", msg_id="<a2@example.co.uk>", body="And my bag too.",
                            extra=f"In-Reply-To: <{long_id}>\r\n"))
    stack.pump.drain()
    assert Ticket.count() == 1 and only_ticket().inbound_count == 2


def test_our_own_reply_looping_back_opens_no_ticket_and_is_not_acknowledged(stack, http):
    """An agent's reply (a person wrote it: no Auto-Submitted) that a customer's forwarding rule
    sends back to the support address opened a ticket for support@ and acknowledged ourselves
    (the help form refuses our own address for the same reason)."""
    import dataclasses

    from chalicelib.settings import override_settings
    # an address email_validator takes for a sender (.local is a special-use domain)
    override_settings(dataclasses.replace(stack.settings, support_email="support@jetdesk.example.com"))
    ticket, _ = answered_by_an_agent(stack, http)
    looped = stack.sent("ses")[-1]["body"]["raw"]
    assert looped.startswith("From: support@jetdesk.example.com")
    before = len(stack.sent("ses"))
    assert relay(stack, http, looped.encode()).status_code == 202
    stack.pump.drain()
    assert Ticket.count() == 1 and len(stack.sent("ses")) == before
    assert {i.reason for i in InboundMessage.scan() if i.reason} == {"automated: no ticket opened"}
