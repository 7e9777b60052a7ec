"""Contact identities: the keys by which a customer is found on any channel."""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HANDLE_KINDS = ("messenger", "instagram", "x", "telegram", "chat", "web", "external", "booking")
# The longest contact a person may type: an email address (at most 254 characters, RFC 5321; phones,
# handles and ids are shorter) after the longest ``kind:``. As an identity key that is at most
# 1,056 bytes of UTF-8, well under DynamoDB's 2,048-byte partition key limit.
MAX_LENGTH = 254 + max(len(kind) for kind in HANDLE_KINDS) + 1


class InvalidContact(ValueError):
    pass


@dataclass(frozen=True)
class Contact:
    kind: str   # phone | email | messenger | instagram | x | telegram | chat | external
    value: str

    @property
    def identity(self) -> str:
        return f"{self.kind}:{self.value}"


def phone(raw: str) -> Contact:
    """An E.164 phone contact; raises InvalidContact for anything not a real number."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContact(f"not a phone number in international form: {exc}") from None
    if number.country_code == 52 and str(number.national_number).startswith("1") and \
            not phonenumbers.is_possible_number(number):
        # Mexican mobiles as WhatsApp still writes them (52 1 + ten digits; the 1 was dropped in
        # 2019): one identity with the same number by SMS or voice
        number = phonenumbers.parse("+52" + str(number.national_number)[1:], None)
    if not phonenumbers.is_possible_number(number):
        raise InvalidContact("not a possible phone number")
    return Contact("phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def email_address(raw: str, **checks) -> str:
    """An email address as JetDesk keys it and sends to it: validated by email_validator (``checks``
    are its options; raises its EmailNotValidError), lower-cased, the domain in ASCII (IDNA:
    anna@müller.de is anna@xn--mller-kva.de, the form ordinary mail names it in and the only one
    a server without SMTPUTF8 delivers to; an encoded word in an address is no address), so that
    a customer is the same identity whichever form arrives."""
    found = validate_email(raw, check_deliverability=False, **checks)
    return f"{found.local_part}@{found.ascii_domain}".lower()


def email(raw: str) -> Contact:
    value = raw.strip().lower()
    if not _EMAIL.match(value):
        raise InvalidContact("not an email address")
    if not value.isascii():   # an international domain (or mailbox): in the form mail from it arrives in
        try:
            value = email_address(value, globally_deliverable=False)
        except EmailNotValidError as exc:
            raise InvalidContact(f"not an email address: {exc}") from None
    return Contact("email", value)


def mailbox(address: str) -> str:
    """The mailbox an address reaches: lower-cased, without its display name or +tag
    (support+anything@ is delivered to support@)."""
    local, _, domain = parseaddr(address)[1].lower().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"


def handle(kind: str, raw: str) -> Contact:
    if kind not in HANDLE_KINDS or not raw.strip():
        raise InvalidContact(f"unknown handle kind {kind!r}")
    return Contact(kind, raw.strip())


def parse(raw: str) -> Contact:
    """Any contact a person may type: an email, an E.164 phone or ``kind:handle``."""
    raw = raw.strip()
    if "@" in raw and ":" not in raw:
        return email(raw)
    if raw.startswith("+"):
        return phone(raw)
    kind, sep, value = raw.partition(":")
    if sep and kind in ("phone", "email"):
        return parse(value)
    if sep:
        return handle(kind, value)
    raise InvalidContact("give an email, an E.164 phone number or kind:handle")
