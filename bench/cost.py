"""Section 6: what a million tickets cost on AWS, from this run's counts and bench/prices.json.

One ticket = its first inbound message (SMS) through the whole path: API Gateway + the webhook
Lambda, the inbound-stream Lambda (its share of a batch), the outbox-stream Lambda (ack, agent
alert, integrator webhook), with the DynamoDB units counted in section 2 and the SNS/SQS
requests counted in section 1. Messaging fees (Twilio, SES) are out. Agent actions (claim,
reply, resolve) are priced apart (``plus_one_claim``).
"""
from __future__ import annotations

import json
from typing import Any

from .common import BENCH, PROJECT

INBOUND_BATCH, OUTBOX_BATCH = 10, 25   # app.py's stream batch sizes
TARGET_USD = 8.0


def memory_mb() -> int:
    return int(json.loads((PROJECT / ".chalice" / "config.json").read_text()).get("lambda_memory_size", 128))


def prices() -> dict[str, Any]:
    return json.loads((BENCH / "prices.json").read_text())


def compute(ingest: dict, storage: dict, claims: dict | None) -> dict[str, Any]:
    p = prices()
    mem_mb = memory_mb()
    gb = mem_mb / 1024
    first = ingest["first_message"]
    note = ingest["notifier"]["first_message"]
    sms = storage["channels"]["twilio_sms"]["first"]
    per_million = 1_000_000

    inbound_records = first["stream_records"] / first["messages"]
    outbox_records = note["records"] / note["messages"]
    invocations = 1 + inbound_records / INBOUND_BATCH + outbox_records / OUTBOX_BATCH
    # the brief's formula: CPU per message (JetDesk, excluding the AWS emulator) x configured memory
    cpu_ms = first["cpu_excl_emulator_ms"] + note["handler_cpu_excl_emulator_ms"]
    gb_s = cpu_ms / 1000 * gb
    # what Lambda would more likely bill: CPU stretched to a 512 MB share of a vCPU, plus every wait
    a = p["assumptions_for_the_realistic_lambda_estimate"]
    lambda_cpu_ms = first["lambda_cpu_ms"] + note["handler_cpu_excl_emulator_ms"]
    ddb_requests = sms["with_notifier"]["requests"]
    services = note.get("aws_requests_per_message_by_service", {})
    sns_publishes = services.get("sns", 0.0)
    provider_calls = note.get("sent_by_sinks_per_message", 0.0)
    wall_ms = (lambda_cpu_ms * (1769 * a["vcpu_at_1769_mb"]) / mem_mb + ddb_requests * a["dynamodb_round_trip_ms"]
               + sns_publishes * a["aws_api_round_trip_ms"] + provider_calls * a["provider_api_round_trip_ms"])
    gb_s_realistic = wall_ms / 1000 * gb

    wu = sms["with_notifier"]["write_units"]
    ru = sms["with_notifier"]["read_units"]
    lines = {
        "api_gateway": {"per_ticket": 1, "unit": "REST request",
                        "usd": p["api_gateway"]["per_million_requests"]},
        "lambda_requests": {"per_ticket": round(invocations, 3), "unit": "invocations",
                            "usd": invocations * p["lambda"]["per_million_requests"]},
        "lambda_duration": {"per_ticket": round(gb_s, 6), "unit": f"GB-s (CPU {cpu_ms:.2f} ms x {mem_mb} MB)",
                            "usd": gb_s * per_million * p["lambda"]["per_gb_second"]},
        "dynamodb_writes": {"per_ticket": wu, "unit": "WRU",
                            "usd": wu * p["dynamodb"]["per_million_write_request_units"]},
        "dynamodb_reads": {"per_ticket": ru, "unit": "RRU",
                           "usd": ru * p["dynamodb"]["per_million_read_request_units"]},
        "dynamodb_streams": {"per_ticket": round(inbound_records + outbox_records, 2), "unit": "stream records",
                             "usd": 0.0},
        "sns": {"per_ticket": sns_publishes, "unit": "publishes",
                "usd": sns_publishes * p["sns"]["per_million_publishes"]},
        "sqs": {"per_ticket": 0, "unit": "requests (retries only; none in the happy path)", "usd": 0.0},
    }
    total = sum(v["usd"] for v in lines.values())
    realistic_lambda = gb_s_realistic * per_million * p["lambda"]["per_gb_second"]
    total_realistic = total - lines["lambda_duration"]["usd"] + realistic_lambda
    for v in lines.values():
        v["usd"] = round(v["usd"], 4)
    dominant = max(lines.items(), key=lambda kv: kv[1]["usd"])

    out: dict[str, Any] = {
        "ticket": "first inbound SMS: webhook + threading + notifier (ack SMS, agent alert, integrator webhook)",
        "memory_mb": mem_mb, "prices_as_of": p["prices_as_of"], "region": p["region"],
        "usd_per_million_tickets": round(total, 2),
        "lines_usd_per_million": lines,
        "dominant": {"line": dominant[0], "usd": dominant[1]["usd"], "share": round(dominant[1]["usd"] / total, 3)},
        "realistic_lambda": {"billed_ms_per_ticket": round(wall_ms, 1), "gb_s": round(gb_s_realistic, 5),
                             "usd_per_million": round(realistic_lambda, 2),
                             "usd_per_million_tickets_total": round(total_realistic, 2),
                             "assumptions": a},
        "target_usd": TARGET_USD,
        "met": total < TARGET_USD,
        "met_with_realistic_lambda": total_realistic < TARGET_USD,
        "write_units_exact_gsi": sms["with_notifier"]["write_units_exact_gsi"],
        "usd_at_exact_gsi_units": round(total - lines["dynamodb_writes"]["usd"]
                                        + sms["with_notifier"]["write_units_exact_gsi"]
                                        * p["dynamodb"]["per_million_write_request_units"], 2),
    }
    follow = storage["channels"]["twilio_sms"]["follow_up"]["with_notifier"]
    out["per_million_follow_up_messages_usd"] = round(
        p["api_gateway"]["per_million_requests"]
        + follow["write_units"] * p["dynamodb"]["per_million_write_request_units"]
        + follow["read_units"] * p["dynamodb"]["per_million_read_request_units"]
        + invocations * p["lambda"]["per_million_requests"] + lines["lambda_duration"]["usd"] + lines["sns"]["usd"], 2)
    if claims and claims.get("depths"):
        c = claims["depths"][0]
        claim_usd = (p["api_gateway"]["per_million_requests"] + p["lambda"]["per_million_requests"]
                     + c["write_units"] * p["dynamodb"]["per_million_write_request_units"]
                     + c["read_units"] * p["dynamodb"]["per_million_read_request_units"]
                     + c["cpu_excl_emulator_ms_median"] / 1000 * gb * per_million * p["lambda"]["per_gb_second"])
        out["plus_one_claim"] = {"usd_per_million_claims": round(claim_usd, 2),
                                 "write_units": c["write_units"], "read_units": c["read_units"]}
    return out
