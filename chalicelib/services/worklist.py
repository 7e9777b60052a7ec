"""An agent's own tickets: those they hold (waiting on them or on the customer), and those they resolved."""
from __future__ import annotations

from typing import Any, Optional

from ..errors import BadRequest, Forbidden
from ..settings import get_settings
from ..storage.models import Ticket, tickets_by_id
from . import presenters
from .agents import Actor

STATES = {"held": "open#", "resolved": "closed#"}   # the assignee-tickets index's state_key prefixes


def tickets(who: Actor, agent_id: str, state: Optional[str], cursor: Optional[str]) -> dict[str, Any]:
    """Newest ticket first, a page at a time. An agent sees their own list; a supervisor anyone's,
    an agent deleted since included (whose tickets someone has to take over)."""
    agent_id = who.id if agent_id == "me" else agent_id
    if agent_id != who.id and not who.is_supervisor:
        raise Forbidden("only a supervisor sees another agent's tickets")
    prefix = STATES.get(state or "held")
    if prefix is None:
        raise BadRequest(f"state: one of {', '.join(STATES)}")
    start = presenters.decode_cursor(cursor, ("assignee", "state_key", "id"), assignee=agent_id)
    if start is not None and not start["state_key"]["S"].startswith(prefix):
        raise BadRequest("cursor belongs to another list")
    found = Ticket.assignee_tickets.query(agent_id, Ticket.state_key.startswith(prefix), scan_index_forward=False,
                                          limit=get_settings().queue_page_size, last_evaluated_key=start)
    keys = [key.id for key in found]
    items = [presenters.ticket(t) for t in tickets_by_id(keys) if who.is_supervisor or who.may_see(t)]
    return presenters.page(items, found.last_evaluated_key)
