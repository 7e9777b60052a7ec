"""Cold start, the floor: a fresh interpreter imports PynamoDB, defines one model, does one PutItem."""
import json
import os
import time

t0 = time.perf_counter()
from pynamodb.attributes import UnicodeAttribute  # noqa: E402
from pynamodb.models import Model  # noqa: E402


class Item(Model):
    class Meta:
        table_name = os.environ["BENCH_FLOOR_TABLE"]
        region = "us-east-1"
        host = os.environ["AWS_ENDPOINT_URL"]

    key = UnicodeAttribute(hash_key=True)
    body = UnicodeAttribute()


t1 = time.perf_counter()
Item(os.environ["BENCH_FLOOR_KEY"], body="My flight AF123 was cancelled").save()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_request_s": t2 - t1}))
