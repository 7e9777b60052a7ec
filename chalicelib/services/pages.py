"""The customer's HTML pages: the help form, its confirmation, the status page, errors.

Plain HTML, no script and no inline style (the Content-Security-Policy forbids both); every
value that came from a person or from storage goes through html.escape.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any, Mapping, Optional

from ..web import security_headers

# no script at all; no-referrer matters here: the status page's URL carries its token
HEADERS = {
    **security_headers("default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
}
STATES = {"open": "Waiting for an agent", "assigned": "An agent is working on it",
          "pending": "Waiting for your reply", "resolved": "Resolved"}


@dataclass(frozen=True)
class Page:
    status: int
    html: str


def _page(title: str, body: str, status: int = 200) -> Page:
    return Page(status, f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title></head>
<body><main>
<h1>{escape(title)}</h1>
{body}
</main></body>
</html>
""")


def _field(name: str, label: str, values: Mapping[str, str], kind: str = "text", required: bool = True,
           extra: str = "") -> str:
    value = escape(values.get(name, ""))
    need = " required" if required else ""
    if kind == "textarea":
        control = f'<textarea id="{name}" name="{name}" rows="8" maxlength="4000"{need}>{value}</textarea>'
    else:
        control = f'<input id="{name}" name="{name}" type="{kind}" value="{value}"{need}{extra}>'
    return f'<p><label for="{name}">{escape(label)}</label><br>{control}</p>'


def _errors(errors: Optional[list[dict[str, Any]]], message: str = "") -> str:
    if not errors and not message:
        return ""
    items = "".join(f"<li>{escape(str(e.get('path', '')).strip('/') or 'form')}: {escape(str(e.get('message')))}</li>"
                    for e in errors or [])
    return f'<div role="alert" id="errors"><p>{escape(message)}</p><ul>{items}</ul></div>'


def form(action: str, nonce: str, values: Optional[Mapping[str, str]] = None,
         errors: Optional[list[dict[str, Any]]] = None, message: str = "", status: int = 200) -> Page:
    values = values or {}
    body = f"""<p>Tell us what happened. We answer by email, and you can follow your ticket online.</p>
{_errors(errors, message)}
<form method="post" action="{escape(action)}" enctype="multipart/form-data">
<input type="hidden" name="nonce" value="{escape(nonce)}">
{_field("name", "Your name", values, extra=' maxlength="200" autocomplete="name"')}
{_field("email", "Email", values, "email", extra=' maxlength="254" autocomplete="email"')}
{_field("booking_ref", "Booking reference (optional)", values, required=False,
        extra=' maxlength="8" pattern="[A-Za-z0-9]{5,8}"')}
{_field("subject", "Subject", values, extra=' maxlength="200"')}
{_field("message", "Message", values, "textarea")}
<p><label for="attachment">Attachment (optional, up to 200 KB)</label><br>
<input id="attachment" name="attachment" type="file"></p>
<div hidden><label for="website">Leave this empty</label>
<input id="website" name="website" type="text" value="" tabindex="-1" autocomplete="off"></div>
<p><button type="submit">Send</button></p>
</form>"""
    return _page("Contact support", body, status)


def confirmation(ref: str, email: str) -> Page:
    return _page("Thank you", f"""<p>Your ticket reference is <strong id="ref">{escape(ref)}</strong>.</p>
<p>We have sent a link to <strong>{escape(email)}</strong>: it opens a page where you can follow your
ticket and add to it. Quote your reference if you write to us again.</p>""")


def thanks() -> Page:
    return _page("Thank you", "<p>We have your message.</p>")


def status(view: dict[str, Any], action: str, token: str, nonce: str) -> Page:
    rows = "".join(
        f'<li class="{escape(m["from"])}"><p><strong>{"You" if m["from"] == "you" else "Support"}</strong>, '
        f'<time datetime="{escape(m["created_at"] or "")}">{escape(m["created_at"] or "")}</time></p>'
        f'<p>{escape(m["text"])}</p>'
        + "".join(f"<p>Attached: {escape(name)}</p>" for name in m.get("attachments", ()))
        + "</li>" for m in view["messages"])
    body = f"""<p>Reference <strong id="ref">{escape(view["ref"])}</strong>: {escape(view["subject"] or "")}</p>
<p>State: <strong id="state">{escape(STATES.get(view["status"], view["status"]))}</strong></p>
<h2>Conversation</h2>
<ol id="conversation">{rows}</ol>
<h2>Add a message</h2>
<form method="post" action="{escape(action)}">
<input type="hidden" name="token" value="{escape(token)}">
<input type="hidden" name="nonce" value="{escape(nonce)}">
<p><label for="message">Message</label><br>
<textarea id="message" name="message" rows="6" maxlength="4000" required></textarea></p>
<p><button type="submit">Send</button></p>
</form>"""
    return _page(f"Your ticket {view['ref']}", body)


def message_added(back: str) -> Page:
    return _page("Message sent", f"""<p>We have your message; it appears on your ticket in a moment.</p>
<p><a id="back" href="{escape(back)}">Back to your ticket</a></p>""")


def error(status_code: int, message: str) -> Page:
    return _page("Sorry", f'<p role="alert" id="error">{escape(message)}</p>', status_code)
