"""Section 3: cold start — a fresh process that imports the app and handles its first SMS
webhook, against the floor: a fresh process that imports PynamoDB, defines one model and
does one PutItem. Both talk to the same moto server (started here, on loopback), both are
timed as whole subprocesses (wall clock, interpreter start included), interleaved, median of
REPS each. Also: ``python -X importtime`` of ``import app`` (top modules).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import urlencode

from . import common
from .common import BENCH, PROJECT, emit, median

REPS = int(os.environ.get("BENCH_COLD_REPS", "9"))
FLOOR_TABLE = "jetdesk-bench-floor"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _event(settings) -> str:
    """The API Gateway REST proxy event of one signed Twilio SMS webhook."""
    from twilio.request_validator import RequestValidator
    path = "/channels/twilio/sms"
    sid = "SM" + uuid.uuid4().hex
    params = {**common.event("twilio/sms_inbound.json"), "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid}
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(settings.public_base_url + path,
                                                                                params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
               "Host": "abc123.execute-api.us-east-1.amazonaws.com", "User-Agent": "TwilioProxy/1.1",
               "X-Forwarded-For": "54.172.60.1", "X-Forwarded-Proto": "https"}
    return json.dumps({
        "resource": path, "path": path, "httpMethod": "POST", "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": "POST", "path": "/api" + path, "stage": "api",
                           "requestId": str(uuid.uuid4()), "accountId": "123456789012", "apiId": "abc123",
                           "identity": {"sourceIp": "54.172.60.1"}},
        "body": urlencode(params), "isBase64Encoded": False,
    })


def _run(script: str, env: dict) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(BENCH / script)], env=env, cwd=str(PROJECT),
                          capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed: {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def _package_self_ms(env: dict, code: str) -> dict[str, float]:
    """Self import time summed by top-level package."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=str(PROJECT),
                          capture_output=True, text=True, timeout=120)
    out: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "imported package" not in line:
            self_us, _, name = line[len("import time:"):].split("|", 2)
            root = name.strip().split(".")[0]
            out[root] = out.get(root, 0.0) + int(self_us.strip()) / 1000
    return out


def extra_packages(env: dict, top: int = 8) -> list[dict]:
    """What the app imports beyond the floor (pynamodb + botocore), by package, heaviest first."""
    app_code = f"import sys; sys.path.insert(0, {str(PROJECT)!r}); import app"
    floor_code = "from pynamodb.attributes import UnicodeAttribute; from pynamodb.models import Model"
    app, floor = _package_self_ms(env, app_code), _package_self_ms(env, floor_code)
    extra = {k: v - floor.get(k, 0.0) for k, v in app.items()}
    return [{"package": k, "self_ms": round(v, 1)} for k, v in sorted(extra.items(), key=lambda kv: -kv[1])[:top]
            if v > 0.5]


def importtime(env: dict, top: int = 5) -> dict:
    code = f"import sys; sys.path.insert(0, {str(PROJECT)!r}); import app"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=str(PROJECT),
                          capture_output=True, text=True, timeout=120)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        self_us = int(self_us.strip())
        name = name[1:] if name.startswith(" ") else name
        level = (len(name) - len(name.lstrip(" "))) // 2
        rows.append({"module": name.strip(), "self_ms": self_us / 1000, "cumulative_ms": int(cumulative_us) / 1000,
                     "level": level})
    pending: dict[int, list] = {}
    for row in rows:   # importtime prints children before their parent
        row["children"] = pending.pop(row["level"] + 1, [])
        pending.setdefault(row["level"], []).append(row)
    top_level = [r for r in rows if r["level"] == 0]
    app_row = next((r for r in top_level if r["module"] == "app"), None)
    inside_app = app_row["children"] if app_row else top_level  # what app.py imports, with its subtree
    by_cumulative = sorted(inside_app, key=lambda r: -r["cumulative_ms"])[:top]
    by_self = sorted(rows, key=lambda r: -r["self_ms"])[:top]

    def heaviest(row, n=3):
        return [{"module": c["module"], "cumulative_ms": round(c["cumulative_ms"], 1)}
                for c in sorted(row["children"], key=lambda c: -c["cumulative_ms"])[:n]]

    return {
        "import_app_ms_under_importtime": app_row["cumulative_ms"] if app_row else None,
        "modules_imported": len(rows),
        "top_cumulative": [{"module": r["module"], "cumulative_ms": round(r["cumulative_ms"], 1),
                            "heaviest_imports": heaviest(r)} for r in by_cumulative],
        "top_self": [{"module": r["module"], "self_ms": round(r["self_ms"], 1)} for r in by_self],
        "note": "-X importtime adds its own overhead; the top_cumulative rows are what app.py imports "
                "(with everything below them), heaviest first",
    }


def main() -> None:
    common.environment()
    from moto.server import ThreadedMotoServer
    port = _free_port()
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        import boto3

        from chalicelib.settings import Settings
        from chalicelib.storage import models
        settings = Settings.from_env(os.environ)
        models.configure(settings)
        models.create_tables()
        boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint).create_table(
            TableName=FLOOR_TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}])

        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP", "PYTHONPROFILEIMPORTTIME")}
        env.update({"BENCH_PROJECT": str(PROJECT), "BENCH_FLOOR_TABLE": FLOOR_TABLE, "PYTHONDONTWRITEBYTECODE": "0"})
        app_runs, floor_runs, bare = [], [], []
        for i in range(REPS + 1):          # the first round warms the OS file cache; not kept
            a = _run("coldstart_app.py", {**env, "BENCH_EVENT": _event(settings)})
            f = _run("coldstart_floor.py", {**env, "BENCH_FLOOR_KEY": f"k{i}"})
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            b = time.perf_counter() - start
            if i:
                app_runs.append(a)
                floor_runs.append(f)
                bare.append(b)
        imports = importtime(env)
        imports["beyond_the_floor_by_package"] = extra_packages(env)
    finally:
        server.stop()

    def summary(runs):
        return {"wall_ms_median": round(median([w for w, _ in runs]) * 1000, 1),
                "wall_ms_runs": [round(w * 1000, 1) for w, _ in runs],
                "import_ms_median": round(median([r["import_s"] for _, r in runs]) * 1000, 1),
                "first_request_ms_median": round(median([r["first_request_s"] for _, r in runs]) * 1000, 1)}

    app_s, floor_s = summary(app_runs), summary(floor_runs)
    emit({"app": app_s, "floor": floor_s, "repetitions": REPS,
          "ratio": round(app_s["wall_ms_median"] / floor_s["wall_ms_median"], 3),
          "extra_ms_over_floor": round(app_s["wall_ms_median"] - floor_s["wall_ms_median"], 1),
          "bare_interpreter_ms_median": round(median(bare) * 1000, 1),
          "importtime": imports,
          "what": "wall time of a whole fresh process (interpreter start included), moto server on loopback"})


if __name__ == "__main__":
    main()
