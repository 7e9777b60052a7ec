from chalicelib.storage.models import Agent, Ticket, TicketEvent
from chalicelib.storage.writes import New, Put, Update


class Recorder:
    def __init__(self):
        self.calls = []

    def save(self, item, condition=None):
        self.calls.append(("save", item, str(condition)))

    def update(self, model, actions, condition=None, add_version_condition=True):
        self.calls.append(("update", model, str(condition), add_version_condition))


def test_a_new_item_is_put_only_where_its_key_is_free():
    event = TicketEvent("T1", "E1")
    tx = Recorder()
    New(event).into(tx)
    assert tx.calls == [("save", event, "attribute_not_exists (ticket_id)")]


def test_a_put_keeps_the_condition_it_was_given_or_none():
    tx = Recorder()
    Put(TicketEvent("T1", "E2")).into(tx)
    assert tx.calls[0][2] == "None"


def test_an_update_never_adds_a_version_condition_of_its_own():
    agent = Agent("a")
    tx = Recorder()
    Update(agent, [Agent.load["sms"].add(1)], Agent.id.exists()).into(tx)
    assert tx.calls == [("update", agent, "attribute_exists (id)", False)]


def test_an_update_of_a_versioned_item_known_only_by_its_key_moves_its_version_on():
    ticket = Ticket("T1")  # as read from an index that does not project the version
    Update(ticket, [Ticket.status.set("assigned")]).into(Recorder())
    assert ticket.version == 0  # PynamoDB then ADDs 1; a missing version would be SET to 1


def test_a_transaction_cancelled_by_an_oversized_item_is_told_from_one_another_writer_cancelled():
    from types import SimpleNamespace

    from chalicelib.storage.writes import cancelled_for_good

    def cancelled(*codes):
        return SimpleNamespace(cancellation_reasons=[SimpleNamespace(code=c) if c else None for c in codes])
    assert cancelled_for_good(cancelled(None, "ValidationError"))
    assert not cancelled_for_good(cancelled("ConditionalCheckFailed", None))
    assert not cancelled_for_good(cancelled("TransactionConflict"))
    assert not cancelled_for_good(Exception("no reasons"))


def test_a_transaction_cancelled_for_a_reason_no_retry_gets_past_is_cancelled_for_good():
    from types import SimpleNamespace

    from chalicelib.storage.writes import cancelled_for_good

    def cancelled(*codes):
        return SimpleNamespace(cancellation_reasons=[SimpleNamespace(code=c) if c else None for c in codes])
    # moto's answer to a value botocore cannot encode (lone surrogates in a name)
    assert cancelled_for_good(cancelled("UnicodeEncodeError", None))
    assert not cancelled_for_good(cancelled(None, "ThrottlingError", "ProvisionedThroughputExceeded"))
