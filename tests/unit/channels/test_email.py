import hashlib
import time
from dataclasses import replace
from email import policy
from email.parser import BytesParser

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.parsers import ResponseParserError

from chalicelib.auth.signatures import jetdesk_signature
from chalicelib.errors import Unauthorized, Unprocessable
from channels import email
from channels.base import ProviderRefused, ProviderUnavailable, RawRequest, SendContext
from tests.conftest import event

PATH = "/channels/email/inbound"
SES_ID = "0100019580a1b2c3-d4e5f6a7-b8c9-4d0e-1f2a-3b4c5d6e7f80-000000"


def signed(settings, body: bytes, at: int | None = None) -> RawRequest:
    header = jetdesk_signature(settings.jetdesk_signing_secret, body, at if at is not None else int(time.time()))
    return RawRequest("POST", PATH, {"Content-Type": email.CONTENT_TYPE, "X-JetDesk-Signature": header}, body)


def one(name: str):
    [msg] = email.normalize(event(f"email/{name}"))
    return msg


# --- verify ------------------------------------------------------------------

def test_a_message_signed_by_the_relay_verifies_and_comes_back_as_raw_bytes(settings):
    raw = event("email/reply_en.eml")
    assert email.verify(signed(settings, raw), settings) == raw


def test_a_tampered_message_is_refused(settings):
    request = signed(settings, event("email/reply_en.eml"))
    with pytest.raises(Unauthorized):
        email.verify(replace(request, body=request.body.replace(b"Lisbon", b"Madrid")), settings)


def test_a_stale_signature_is_refused(settings):
    with pytest.raises(Unauthorized):
        email.verify(signed(settings, event("email/reply_en.eml"), at=int(time.time()) - 301), settings)


def test_a_message_without_signature_is_refused(settings):
    with pytest.raises(Unauthorized):
        email.verify(RawRequest("POST", PATH, {}, event("email/reply_en.eml")), settings)


# --- normalize ---------------------------------------------------------------

def test_an_english_reply_keeps_only_the_new_text():
    msg = one("reply_en.eml")
    assert msg.text == ("Hello,\n\nI am still stuck at gate B44 in Frankfurt. What I need:\n"
                        "- a seat on the next flight to Lisbon\n- a hotel voucher if it only leaves tomorrow\n\nMaria")


def test_an_english_reply_normalises_to_the_inbound_shape():
    msg = one("reply_en.eml")
    assert (msg.channel, msg.provider, msg.sender_kind) == ("email", "email", "email")
    assert (msg.sender, msg.sender_name) == ("maria.lopez@example.com", "Maria Lopez")
    assert msg.recipient == "support@jetdesk.example.com"
    assert msg.dedup_key == "email#5f2c9e1a-7b3d-4c8e-9a0f-1d2e3f4a5b6c@example.com"
    assert msg.subject == "Re: Missed connection in Frankfurt [JD-7K3QX9AB]"
    assert not msg.automated and msg.attachments == ()


def test_a_reply_names_the_messages_it_answers_without_angle_brackets():
    assert one("reply_en.eml").thread_refs == ("0100019555a1b2c3-1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b-000000"
                                               "@email.amazonses.com",)


def test_thread_refs_are_the_references_oldest_first_each_once():
    raw = (b"From: a@example.com\nMessage-ID: <m3@example.com>\nIn-Reply-To: <m2@example.com>\n"
           b"References: <m1@example.com>\n <m2@example.com>\n\nhi\n")
    assert email.normalize(raw)[0].thread_refs == ("m1@example.com", "m2@example.com")


def test_an_in_reply_to_that_references_leaves_out_comes_last_as_the_message_answered():
    raw = (b"From: a@example.com\nMessage-ID: <m3@example.com>\nIn-Reply-To: <m2@example.com>\n"
           b"References: <m1@example.com>\n\nhi\n")
    assert email.normalize(raw)[0].thread_refs == ("m1@example.com", "m2@example.com")


LONG_ID = "x" * 2100 + "@example.net"   # over DynamoDB's 2,048-byte key


