"""Who is asking: the agent behind a verified token, and what they may touch."""
from __future__ import annotations

from dataclasses import dataclass

from ..auth.tokens import Principal
from ..domain import tickets as rules
from ..errors import Forbidden
from ..storage.models import Agent, Ticket


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    queues: tuple[str, ...]
    languages: tuple[str, ...]

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def may_work(self, queue: str) -> bool:
        return rules.can_work(self.role, list(self.queues), queue)

    def may_see(self, ticket: Ticket) -> bool:
        return rules.can_work(self.role, list(self.queues), ticket.queue, ticket.assignee, self.id)

    def speaks(self, language: str | None) -> bool:
        return not language or not self.languages or language in self.languages


def actor(principal: Principal) -> Actor:
    """The stored agent for a token; the token alone never grants queues."""
    try:
        agent = Agent.get(principal.agent_id)
    except Agent.DoesNotExist:
        raise Forbidden("no agent with this identity") from None
    role = "supervisor" if agent.role == "supervisor" else "agent"
    return Actor(agent.id, role, tuple(agent.queues or ()), tuple(agent.languages or ()))


def require_queue(who: Actor, queue: str) -> None:
    if not who.may_work(queue):
        raise Forbidden(f"not a member of queue {queue!r}")
