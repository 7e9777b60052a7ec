"""Tickets through django-helpdesk's public submit view, CPU per ticket after warm-up; JSON out.

Run with the peer venv's python from this folder: it imports ``settings`` and ``urls`` here.
"""
import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402

N = int(os.environ.get("PEER_N", "200"))
WARMUP = int(os.environ.get("PEER_WARMUP", "20"))

TEXTS = ["My flight AF123 was cancelled and nobody is helping! This is terrible.",
         "Where is my bag? It did not arrive on JD456 to Madrid.",
         "I need a wheelchair at Frankfurt for my connection tomorrow (JD218)."]


def main() -> None:
    started = time.process_time()
    django.setup()
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    setup_test_environment()  # locmem outbox + allow the test client's host, as Django's tests do
    call_command("migrate", verbosity=0, interactive=False)
    from helpdesk.models import FollowUp, Queue, Ticket

    queue = Queue.objects.create(title="Support", slug="support", allow_public_submission=True,
                                 email_address="support@example.com")
    client = Client()
    url = reverse("helpdesk:submit")
    setup_cpu = time.process_time() - started

    def submit(i: int):
        response = client.post(url, {
            "queue": queue.id, "title": f"Help with booking X7K{i:04d}", "body": TEXTS[i % len(TEXTS)],
            "submitter_email": f"customer{i}@example.com", "priority": 3, "due_date": "",
        })
        if response.status_code != 302:
            raise SystemExit(f"the public form refused ticket {i}: {response.status_code} "
                             f"{response.content[:500]!r}")

    for i in range(WARMUP):
        submit(i)
    next_id = WARMUP

    def one_round() -> dict:
        nonlocal next_id
        mail.outbox.clear()
        start, wall = time.process_time(), time.perf_counter()
        for i in range(next_id, next_id + N):
            submit(i)
        cpu, wall = time.process_time() - start, time.perf_counter() - wall
        next_id += N
        return {"tickets": N, "cpu_ms_per_ticket": round(cpu * 1000 / N, 3),
                "wall_ms_per_ticket": round(wall * 1000 / N, 3), "emails_per_ticket": round(len(mail.outbox) / N, 2)}

    rounds = []
    if os.environ.get("PEER_STDIN_ROUNDS") == "1":  # the bench runner interleaves rounds with JetDesk's
        print("READY", flush=True)
        for line in sys.stdin:
            if line.strip() != "round":
                break
            rounds.append(one_round())
            print("ROUND " + json.dumps(rounds[-1]), flush=True)
    else:
        rounds.append(one_round())
    with CaptureQueriesContext(connection) as queries:
        submit(next_id)
    import helpdesk
    print(json.dumps({
        "product": "django-helpdesk", "version": getattr(helpdesk, "__version__", None) or _version("django-helpdesk"),
        "django": django.get_version(), "database": f"{connection.vendor} (file)", "email_backend": "locmem",
        "view": "helpdesk:submit (public CreateTicketView, Django test Client POST)",
        "tickets_per_round": N, "warmup": WARMUP, "rounds": rounds,
        "cpu_ms_per_ticket": sorted(r["cpu_ms_per_ticket"] for r in rounds)[len(rounds) // 2],
        "sql_queries_per_ticket": len(queries.captured_queries),
        "tickets_stored": Ticket.objects.count(), "followups_stored": FollowUp.objects.count(),
        "setup_cpu_s": round(setup_cpu, 3),
    }), flush=True)
    connection.close()
    if not os.environ.get("PEER_DATA_DIR"):
        import shutil

        from django.conf import settings
        shutil.rmtree(settings.BASE_DIR, ignore_errors=True)


def _version(name: str):
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()
