"""Cold start, JetDesk: a fresh interpreter imports ``app`` and handles its first SMS webhook.

The event is the API Gateway (REST, proxy) event Lambda hands to ``app.app``; DynamoDB is
the moto server the parent started (AWS_ENDPOINT_URL). Prints its own timings as JSON; the
parent measures the wall time of the whole process.
"""
import json
import os
import sys
import time

t0 = time.perf_counter()
sys.path.insert(0, os.environ["BENCH_PROJECT"])
import app  # noqa: E402

t1 = time.perf_counter()
response = app.app(json.loads(os.environ["BENCH_EVENT"]), None)
t2 = time.perf_counter()
if response.get("statusCode") != 200:
    raise SystemExit(f"first webhook answered {response}")
print(json.dumps({"import_s": t1 - t0, "first_request_s": t2 - t1}))