def test_a_message_id_too_long_for_a_key_is_kept_as_its_digest_and_so_referenced():
    [msg] = email.normalize(f"From: a@example.com\nMessage-ID: <{LONG_ID}>\n\nhi\n".encode())
    assert msg.provider_message_id == "sha256:" + hashlib.sha256(LONG_ID.encode()).hexdigest()
    answer = f"From: a@example.com\nMessage-ID: <r1@example.com>\nIn-Reply-To: <{LONG_ID}>\n\nhi\n".encode()
    assert email.normalize(answer)[0].thread_refs == (msg.provider_message_id,)


def test_a_thread_of_many_references_keeps_its_first_and_its_last():
    thread = [f"m{n}@example.com" for n in range(60)]
    references = " ".join(f"<{i}>" for i in thread)
    raw = f"From: a@example.com\nMessage-ID: <m60@example.com>\nReferences: {references}\n\nhi\n"
    assert email.normalize(raw.encode())[0].thread_refs == (thread[0], *thread[-19:])


def test_an_old_style_in_reply_to_phrase_is_no_thread_ref():
    raw = b"From: a@example.com\nMessage-ID: <m3@example.com>\nIn-Reply-To: Your message of Mon, 3 Mar 2025\n\nhi\n"
    assert email.normalize(raw)[0].thread_refs == ()


@pytest.mark.parametrize("address", ["anna@xn--mller-kva.de", "anna@müller.de", "Anna@MÜLLER.DE"])
def test_a_sender_on_an_international_domain_is_kept_with_the_domain_in_ascii(address):
    raw = f"From: Anna <{address}>\nMessage-ID: <idn@example.de>\n\nhi\n".encode()
    assert email.normalize(raw)[0].sender == "anna@xn--mller-kva.de"


def test_the_recipient_is_the_first_to_address_even_among_several():
    raw = (b"From: a@example.com\nMessage-ID: <m@example.com>\n"
           b"To: Friend <Friend@Example.com>, JetDesk <support@jetdesk.example.com>\n\nhi\n")
    assert email.normalize(raw)[0].recipient == "friend@example.com"


def test_without_to_the_recipient_is_the_delivered_to_address():
    raw = b"From: a@example.com\nMessage-ID: <m@example.com>\nDelivered-To: Support@JetDesk.example.com\n\nhi\n"
    assert email.normalize(raw)[0].recipient == "support@jetdesk.example.com"


def test_a_french_reply_drops_the_quoted_message_and_the_sign_off():
    msg = one("reply_fr.eml")
    assert msg.text == ("Bonjour,\n\nMa valise n'est toujours pas arrivée et je repars demain matin.\n"
                        "Pouvez-vous la faire livrer à l'hôtel ?")
    assert (msg.sender_name, msg.subject) == ("Amélie Martin", "Re: Bagage perdu à Roissy")


def test_a_from_name_and_subject_sent_raw_in_utf8_keep_their_letters():
    msg = one("utf8_display_name.eml")   # RFC 6532: no encoded words, the UTF-8 bytes themselves
    assert (msg.sender_name, msg.subject) == ("Zoë Lefèvre", "Vol annulé, remboursement")


def test_header_bytes_that_are_not_utf8_become_replacement_characters_not_surrogates():
    raw = b"From: Zo\xe9 <zoe@example.fr>\nMessage-ID: <l1@example.fr>\nSubject: R\xe9servation\n\nbonjour\n"
    [msg] = email.normalize(raw)
    assert (msg.sender_name, msg.subject) == ("Zo\ufffd", "R\ufffdservation")


def test_an_attached_email_with_raw_utf8_headers_is_kept_with_them():
    raw = ("From: a@example.com\nMessage-ID: <fwd8@example.com>\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee below\n"
           "--B\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"original.eml\"\n\n"
           "From: Zoë <zoe@example.fr>\nSubject: réservation\n\nthe original\n--B--\n").encode()
    [attached] = email.normalize(raw)[0].attachments
    assert "From: Zoë <zoe@example.fr>".encode() in attached.content


