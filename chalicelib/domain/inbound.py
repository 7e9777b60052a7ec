"""The one shape every channel normalizes a delivery into."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

CHANNELS = ("sms", "whatsapp", "email", "chat", "messenger", "instagram", "x",
            "telegram", "voice", "web", "api")


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str = ""


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message; ``content`` is moved to object storage on intake."""
    name: str
    content_type: str
    size: int
    content: Optional[bytes] = None
    key: Optional[str] = None           # where the content was stored


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message as every channel hands it to the service layer."""
    channel: str
    provider_message_id: str
    sender_kind: str          # contact kind: phone, email, telegram, …
    sender: str               # the contact value (E.164, lower-case email, handle)
    text: str
    recipient: str = ""       # our address it was sent to (reply from here)
    sender_name: Optional[str] = None
    subject: Optional[str] = None
    media: tuple[Media, ...] = ()
    external_ref: Optional[str] = None
    extra_contacts: tuple[tuple[str, str], ...] = field(default=())
    provider: str = ""        # the adapter that answers: twilio, meta, x, telegram, email, chat, api
    thread_refs: tuple[str, ...] = ()   # provider message ids this one answers (email In-Reply-To/References)
    attachments: tuple[Attachment, ...] = ()
    automated: bool = False   # auto-reply, bounce or bulk mail: never opens a ticket nor gets an answer
    edited: bool = False      # an edit of an earlier message (Telegram edited_message)
    reply_via: str = ""       # a provider sender handle to answer through (Twilio Messaging Service SID)
    unverified_contacts: tuple[tuple[str, str], ...] = ()  # typed by the customer: kept, never matched on
    voice: Optional[dict[str, Any]] = None   # Twilio Voice: kind (voicemail | call_back), recording, transcription
    new_ticket_id: str = ""   # the id a ticket it opens takes (web form: the confirmation names its ref first)

    def __post_init__(self) -> None:
        """A delivery of the wrong shape (a number for a sender, a dict for a text) stops here,
        at the adapter, instead of half-way down the async path."""
        for name in ("channel", "provider_message_id", "sender_kind", "sender", "text", "recipient", "provider",
                     "reply_via"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} is {type(getattr(self, name)).__name__}, not text")
        for name in ("sender_name", "subject", "external_ref"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} is {type(getattr(self, name)).__name__}, not text")
        if not self.provider_message_id or not self.sender:
            raise ValueError("a message needs a provider message id and a sender")
        if not all(isinstance(m.url, str) and isinstance(m.content_type, str) for m in self.media):
            raise TypeError("a media url and content type are text")

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}#{self.provider_message_id}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InboundMessage":
        data = dict(data)
        data["media"] = tuple(Media(**m) for m in data.get("media", ()))
        data["attachments"] = tuple(Attachment(**a) for a in data.get("attachments", ()))
        data["thread_refs"] = tuple(data.get("thread_refs", ()))
        data["unverified_contacts"] = tuple(tuple(c) for c in data.get("unverified_contacts", ()))
        data["extra_contacts"] = tuple(tuple(c) for c in data.get("extra_contacts", ()))
        return cls(**data)


@dataclass(frozen=True)
class IntegrationEvent:
    """An integrator event (journey, booking, feedback) that is not a message."""
    id: str
    type: str
    occurred_at: str
    customer: dict[str, Any]
    data: dict[str, Any]
    contacts: tuple[tuple[str, str], ...] = ()   # (kind, value) identities the envelope names, best first
    source: str = "integration"                 # or "chat": a customer's own rating from the chat page

    @property
    def dedup_key(self) -> str:
        return f"event#{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IntegrationEvent":
        return cls(**{**data, "contacts": tuple(tuple(c) for c in data.get("contacts", ()))})
