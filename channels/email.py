"""Email: raw RFC 822 messages in (mail relay or SES receipt), replies out through SES."""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from html.parser import HTMLParser
from typing import Any, Iterator, Optional

from email_validator import EmailNotValidError
from mailparser_reply import EmailMessage as ReplyText

from chalicelib.auth.signatures import verify_jetdesk_signature
from chalicelib.domain import contacts, tickets
from chalicelib.domain.inbound import Attachment, InboundMessage
from chalicelib.errors import Unprocessable

from .base import RawRequest, SendContext, Sent, aws_answer, refuses_malformed

CONTENT_TYPE = "message/rfc822"
SIGNATURE_HEADER = "X-JetDesk-Signature"
SYNTHETIC_ID = "sha256:"
# A Message-ID is a DynamoDB key (the dedup key, the provider-message index: at most 2,048 bytes);
# real ones are under 100 characters. A longer one is kept as a digest (SYNTHETIC_ID: never sent back).
MAX_ID_BYTES = 500
MAX_THREAD_REFS = 20   # of References, the first (the thread's root) and the last: threading reads the last 10
REPLY_LANGUAGES = ("en", "fr", "de", "es", "it", "nl", "pl", "sv", "da", "cs")
BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
AUTOMATED_HEADERS = ("X-Autoreply", "X-Autorespond", "List-Unsubscribe", "List-Id")
ROBOT_SENDERS = {"mailer-daemon", "postmaster", "no-reply", "noreply", "no_reply", "donotreply", "do-not-reply"}
MSG_ID = re.compile(r"<([^<>\s]+)>")
REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv)\s*:\s*)+", re.IGNORECASE)
# "Fwd:" as mail clients write it in the REPLY_LANGUAGES (TR: fr, WG: de, RV: es, Doorst: nl, VB: sv,
# VS: da, PD: pl, ENC: pt); "I:" (it) is left out: too many subjects begin with a word and a colon.
FORWARD_PREFIX = re.compile(r"^\s*(?:fwd?|tr|wg|rv|doorst|vb|vs|pd|enc)\s*:", re.IGNORECASE)
# The line above what a client forwards: "---------- Forwarded message ---------" (Gmail,
# Thunderbird, in each language), "Begin forwarded message:" (Apple Mail)
FORWARD_WORDS = re.compile(r"forward|transf[ée]r[ée]|r[ée]exp[ée]di[ée]|weitergeleitet|reenviado|inoltrat|"
                           r"doorgestuurd|vidarebefordrat|videresendt|przekazan|p[řr]eposlan", re.IGNORECASE)
MAX_MIME_DEPTH = 20  # real mail nests 3 or 4 deep (mixed > alternative > related); a bomb nests thousands
SIGN_OFF_MAX = 40   # characters on the first line of a real sign-off ("Best regards,", "-- ")


# --- inbound -----------------------------------------------------------------

class _UTF8Headers(EmailPolicy):
    """``policy.default``, reading header bytes outside ASCII as UTF-8 (RFC 6532: "Zoë" sent raw
    by an SMTPUTF8 client). The standard parser hands them over as surrogate escapes, which no
    address, name or subject may keep: DynamoDB cannot store them. Bytes that are not UTF-8
    become U+FFFD. ``utf8``: an attached email written back to bytes keeps its UTF-8 headers."""

    def header_source_parse(self, sourcelines):
        name, value = super().header_source_parse(sourcelines)
        return name, value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


PARSING = _UTF8Headers(utf8=True)


def verify(request: RawRequest, settings) -> bytes:
    """The relay signs the raw message with X-JetDesk-Signature; the raw bytes are the payload."""
    verify_jetdesk_signature(settings.jetdesk_signing_secret, request.header(SIGNATURE_HEADER),
                             request.body, settings.signature_tolerance_seconds)
    return request.body


UNAUTHENTICATED = "unauthenticated-email"  # the contact kind of a From that DMARC did not prove