def test_an_html_only_message_becomes_plain_text_without_styles_or_scripts():
    msg = one("html_only.eml")
    assert msg.text == ("Hello,\n\nMy mother (booking QX7P2M) flies to Osaka tomorrow and needs a wheelchair "
                        "& help at the connection.\nCan you confirm it is arranged?\n\nKenji")


def test_a_gmail_html_quote_is_dropped_like_a_plain_one():
    html = ('<div dir="ltr">Any news?<br></div><div class="gmail_quote"><div class="gmail_attr">'
            'On Mon, 3 Mar 2025 at 09:12, JetDesk Support &lt;support@jetdesk.example.com&gt; wrote:<br></div>'
            '<blockquote class="gmail_quote">Dear Maria,<br>we are on it.</blockquote></div>')
    assert email.new_text(email.html_to_text(html)) == "Any news?"


def test_a_sentence_starting_like_a_sign_off_is_not_cut_away():
    text = "Hello,\nThanks, but my bag is still in Paris and I fly home tomorrow morning.\n\nBest regards,\nJo"
    assert "my bag is still in Paris" in email.new_text(text)


def test_a_message_that_is_all_quote_keeps_its_text():
    assert email.new_text("> only what you wrote to me") == "> only what you wrote to me"


def test_a_forward_with_no_words_of_its_own_keeps_what_it_forwards():
    msg = one("forward_only.eml")   # Gmail: "---------- Forwarded message ---------", the headers, the mail
    assert "X7K2QD" in msg.text and "GBP 212.40" in msg.text and "\r" not in msg.text


FORWARDED = ("From: JetAir <reservations@jetair.example>\nDate: Sun, Dec 6, 2026 at 6:40 PM\n"
             "Subject: Your booking X7K2QD\nTo: <olivia.brown@example.co.uk>\n\nTotal charged: GBP 212.40.\n")


@pytest.mark.parametrize("separator", ["---------- Forwarded message ---------", "Begin forwarded message:",
                                       "-------- Message transféré --------", "Anfang der weitergeleiteten Nachricht:"])
def test_a_forward_under_an_edited_subject_keeps_what_it_forwards(separator):
    text = email.new_text(f"Charged twice, see below.\n\n{separator}\n{FORWARDED}", "Booking X7K2QD")
    assert text.startswith("Charged twice") and "GBP 212.40" in text


@pytest.mark.parametrize("subject", ["Fwd: Your booking X7K2QD", "FW: Your booking", "TR: Votre réservation",
                                     "WG: Ihre Buchung"])
def test_a_forward_keeps_its_whole_text_whatever_comes_between(subject):
    text = email.new_text("Charged twice.\n\nOn Sun, Dec 6, 2026 at 6:40 PM JetAir wrote:\n> GBP 212.40\n", subject)
    assert "GBP 212.40" in text


def test_a_reply_to_a_forward_keeps_only_its_new_text():
    text = email.new_text("Any news?\n\nOn Mon, 7 Dec 2026 at 10:00, JetDesk <support@jetdesk.example.com> wrote:\n"
                          "> We are on it.\n", "Re: Fwd: Your booking X7K2QD")
    assert text == "Any news?"


def test_attachments_and_named_inline_images_come_with_their_bytes():
    msg = one("attachment_pdf.eml")
    files = {a.name: a for a in msg.attachments}
    assert sorted(files) == ["boarding-pass BA0304.pdf", "screenshot.png"]
    pdf = files["boarding-pass BA0304.pdf"]
    assert (pdf.content_type, pdf.size) == ("application/pdf", len(pdf.content))
    assert pdf.content.startswith(b"%PDF-1.4") and pdf.content.rstrip().endswith(b"%%EOF")
    assert files["screenshot.png"].content.startswith(b"\x89PNG")
    assert msg.text.startswith("Hi,\n\nMy flight BA0304 on 4 March was cancelled.")


