"""Who is asking: the agent behind a verified token, and what they may touch."""
from __future__ import annotations

from dataclasses import dataclass, field

from pynamodb.exceptions import TransactWriteError

from ..auth import tokens
from ..auth.tokens import Principal
from ..domain import tickets as rules
from ..errors import Conflict, Forbidden, NotFound
from ..storage.models import Agent, Queue, Ticket, transaction
from ..storage.writes import Update, failed_conditions

DEFAULT_CAPACITY = 5
DUTY_ATTEMPTS = 3


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    queues: tuple[str, ...]
    languages: tuple[str, ...]
    capacity: dict = field(default_factory=dict)
    load: dict = field(default_factory=dict)

    def limit(self, channel: str) -> int:
        return int(self.capacity.get(channel, self.capacity.get("default", DEFAULT_CAPACITY)))

    def has_room(self, channel: str) -> bool:
        return int(self.load.get(channel, 0)) < self.limit(channel)

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
    """The stored agent for a token; the token alone never grants queues. Least privilege: a supervisor
    only when both say so, the verified token (its Cognito groups, or the local issuer's ``role`` claim)
    and the agents item, so taking someone out of either the group or the item's role takes the rights."""
    try:
        agent = Agent.get(principal.agent_id)
    except Agent.DoesNotExist:
        raise Forbidden("no agent with this identity") from None
    return actor_of(agent, principal.role)


def actor_of(agent: Agent, granted: str = "supervisor") -> Actor:
    """The agents item as an actor; ``granted`` is the most its token allows (none read: the item decides)."""
    role = "supervisor" if agent.role == "supervisor" and granted == "supervisor" else "agent"
    return Actor(agent.id, role, tuple(agent.queues or ()), tuple(agent.languages or ()),
                 agent.capacity.as_dict() if agent.capacity else {}, agent.load.as_dict() if agent.load else {})


def load_of(agent_id: str, channel: str, delta: int, limit: int | None = None) -> Update:
    """A transaction update of an agent's load on one channel; with ``limit``, only while below it."""
    actions = [Agent.load[channel].add(delta)]
    if limit is None:
        return Update(Agent(agent_id), actions, Agent.id.exists())
    room = Agent.load[channel].does_not_exist() | (Agent.load[channel] < limit)
    return Update(Agent(agent_id), actions, Agent.id.exists() & room)


def taking(holder: Actor | Agent, channel: str) -> Update:
    """One more ticket on ``holder``'s channel, on condition that it stays within their capacity."""
    actor = holder if isinstance(holder, Actor) else actor_of(holder)
    return load_of(actor.id, channel, +1, actor.limit(channel))


def find(agent_id: str) -> Agent | None:
    try:
        return Agent.get(agent_id)
    except Agent.DoesNotExist:
        return None


def on_duty(queue: str) -> set[str]:
    """The agents on duty in a queue: its roster, kept with each agent's own flag (one read)."""
    try:
        return set(Queue.get(queue).on_duty or ())
    except Queue.DoesNotExist:
        return set()


def set_duty(who: Actor, on: bool) -> dict:
    """Go on or off duty: the agent's flag and the roster of each of their queues in one transaction.
    A queue deleted since is left out; a roster another agent changes at the same moment is retried."""
    queues = list(who.queues)
    for _ in range(DUTY_ATTEMPTS):
        try:
            with transaction() as tx:
                tx.update(Agent(who.id), actions=[Agent.on_duty.set(on)], condition=Agent.id.exists())
                for name in queues:
                    roster = Queue.on_duty.add({who.id}) if on else Queue.on_duty.delete({who.id})
                    tx.update(Queue(name), actions=[roster], condition=Queue.name.exists())
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            failed = failed_conditions(exc)
            if failed[:1] == [True]:  # items go in the order written: the agent first
                raise NotFound(f"no agent {who.id}") from None
            gone = {name for name, missing in zip(queues, failed[1:], strict=False) if missing}
            queues = [name for name in queues if name not in gone]
            continue
        return {"agent": who.id, "on_duty": on, "queues": queues}
    raise Conflict("the rosters kept changing; try again")


def require_queue(who: Actor, queue: str) -> None:
    """Members reach their queues; a supervisor reaches any queue that exists (one key lookup)."""
    if not who.may_work(queue):
        raise Forbidden(f"not a member of queue {queue!r}")
    if queue not in who.queues:
        must_exist(queue)


def must_exist(queue: str) -> None:
    try:
        Queue.get(queue, attributes_to_get=["name"])
    except Queue.DoesNotExist:
        raise NotFound(f"no queue {queue}") from None


def local_token(settings, agent_id: str) -> str:
    """The local stage's sign-in shortcut: a token for a stored agent, with its stored role."""
    if not settings.is_local:
        raise Forbidden("tokens are issued by the identity provider on this stage")
    try:
        agent = Agent.get(agent_id)
    except Agent.DoesNotExist:
        raise NotFound(f"no agent {agent_id}") from None
    return tokens.issue(settings, agent.id, "supervisor" if agent.role == "supervisor" else "agent")