@refuses_malformed("email")
def normalize(raw: bytes, authenticated: bool = True, ours: str = "") -> list[InboundMessage]:
    """``authenticated``: the receiving server proved the From domain (DMARC). When it did not,
    the address is only what the mail claims: answers still go there, but the mail is kept apart
    from the customer who really owns the address (``unauthenticated-email:`` identity, the
    address recorded unverified), so nobody writes into another's tickets by forging a From.
    ``ours``: our support address. Mail from it (any +tag) is our own come back (a customer's
    forwarding rule, a list): automated, so it opens no ticket and we never answer ourselves."""
    msg = _parse(raw)
    sender, sender_name = _sender(msg)
    subject = str(msg.get("Subject") or "").strip() or None
    return [InboundMessage(
        channel="email", provider="email", provider_message_id=_message_id(msg, raw),
        sender_kind="email" if authenticated else UNAUTHENTICATED, sender=sender, sender_name=sender_name,
        recipient=_recipient(msg), subject=subject, text=new_text(_body_text(msg), subject),
        thread_refs=_thread_refs(msg),
        attachments=tuple(_attachment(p) for p in _file_parts(msg)),
        automated=is_automated(msg, sender) or bool(ours) and contacts.mailbox(sender) == contacts.mailbox(ours),
        unverified_contacts=() if authenticated else (("email", sender),),
    )]


def sender_authenticated(notification: dict) -> bool:
    """SES's verdict on the From domain: DMARC passed (SPF or DKIM aligned with it). SPF or DKIM
    alone proves only some domain, not the one in From."""
    verdict = ((notification.get("receipt") or {}).get("dmarcVerdict") or {}).get("status")
    return str(verdict).upper() == "PASS"


def ticket_ref(subject: Optional[str]) -> Optional[str]:
    """A JetDesk ref like JD-7K3QX9AB in a subject, upper-cased (one rule, kept in the domain)."""
    return tickets.find_ref(subject)


def _parse(raw: bytes) -> EmailMessage:
    if not raw or not raw.strip():
        raise Unprocessable("the email is empty")
    try:
        msg = BytesParser(policy=PARSING).parsebytes(raw)
    except RecursionError:      # the stdlib parser recurses once per nested multipart
        raise Unprocessable("the email nests its MIME parts too deeply") from None
    if _depth(msg) > MAX_MIME_DEPTH:
        raise Unprocessable(f"the email nests its MIME parts more than {MAX_MIME_DEPTH} deep")
    return msg