def test_an_attached_email_is_one_file():
    raw = (b"From: a@example.com\nMessage-ID: <fwd@example.com>\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee below\n"
           b"--B\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"original.eml\"\n\n"
           b"From: x@example.com\nSubject: original\n\nthe original\n--B--\n")
    [attached] = email.normalize(raw)[0].attachments
    assert (attached.name, attached.content_type) == ("original.eml", "message/rfc822")
    assert b"the original" in attached.content


def test_an_email_forwarded_inline_without_a_file_name_is_one_file_named_after_its_subject():
    msg = one("mutt_mime_forward.eml")   # mutt's MIME forward: message/rfc822, inline, no filename
    [forwarded] = msg.attachments
    assert (forwarded.name, forwarded.content_type) == ("Your booking confirmation X7K2QD.eml", "message/rfc822")
    assert b"Total charged: GBP 212.40" in forwarded.content
    assert msg.text == "The booking below was charged twice."


def test_an_out_of_office_reply_is_automated():
    assert one("auto_reply.eml").automated


def test_a_bounce_is_automated_and_readable():
    msg = one("bounce.eml")
    assert msg.automated and msg.sender == "mailer-daemon@mx1.example.net"
    assert "User unknown" in msg.text


def test_mailing_list_mail_is_automated():
    assert one("mailing_list.eml").automated


@pytest.mark.parametrize("header", [
    "Auto-Submitted: auto-generated", "Precedence: bulk", "Precedence: junk", "Precedence: auto_reply",
    "X-Autoreply: yes", "X-Autorespond: vacation", "List-Unsubscribe: <mailto:leave@example.com>",
])
def test_auto_reply_and_bulk_headers_mark_a_message_automated(header):
    raw = f"From: a@example.com\nMessage-ID: <x@example.com>\n{header}\n\nhi\n".encode()
    assert email.normalize(raw)[0].automated


@pytest.mark.parametrize("sender", ["no-reply@example.com", "NoReply@example.com", "postmaster@example.com"])
def test_robot_senders_are_automated(sender):
    raw = f"From: {sender}\nMessage-ID: <x@example.com>\n\nhi\n".encode()
    assert email.normalize(raw)[0].automated


def test_a_notice_from_the_null_return_path_is_automated():
    msg = one("delivery_delayed_null_return_path.eml")   # a gateway's "delivery delayed", no Auto-Submitted
    assert msg.automated


def test_a_return_path_naming_a_mailbox_is_a_person():
    assert not one("reply_fr.eml").automated   # Return-Path: <amelie.martin@example.fr>


@pytest.mark.parametrize("sender", ["support@jetdesk.example.com", "Support+JD-7K3QX9AB@JetDesk.example.com"])
def test_mail_from_our_own_support_address_is_automated(sender):
    raw = f"From: JetDesk <{sender}>\nMessage-ID: <loop@example.com>\n\nYour refund is approved.\n".encode()
    assert email.normalize(raw, ours="JetDesk Support <support@jetdesk.example.com>")[0].automated


def test_mail_from_another_mailbox_at_our_domain_is_a_person():
    raw = b"From: Maria <maria@jetdesk.example.com>\nMessage-ID: <colleague@example.com>\n\nMy bag is lost.\n"
    assert not email.normalize(raw, ours="support@jetdesk.example.com")[0].automated


def test_auto_submitted_no_is_a_person():
    raw = b"From: a@example.com\nMessage-ID: <x@example.com>\nAuto-Submitted: no\n\nhi\n"
    assert not email.normalize(raw)[0].automated


def test_a_message_without_message_id_gets_a_stable_dedup_key():
    raw = event("email/no_message_id.eml")
    first, again = email.normalize(raw)[0], email.normalize(raw)[0]
    assert first.provider_message_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert first.dedup_key == again.dedup_key


def test_an_invalid_from_is_unprocessable():
    with pytest.raises(Unprocessable, match="From"):
        email.normalize(event("email/invalid_from.eml"))


@pytest.mark.parametrize("raw", [b"", b"Subject: hi\n\nno sender\n", b"not an email at all"])
def test_a_message_without_sender_is_unprocessable(raw):
    with pytest.raises(Unprocessable):
        email.normalize(raw)


