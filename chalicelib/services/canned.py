"""Canned responses: supervisors keep them per intent and language; agents get the best ones for a
ticket, filled from the ticket and its customer, and send one as it is or edited."""
from __future__ import annotations

from typing import Any, Optional

from .. import clock
from ..domain import canned as templates
from ..errors import Conflict, NotFound, Unprocessable
from ..storage.models import CannedResponse, Customer, Ticket
from ..storage.writes import written
from . import jetconfig, presenters

PAGE = 50
SUGGESTED = 10
PER_QUERY = 50
REPLY_MAX = 1600   # reply.json's limit on a text


def view(item: CannedResponse) -> dict[str, Any]:
    return {"id": item.id, "title": item.title, "intent": item.intent, "language": item.language,
            "text": item.text, "placeholders": templates.placeholders(item.text), "version": item.version,
            "created_by": item.created_by, "created_at": clock.iso(item.created_at),
            "updated_by": item.updated_by, "updated_at": clock.iso(item.updated_at)}


def listing(cursor: Optional[str] = None) -> dict[str, Any]:
    """Every canned response, oldest first, a page at a time (one Query on the listing index)."""
    start = presenters.decode_cursor(cursor, ("listing", "id"), listing="all")
    result = CannedResponse.all_items.query("all", limit=PAGE, last_evaluated_key=start)
    return presenters.page([view(item) for item in result], result.last_evaluated_key)


def _checked(body: dict[str, Any]) -> None:
    """What the schema cannot say: the intent is one the JET configuration knows, the placeholders ours."""
    problems = []
    intents = set(jetconfig.current()["priorities"]) | {templates.GENERAL}
    if body["intent"] not in intents:
        problems.append({"path": "/intent", "message": f"unknown intent {body['intent']!r}; one of "
                                                       + ", ".join(sorted(intents))})
    try:
        templates.placeholders(body["text"])
    except templates.TemplateError as exc:
        problems += exc.details
    if problems:
        raise Unprocessable("the canned response is not valid", problems)


def _fields(item: CannedResponse, who: str, body: dict[str, Any]) -> None:
    item.title, item.intent, item.language, item.text = body["title"], body["intent"], body["language"], body["text"]
    item.lang_id, item.listing = f"{item.language}#{item.id}", "all"
    item.updated_by, item.updated_at = who, clock.now()


def create(who: str, body: dict[str, Any]) -> dict[str, Any]:
    _checked(body)
    item = CannedResponse(clock.new_id(), created_by=who, created_at=clock.now())
    _fields(item, who, body)
    item.save(condition=CannedResponse.id.does_not_exist())
    return view(item)


def _get(canned_id: str) -> CannedResponse:
    try:
        return CannedResponse.get(canned_id, consistent_read=True)
    except CannedResponse.DoesNotExist:
        raise NotFound(f"no canned response {canned_id}") from None


def update(who: str, canned_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A new text (or title, intent, language), on condition that nobody saved since ``version``."""
    _checked(body)
    item = _get(canned_id)
    if item.version != body["version"]:
        raise Conflict(f"changed since version {body['version']} (now {item.version}); reload and edit again")
    _fields(item, who, body)
    if not written(item.save):   # versioned: the put checks the version it read
        raise Conflict("someone saved this canned response meanwhile; reload and edit again")
    return view(item)


def delete(canned_id: str) -> None:
    if not written(lambda: CannedResponse(canned_id).delete(condition=CannedResponse.id.exists(),
                                                            add_version_condition=False)):
        raise NotFound(f"no canned response {canned_id}")


def _values(ticket: Ticket) -> dict[str, Any]:
    customer = Customer.get(ticket.customer_id)
    return templates.values_for(customer.name, ticket.ref, customer.journey or {})


def _suggestion(item: CannedResponse, match: str, values: dict[str, Any]) -> dict[str, Any]:
    text, missing = templates.fill(item.text, values)
    return {"id": item.id, "title": item.title, "intent": item.intent, "language": item.language,
            "match": match, "text": text, "missing": missing}


def suggestions(ticket: Ticket) -> dict[str, Any]:
    """The best canned responses for a ticket (its visibility is the caller's to check): its intent in
    its language, then general ones in its language, then its intent in other languages; each filled."""
    language, intent = ticket.language, ticket.intent or "other"
    own = list(CannedResponse.by_intent.query(intent, limit=PER_QUERY))
    general = list(CannedResponse.by_intent.query(
        templates.GENERAL, CannedResponse.lang_id.startswith(f"{language}#") if language else None, limit=PER_QUERY))
    ranked = [(i, "intent_language") for i in own if i.language == language] + \
             [(i, "general_language") for i in general if intent != templates.GENERAL] + \
             [(i, "intent_other_language") for i in own if i.language != language]
    values = _values(ticket) if ranked else {}
    return {"items": [_suggestion(i, match, values) for i, match in ranked[:SUGGESTED]], "next": None}


def filled(ticket: Ticket, canned_id: str) -> str:
    """The text an agent sends as it is: 422 while a placeholder has no value (edit it instead)."""
    item = _get(canned_id)
    text, missing = templates.fill(item.text, _values(ticket))
    if missing:
        raise Unprocessable("this canned response needs values the ticket does not have; edit it and send the text",
                            [{"path": "/canned_response_id", "message": f"no value for {{{name}}}"}
                             for name in missing])
    if len(text) > REPLY_MAX:
        raise Unprocessable(f"filled, this canned response is over {REPLY_MAX} characters; edit it",
                            [{"path": "/canned_response_id", "message": "too long once filled"}])
    return text