def _depth(msg: EmailMessage) -> int:
    """How deep multiparts nest (walked without recursion: this is what a MIME bomb attacks)."""
    deepest, stack = 0, [(msg, 1)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        children = part.get_payload()
        if isinstance(children, list) and depth <= MAX_MIME_DEPTH:
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _sender(msg: EmailMessage) -> tuple[str, Optional[str]]:
    try:
        addresses = getattr(msg["From"], "addresses", ())
    except (IndexError, TypeError, ValueError):     # headers the parser cannot make sense of
        addresses = ()
    if not addresses or not addresses[0].addr_spec:
        raise Unprocessable("the email has no From address")
    raw_address = addresses[0].addr_spec
    try:
        address = contacts.email_address(raw_address)   # an international domain in ASCII, as answers need
    except EmailNotValidError as exc:
        raise Unprocessable(f"From {raw_address!r} is not a valid email address: {exc}") from None
    return address, addresses[0].display_name or None


def _recipient(msg: EmailMessage) -> str:
    for name in ("To", "Delivered-To"):
        found = [a for _, a in getaddresses([str(v) for v in msg.get_all(name, [])]) if "@" in a]
        if found:
            return found[0].lower()
    return ""


def _message_ids(value: Any) -> list[str]:
    # Some clients drop the <>; old ones put a phrase in In-Reply-To ("Your message of …").
    text = str(value or "")
    return MSG_ID.findall(text) or [word for word in text.split() if "@" in word]


def _raw_header(msg: EmailMessage, name: str) -> str:
    """A header's text as sent: the standard library's parsed Message-ID header rewrites some ids
    (``< a@b >``, ``<a@b@c>``) and raises on others (``<``), and these ids must match the ones the
    customer's next References quotes byte for byte."""
    return " ".join(str(value) for key, value in msg.raw_items() if key.lower() == name.lower())


def _kept_id(message_id: str) -> str:
    """The id as sent, or, over MAX_ID_BYTES, its digest: the same for the mail and for every later
    mail that references it, so those still thread."""
    if len(message_id.encode("utf-8")) <= MAX_ID_BYTES:
        return message_id
    return SYNTHETIC_ID + hashlib.sha256(message_id.encode("utf-8")).hexdigest()


def _message_id(msg: EmailMessage, raw: bytes) -> str:
    """The Message-ID; without one, a digest of the bytes so a redelivery still deduplicates."""
    ids = _message_ids(_raw_header(msg, "Message-ID"))
    return _kept_id(ids[0]) if ids else SYNTHETIC_ID + hashlib.sha256(raw).hexdigest()


def _thread_refs(msg: EmailMessage) -> tuple[str, ...]:
    """The thread's ids oldest first, as References lists them (RFC 5322 3.6.4), then In-Reply-To's
    if References lacks it: the message answered is last, and our reply's References is these
    and then this message's id. At most MAX_THREAD_REFS, each at most MAX_ID_BYTES (the stored
    message is one DynamoDB item)."""
    ids = _message_ids(_raw_header(msg, "References")) + _message_ids(_raw_header(msg, "In-Reply-To"))
    refs = list(dict.fromkeys(_kept_id(i) for i in ids))
    return tuple(refs if len(refs) <= MAX_THREAD_REFS else refs[:1] + refs[1 - MAX_THREAD_REFS:])


def is_automated(msg: EmailMessage, sender: str) -> bool:
    """Auto-replies, bounces and bulk mail (RFC 3834, RFC 2369/2919, RFC 3464)."""
    auto_submitted = str(msg.get("Auto-Submitted") or "").split(";")[0].strip().lower()
    precedence = str(msg.get("Precedence") or "").strip().lower()
    return bool(
        auto_submitted and auto_submitted != "no"
        or _null_return_path(msg)
        or precedence in BULK_PRECEDENCE
        or any(name in msg for name in AUTOMATED_HEADERS)
        or sender.partition("@")[0] in ROBOT_SENDERS
        or msg.get_content_type() == "multipart/report"
    )


def _null_return_path(msg: EmailMessage) -> bool:
    """``Return-Path: <>``, the null envelope sender of bounces, delay notices and auto-replies,
    which RFC 3834 (section 2) forbids answering; the receiving server adds it on top."""
    first = next((value for name, value in msg.raw_items() if name.lower() == "return-path"), None)
    return first is not None and "".join(str(first).split()) == "<>"


# --- text --------------------------------------------------------------------

def _body_text(msg: EmailMessage) -> str:
    """The plain text, or the HTML's text when there is no plain text with words in it; a
    ``text/plain`` part with a file name (a log sent inline) is a file, not the body."""
    plain = msg.get_body(preferencelist=("plain",))
    if plain is not None and not plain.get_filename():
        text = "\n\n".join(_decoded(part).strip("\r\n") for part in _inline_texts(msg, plain))
        if text.strip():
            return text
    html = msg.get_body(preferencelist=("html",))
    return html_to_text(_decoded(html)) if html is not None else ""


def _inline_texts(msg: EmailMessage, plain: EmailMessage) -> list[EmailMessage]:
    """The body part and, when it is one of a ``multipart/mixed``, the other plain texts shown
    inline beside it, in order: Apple Mail sends text, photo, text as three parts, and the words
    after the photo are the customer's too (``get_body`` gives the first part only)."""
    parent = _parent(msg, plain)
    if parent is None or parent.get_content_type() != "multipart/mixed":
        return [plain]
    return [part for part in parent.iter_parts()
            if part is plain or part.get_content_type() == "text/plain" and not part.get_filename()
            and part.get_content_disposition() != "attachment"]


def _parent(msg: EmailMessage, child: EmailMessage) -> Optional[EmailMessage]:
    stack = [msg]   # multiparts only: an attached email's parts are not the body's neighbours
    while stack:
        part = stack.pop()
        children = list(part.iter_parts())
        if any(c is child for c in children):
            return part
        stack.extend(children)
    return None


def _decoded(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except LookupError:     # a charset Python does not know: keep what UTF-8 can read
        return (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")


def new_text(text: str, subject: Optional[str] = None) -> str:
    """What the customer wrote this time: quoted replies and signature removed. A forward keeps
    all of its text: what it quotes is no earlier message of ours but what the customer wants us
    to read (a booking confirmation, an airline's answer), and mail-parser-reply, which knows no
    forwards, cuts it at the forwarded headers, leaving at most a line like "See below" and the
    forward's separator."""
    # keep_hyphen_lists: otherwise a "- my booking ref" list line is taken for a signature.
    replies = ReplyText(text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True).read().replies
    fresh = _without_signature(replies[0]) if replies else ""
    if FORWARD_PREFIX.match(subject or "") or _ends_at_a_forward(fresh) or not fresh:
        return text.replace("\r\n", "\n").strip()
    return fresh


def _ends_at_a_forward(fresh: str) -> bool:
    last = (fresh.strip().rsplit("\n", 1)[-1] if fresh.strip() else "").strip(" >")
    return len(last) <= 60 and (last.startswith("--") or last.endswith(":")) and bool(FORWARD_WORDS.search(last))


def _without_signature(reply) -> str:
    # Sign-off patterns ("Thanks,", "regards,") also match a sentence such as
    # "Thanks, but my bag is still in Paris…", and everything after would be cut:
    # a real sign-off line is short, so a long one is kept with the text.
    first_line = reply.signatures.split("\n", 1)[0]
    return reply.body if len(first_line) <= SIGN_OFF_MAX else reply.full_body


class _HTMLText(HTMLParser):
    """HTML to plain text with the stdlib: html2text would do it too, but it is
    GPL-3.0 and would ship inside the Lambda package; an agent needs the words
    and the line breaks, not Markdown."""

    BLOCKS = {"p", "div", "br", "li", "tr", "table", "ul", "ol", "blockquote", "hr", "pre",
              "h1", "h2", "h3", "h4", "h5", "h6"}
    HIDDEN = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.handle_starttag(tag, attrs)    # <br/> is one line break, not two

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:   # the standard parser asserts on some marked sections (<![ if mso]>)
        return html_to_text(re.sub(r"<!\[[^>]*>", "", html)) if re.search(r"<!\[[^>]*>", html) else ""
    lines = (line.strip() for line in "".join(parser.chunks).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- attachments -------------------------------------------------------------

def _file_parts(part: EmailMessage) -> Iterator[EmailMessage]:
    """Parts that are files; an attached email is one file, not opened further, also when it is
    shown inline without a file name (mutt's MIME forward): it is neither body nor multipart."""
    if part.get_content_disposition() == "attachment" or (part.get_filename() and not part.is_multipart()) \
            or part.get_content_type() == CONTENT_TYPE:
        yield part
    else:
        for child in part.iter_parts():
            yield from _file_parts(child)


def _attachment(part: EmailMessage) -> Attachment:
    content = part.get_payload(decode=True)
    if content is None:     # message/rfc822 holds a parsed message, not bytes
        inner = part.get_payload()
        content = bytes(inner[0]) if isinstance(inner, list) and inner else b""
    return Attachment(name=part.get_filename() or _email_name(part) or "attachment",
                      content_type=part.get_content_type(), size=len(content), content=content)


def _email_name(part: EmailMessage) -> Optional[str]:
    """An attached email without a file name is named after its subject ("<subject>.eml")."""
    inner = part.get_payload() if part.get_content_type() == CONTENT_TYPE else None
    if not isinstance(inner, list) or not inner:
        return None
    subject = " ".join(re.sub(r"[\\/\x00-\x1f]", " ", str(inner[0].get("Subject") or "")).split())[:100]
    return f"{subject or 'message'}.eml"


# --- SES receipt notifications -----------------------------------------------

def _receipt_action(message: Any) -> dict:
    if not isinstance(message, dict) or message.get("notificationType") != "Received":
        raise Unprocessable("not an SES receipt notification (notificationType Received)")
    action = (message.get("receipt") or {}).get("action") or {}
    if action.get("type") not in ("SNS", "S3"):
        raise Unprocessable(f"SES receipt action {action.get('type')!r} carries no email")
    return action


@refuses_malformed("SES notification")
def from_ses_notification(message: dict) -> Optional[bytes]:
    """The raw email of an SNS-action notification; None for an S3 action (see s3_location)."""
    action = _receipt_action(message)
    if action["type"] == "S3":
        return None
    content = message.get("content")
    if not isinstance(content, str):
        raise Unprocessable("SES SNS-action notification without content")
    if str(action.get("encoding", "")).upper() != "BASE64":
        return content.encode("utf-8")
    try:
        return base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Unprocessable("SES content is not valid base64") from None


@refuses_malformed("SES notification")
def s3_location(message: dict) -> tuple[str, str]:
    """(bucket, key) of an S3-action email; objectKey already includes objectKeyPrefix."""
    action = _receipt_action(message)
    bucket, key = action.get("bucketName"), action.get("objectKey")
    if action["type"] != "S3" or not bucket or not key:
        raise Unprocessable("SES notification names no S3 bucketName and objectKey")
    return bucket, key


# --- outbound ----------------------------------------------------------------

def reply_subject(subject: Optional[str], ref: Optional[str]) -> str:
    """'Re: <subject> [JD-XXXXXXXX]': one Re:, the ref once."""
    core = " ".join(REPLY_PREFIX.sub("", subject or "").split())
    if ref and ref.upper() not in core.upper():
        core = f"{core} [{ref}]".strip()
    return f"Re: {core}".rstrip()


def _thread_headers(mail: EmailMessage, in_reply_to: Optional[str], references: list[str]) -> None:
    # Our own placeholder id (no Message-ID came in) is no msg-id to thread on.
    ids = [i for i in [*references, in_reply_to] if i and not i.startswith(SYNTHETIC_ID)]
    if in_reply_to and not in_reply_to.startswith(SYNTHETIC_ID):
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if ids:
        mail["References"] = " ".join(f"<{i}>" for i in dict.fromkeys(ids))


def _deliverable(address: str) -> str:
    """The address with its domain in ASCII (a ticket stored before addresses were kept so may
    name anna@müller.de, which the standard library would write as an encoded word)."""
    try:
        return contacts.email(address).value
    except contacts.InvalidContact:
        return address


def build_reply(settings, reply_to: dict, text: str) -> EmailMessage:
    sender = reply_to.get("from") or settings.support_email
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = _deliverable(reply_to["address"])
    mail["Subject"] = reply_subject(reply_to.get("subject"), reply_to.get("ref"))
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    _thread_headers(mail, reply_to.get("in_reply_to"), list(reply_to.get("references") or []))
    if reply_to.get("automatic"):   # RFC 3834: written by no person, so not to be auto-answered
        mail["Auto-Submitted"] = "auto-replied"
    mail.set_content(text)
    return mail


def ses_message_id(ses_id: str, region: str) -> str:
    """SES replaces our Message-ID with <id@email.amazonses.com> in us-east-1, <id@REGION.amazonses.com> elsewhere."""
    domain = "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
    return f"{ses_id}@{domain}"


def send(ctx: SendContext, reply_to: dict, text: str) -> Sent:
    # SMTP policy with RFC 5322's 998-character limit: long Message-IDs (SES ids) in
    # In-Reply-To/References must never be folded or encoded, or threading breaks.
    data = build_reply(ctx.settings, reply_to, text).as_bytes(policy=policy.SMTP.clone(max_line_length=998))
    with aws_answer("ses"):
        answer = ctx.ses().send_raw_email(RawMessage={"Data": data})
    return Sent(ses_message_id(answer["MessageId"], ctx.settings.region), "queued")