@pytest.mark.parametrize("subject, ref", [
    ("Re: Missed connection [JD-7K3QX9AB]", "JD-7K3QX9AB"),
    ("re: case jd-7k3qx9ab please", "JD-7K3QX9AB"),
    ("Booking QX7P2M", None),
    ("JD-7K3QX9ABC is too long", None),
    (None, None),
])
def test_the_ticket_ref_is_found_in_a_subject(subject, ref):
    assert email.ticket_ref(subject) == ref


# --- SES receipt notifications -----------------------------------------------

def test_an_sns_action_notification_carries_the_email_as_text():
    raw = email.from_ses_notification(event("email/ses_sns_utf8.json"))
    assert email.normalize(raw)[0].sender == "maria.lopez@example.com"


def test_an_sns_action_notification_carries_the_email_in_base64():
    raw = email.from_ses_notification(event("email/ses_sns_base64.json"))
    assert email.normalize(raw)[0].sender_name == "Amélie Martin"


def test_an_s3_action_notification_points_at_the_stored_email():
    notification = event("email/ses_s3.json")
    assert email.from_ses_notification(notification) is None
    assert email.s3_location(notification) == ("jetdesk-prod-inbound-email",
                                               "inbound/7h8g9f0e1d2c3b4a5z6y7x8w9v0u1t2s3r4q5p61")


def test_an_sns_action_notification_has_no_s3_location():
    with pytest.raises(Unprocessable):
        email.s3_location(event("email/ses_sns_utf8.json"))


@pytest.mark.parametrize("change", [
    {"notificationType": "Bounce"},
    {"receipt": {"action": {"type": "Lambda", "functionArn": "arn:aws:lambda:us-east-1:1:function:f"}}},
    {"content": None},
    {"content": "%%% not base64 %%%"},
])
def test_other_notifications_are_unprocessable(change):
    with pytest.raises(Unprocessable):
        email.from_ses_notification({**event("email/ses_sns_base64.json"), **change})


# --- send --------------------------------------------------------------------

