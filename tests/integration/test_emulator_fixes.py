"""The emulator fixes (infra/local/motofix.py) keep DynamoDB's answers while making them cheap."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError


def test_an_item_over_400_kb_is_still_refused(stack):
    from chalicelib.storage.models import Ticket
    table = boto3.client("dynamodb", region_name=stack.settings.region)
    with pytest.raises(ClientError) as refused:
        table.put_item(TableName=Ticket.Meta.table_name,
                       Item={"id": {"S": "T-big"}, "a": {"S": "x" * 210_000}, "b": {"S": "y" * 210_000}})
    assert "size" in str(refused.value).lower()
    table.put_item(TableName=Ticket.Meta.table_name,
                   Item={"id": {"S": "T-fits"}, "a": {"S": "x" * 190_000}, "b": {"S": "y" * 190_000}})


def test_an_index_query_returns_the_index_order_both_ways(stack):
    from chalicelib.storage.models import Ticket
    client = boto3.client("dynamodb", region_name=stack.settings.region)
    ranks = ["0005", "0100", "0020", "0003", "0042"]
    for n, rank in enumerate(ranks):
        client.put_item(TableName=Ticket.Meta.table_name,
                        Item={"id": {"S": f"T-order-{n}"}, "queue_slot": {"S": "order-test"}, "rank": {"S": rank}})
    forward = [t.rank for t in Ticket.queue_rank.query("order-test")]
    backward = [t.rank for t in Ticket.queue_rank.query("order-test", scan_index_forward=False)]
    assert forward == sorted(ranks)
    assert backward == sorted(ranks, reverse=True)