class FakeSES:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict] = []
        self.error = error

    def send_raw_email(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return {"MessageId": SES_ID, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def sent(self):
        return BytesParser(policy=policy.default).parsebytes(self.calls[-1]["RawMessage"]["Data"])


REPLY_TO = {"channel": "email", "provider": "email", "address": "maria.lopez@example.com",
            "from": "support@jetdesk.example.com", "subject": "RE: Re: Missed connection in Frankfurt",
            "ref": "JD-7K3QX9AB", "in_reply_to": "5f2c9e1a@example.com",
            "references": ["0100019555a1b2c3@email.amazonses.com", "5f2c9e1a@example.com"]}


def context(settings, ses: FakeSES, region: str = "us-east-1") -> SendContext:
    return SendContext(settings=replace(settings, region=region), http=None, ses=lambda: ses)


def test_a_reply_threads_under_the_customer_message(settings):
    ses = FakeSES()
    email.send(context(settings, ses), REPLY_TO, "A seat on LH1170 is yours.")
    sent = ses.sent()
    assert sent["In-Reply-To"] == "<5f2c9e1a@example.com>"
    assert str(sent["References"]).split() == ["<0100019555a1b2c3@email.amazonses.com>", "<5f2c9e1a@example.com>"]
    assert (str(sent["From"]), str(sent["To"])) == ("support@jetdesk.example.com", "maria.lopez@example.com")
    assert sent.get_content().strip() == "A seat on LH1170 is yours."


def test_a_reply_to_an_international_domain_goes_to_its_ascii_form(settings):
    ses = FakeSES()   # a ticket stored before addresses were kept in ASCII
    email.send(context(settings, ses), {**REPLY_TO, "address": "anna@müller.de"}, "text")
    headers = ses.calls[-1]["RawMessage"]["Data"].split(b"\r\n\r\n", 1)[0].decode()
    assert "\r\nTo: anna@xn--mller-kva.de\r\n" in headers


def test_a_reply_subject_has_one_re_and_the_ticket_ref(settings):
    ses = FakeSES()
    email.send(context(settings, ses), REPLY_TO, "text")
    assert ses.sent()["Subject"] == "Re: Missed connection in Frankfurt [JD-7K3QX9AB]"


def test_a_ref_already_in_the_subject_is_not_repeated():
    assert email.reply_subject("Re: Missed connection [jd-7k3qx9ab]", "JD-7K3QX9AB") == \
        "Re: Missed connection [jd-7k3qx9ab]"


def test_a_reply_has_our_own_message_id_and_is_not_marked_automatic(settings):
    ses = FakeSES()
    email.send(context(settings, ses), REPLY_TO, "text")
    sent = ses.sent()
    assert str(sent["Message-ID"]).endswith("@jetdesk.example.com>")
    assert "Auto-Submitted" not in sent


def test_a_reply_without_sender_comes_from_the_support_address(settings):
    ses = FakeSES()
    email.send(context(settings, ses), {"address": "maria.lopez@example.com"}, "text")
    assert str(ses.sent()["From"]) == settings.support_email
    assert "In-Reply-To" not in ses.sent()


def test_our_placeholder_id_is_never_used_to_thread(settings):
    ses = FakeSES()
    email.send(context(settings, ses), {**REPLY_TO, "in_reply_to": "sha256:abc", "references": ["sha256:abc"]}, "t")
    assert "In-Reply-To" not in ses.sent() and "References" not in ses.sent()


@pytest.mark.parametrize("region, domain", [("us-east-1", "email.amazonses.com"),
                                            ("eu-west-1", "eu-west-1.amazonses.com")])
def test_the_provider_id_is_the_message_id_ses_gives_the_email(settings, region, domain):
    sent = email.send(context(settings, FakeSES(), region), REPLY_TO, "text")
    assert (sent.provider_message_id, sent.status) == (f"{SES_ID}@{domain}", "queued")


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "SendRawEmail")


@pytest.mark.parametrize("error", [client_error("Throttling", 400), client_error("ServiceUnavailable", 503),
                                   EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com"),
                                   ResponseParserError("invalid XML received (a proxy's 502 page)")])
def test_throttling_outages_and_lost_connections_are_tried_again(settings, error):
    with pytest.raises(ProviderUnavailable):
        email.send(context(settings, FakeSES(error)), REPLY_TO, "text")


def test_a_rejected_message_fails_with_the_ses_reason(settings):
    ses = FakeSES(client_error("MessageRejected", 400))
    with pytest.raises(ProviderRefused, match="MessageRejected: MessageRejected happened"):
        email.send(context(settings, ses), REPLY_TO, "text")


def test_long_ses_message_ids_are_never_folded_in_threading_headers(settings):
    class Recorder:
        def __init__(self):
            self.raw = b""

        def send_raw_email(self, RawMessage):
            self.raw = RawMessage["Data"]
            return {"MessageId": "0100019555a1b2c3-1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b-000000"}
    ses = Recorder()
    long_id = "0100019555a1b2c3-1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b-000000@email.amazonses.com"
    reply_to = {"channel": "email", "provider": "email", "address": "a@example.com", "subject": "Lost bag",
                "ref": "JD-ABCDEFGH", "in_reply_to": long_id, "references": ["first@example.com", long_id]}
    from channels.base import SendContext
    email.send(SendContext(settings=settings, http=None, ses=lambda: ses), reply_to, "Found it")
    headers = ses.raw.split(b"\r\n\r\n", 1)[0].decode()
    assert f"In-Reply-To: <{long_id}>" in headers and "=?" not in headers


def test_a_customer_subject_cannot_inject_headers_into_our_reply():
    subject = email.reply_subject("Refund\r\nBcc: everyone@example.com", "JD-ABCDEFGH")
    assert "\r" not in subject and "\n" not in subject and subject.startswith("Re: Refund Bcc:")


@pytest.mark.parametrize("depth", [30, 5000])
def test_a_mime_bomb_nesting_multiparts_thousands_deep_is_unprocessable(depth):
    nested = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth))
    raw = b"From: olivia@example.co.uk\r\nSubject: bomb\r\n" + nested + b"Content-Type: text/plain\r\n\r\nhi\r\n"
    with pytest.raises(Unprocessable, match="nests its MIME parts"):
        email.normalize(raw)


def test_real_mail_nesting_a_few_levels_deep_is_read():
    nested = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(4))
    raw = b"From: olivia@example.co.uk\r\nSubject: ok\r\n" + nested + b"Content-Type: text/plain\r\n\r\nhi\r\n"
    assert email.normalize(raw)[0].text == "hi"


def test_html_the_standard_parser_chokes_on_still_gives_its_words():
    raw = (b"From: Ana <ana@example.org>\nMessage-ID: <html-crash@example.org>\nSubject: bag\nMIME-Version: 1.0\n"
           b"Content-Type: text/html; charset=utf-8\n\n<p>My bag is lost</p><![ if mso]><p>Flight TP1234</p>\n")
    [msg] = email.normalize(raw)
    assert "My bag is lost" in msg.text and "TP1234" in msg.text


def test_an_empty_plain_alternative_gives_way_to_the_html():
    raw = (b'From: a@example.org\nMessage-ID: <m1@example.org>\nMIME-Version: 1.0\n'
           b'Content-Type: multipart/alternative; boundary="XX"\n\n--XX\nContent-Type: text/plain; charset=utf-8\n\n\n'
           b'--XX\nContent-Type: text/html; charset=utf-8\n\n<p>My bag never arrived, booking ABC123</p>\n--XX--\n')
    [msg] = email.normalize(raw)
    assert "ABC123" in msg.text


def test_the_words_after_an_inline_photo_are_part_of_the_message():
    msg = one("apple_mail_split_text.eml")   # Apple Mail: text, photo, text
    assert msg.text == ("Hello, my suitcase came off BA0304 like this:\n\n"
                        "The wheel is gone and the handle is broken. I want 250 GBP for a new one.")
    assert [a.name for a in msg.attachments] == ["IMG_0042.jpeg"]


def test_a_plain_alternative_is_the_text_without_the_parts_beside_its_alternative():
    raw = (b'From: a@example.org\nMessage-ID: <m3@example.org>\nMIME-Version: 1.0\n'
           b'Content-Type: multipart/mixed; boundary="M"\n\n--M\n'
           b'Content-Type: multipart/alternative; boundary="A"\n\n--A\nContent-Type: text/plain\n\nMy bag is lost\n'
           b'--A\nContent-Type: text/html\n\n<p>My bag is lost</p>\n--A--\n'
           b'--M\nContent-Type: text/plain\nContent-Disposition: attachment\n\nlog line\n--M--\n')
    [msg] = email.normalize(raw)
    assert msg.text == "My bag is lost"


def test_a_text_file_sent_inline_is_an_attachment_not_the_message():
    raw = (b'From: a@example.org\nMessage-ID: <m2@example.org>\nMIME-Version: 1.0\n'
           b'Content-Type: multipart/mixed; boundary="XX"\n\n--XX\nContent-Type: text/html; charset=utf-8\n\n'
           b'<p>My bag never arrived, see the log attached</p>\n--XX\n'
           b'Content-Type: text/plain; charset=utf-8; name="log.txt"\n'
           b'Content-Disposition: inline; filename="log.txt"\n\n'
           b'12:00 checked in\n--XX--\n')
    [msg] = email.normalize(raw)
    assert "bag never arrived" in msg.text and [a.name for a in msg.attachments] == ["log.txt"]


@pytest.mark.parametrize("mid, kept", [("<", None), ("<[abc]@example.org>", "[abc]@example.org"),
                                       ("<a@b@c>", "a@b@c")])
def test_a_message_id_the_standard_parser_rewrites_or_chokes_on_is_kept_as_sent(mid, kept):
    raw = f"From: a@example.org\nMessage-ID: {mid}\nSubject: hi\n\nMy flight".encode()
    [msg] = email.normalize(raw)
    assert msg.text == "My flight"
    assert msg.provider_message_id == kept if kept else msg.provider_message_id.startswith("sha256:")
