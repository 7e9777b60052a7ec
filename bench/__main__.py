"""`python -m bench` (make bench): every benchmark in one run, one table, results/latest.json + a chart.

Sections run as their own processes (a fresh moto each, no state shared), one after the
other so that they never compete for the two cores. Section 1 interleaves JetDesk's rounds
with the peer's (ABBA order) so both are measured under the same conditions. No figure is
ever compared with another run's: every ratio is between numbers taken in this run.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from typing import Any

from . import cost, peer
from .common import PROJECT, RESULTS, median

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
STRICT = os.environ.get("BENCH_STRICT") == "1"   # exit 1 when a target is missed
TARGETS = {"ingest_ratio": 0.2, "requests_per_message": 4, "write_units_per_message": 8,
           "cold_start_ratio": 1.5, "usd_per_million_tickets": 8.0}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- running sections ------------------------------------------------------------------------

def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def section(module: str, timeout: int = 600) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", module], cwd=str(PROJECT), env=_env(), capture_output=True,
                          text=True, timeout=timeout)
    line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("BENCH-RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{module} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(line[len("BENCH-RESULT "):])
    result["section_seconds"] = round(time.perf_counter() - started, 1)
    return result


class _Interactive:
    """A section process that waits on stdin for 'round' and answers with a ROUND line."""

    def __init__(self, name: str, argv: list[str], env: dict, cwd: str) -> None:
        self.name = name
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, bufsize=1)

    def _read_until(self, prefix: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line
        self.proc.wait()
        self.err.seek(0)
        raise RuntimeError(f"{self.name} stopped ({self.proc.returncode}):\n{self.err.read()[-3000:]}")

    def ready(self) -> None:
        self._read_until("READY")

    def round(self) -> dict:
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        return json.loads(self._read_until("ROUND ")[len("ROUND "):])

    def finish(self, prefix: str) -> dict:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        line = self._read_until(prefix)
        self.proc.wait(timeout=300)
        return json.loads(line[len(prefix):] if prefix != "{" else line)


def ingest_vs_peer(peer_python) -> tuple[dict, dict]:
    started = time.perf_counter()
    jet = _Interactive("bench.ingest", [sys.executable, "-m", "bench.ingest"],
                       {**_env(), "BENCH_STDIN_ROUNDS": "1"}, str(PROJECT))
    other = _Interactive("django-helpdesk", [str(peer_python), str(peer.SCRIPT)],
                         {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
                         | {"PEER_STDIN_ROUNDS": "1"}, str(peer.SCRIPT.parent))
    jet.ready()
    other.ready()
    for r in range(ROUNDS):  # ABBA: neither side always goes first
        order = (jet, other) if r % 2 == 0 else (other, jet)
        for side in order:
            say(f"  round {r + 1}/{ROUNDS}: {side.name}")
            side.round()
    ingest = jet.finish("BENCH-RESULT ")
    peer_result = other.finish("{")
    ingest["section_seconds"] = round(time.perf_counter() - started, 1)
    return ingest, peer_result


# ---- targets -----------------------------------------------------------------------------------

def evaluate(r: dict) -> dict[str, Any]:
    t: dict[str, Any] = {}
    ingest, peer_r = r["ingest"], r["peer"]
    jet_rounds = [x["cpu_excl_emulator_ms"] for x in ingest["rounds"]]
    peer_rounds = [x["cpu_ms_per_ticket"] for x in peer_r["rounds"]]
    ratio = median(jet_rounds) / median(peer_rounds)
    t["ingest_ratio"] = {"value": round(ratio, 3), "target": f"<= {TARGETS['ingest_ratio']}",
                         "met": ratio <= TARGETS["ingest_ratio"],
                         "per_round": [round(a / b, 3) for a, b in zip(jet_rounds, peer_rounds, strict=False)],
                         "raw_ratio": round(median([x["raw_cpu_ms"] for x in ingest["rounds"]])
                                            / median(peer_rounds), 3)}
    misses = []
    for channel, per in r["storage"]["channels"].items():
        for kind, p in per.items():
            m = p["per_message"]
            if m["requests"] > TARGETS["requests_per_message"] or m["write_units"] > TARGETS["write_units_per_message"]:
                misses.append(f"{channel}/{kind}: {m['requests']} requests, {m['write_units']:g} WU")
    t["storage_per_message"] = {"target": f"<= {TARGETS['requests_per_message']} requests and "
                                          f"<= {TARGETS['write_units_per_message']} write units",
                                "met": not misses, "misses": misses}
    cold = r["cold_start"]["ratio"]
    t["cold_start_ratio"] = {"value": cold, "target": f"<= {TARGETS['cold_start_ratio']}",
                             "met": cold <= TARGETS["cold_start_ratio"]}
    t["claims_constant"] = {"value": r["claims"]["constant_across_depths"], "target": "same at every depth",
                            "met": r["claims"]["constant_across_depths"]}
    usd = r["cost"]["usd_per_million_tickets"]
    t["cost"] = {"value": usd, "target": f"< ${TARGETS['usd_per_million_tickets']:g}", "met": r["cost"]["met"],
                 "with_realistic_lambda": r["cost"]["realistic_lambda"]["usd_per_million_tickets_total"]}
    return t


def evidence(r: dict) -> dict[str, Any]:
    """For every missed target, what dominates (profiles, breakdowns) — measured in this run."""
    t, out = r["targets"], {}
    if not t["ingest_ratio"]["met"]:
        prof = r["ingest"].get("profile_50_first_messages") or {}
        out["ingest_ratio"] = {
            "breakdown_ms_per_message": r["ingest"]["first_message"]["breakdown_ms"],
            # the SDK's own work for the requests a message needs, against the peer's whole ticket
            "sdk_ms_per_message": r["ingest"]["first_message"]["sdk_cpu_ms"],
            "sdk_share_of_peer": round(r["ingest"]["first_message"]["sdk_cpu_ms"]
                                       / median([x["cpu_ms_per_ticket"] for x in r["peer"]["rounds"]]), 3),
            "cpu_by_package_excl_emulator": prof.get("self_time_by_package_stdlib_charged_to_caller", [])[:10],
            "top_functions": prof.get("top_self_time", [])[:12],
            "dynamodb_requests_per_message": r["storage"]["channels"]["twilio_sms"]["first"]["per_message"]["requests"],
        }
    if not t["storage_per_message"]["met"]:
        sms = r["storage"]["channels"]["twilio_sms"]
        out["storage_per_message"] = {
            "sms_first_thread_write_units_by_item": sms["first"]["thread"]["breakdown"][:10],
            "sms_follow_up_thread_by_item": sms["follow_up"]["thread"]["breakdown"][:10],
            "sms_follow_up_requests": sms["follow_up"]["per_message"]["by_operation"],
        }
    if not t["cold_start_ratio"]["met"]:
        cs = r["cold_start"]
        out["cold_start_ratio"] = {
            "import_ms": {"app": cs["app"]["import_ms_median"], "floor": cs["floor"]["import_ms_median"]},
            "first_request_ms": {"app": cs["app"]["first_request_ms_median"],
                                 "floor": cs["floor"]["first_request_ms_median"]},
            "imported_beyond_the_floor_by_package": cs["importtime"]["beyond_the_floor_by_package"],
            "app_imports_heaviest": cs["importtime"]["top_cumulative"],
        }
    if not t["claims_constant"]["met"]:
        out["claims_constant"] = r["claims"]["depths"]
    if not t["cost"]["met"]:
        out["cost"] = {"dominant": r["cost"]["dominant"], "lines": r["cost"]["lines_usd_per_million"]}
    return out


# ---- output --------------------------------------------------------------------------------------

def table(r: dict) -> str:
    t = r["targets"]
    ok = {True: "ok", False: "MISS"}
    rows: list[tuple[str, str, str, str]] = []
    ing, pr = r["ingest"], r["peer"]
    jet_ms = median([x["cpu_excl_emulator_ms"] for x in ing["rounds"]])
    raw_ms = median([x["raw_cpu_ms"] for x in ing["rounds"]])
    emu_share = median([x["emulator_share"] for x in ing["rounds"]])
    peer_ms = median([x["cpu_ms_per_ticket"] for x in pr["rounds"]])
    n = ing["rounds"][0]["messages"]
    sdk_ms = median([x["sdk_cpu_ms"] for x in ing["rounds"]])
    sdk_requests = median([x["dynamodb_requests_per_message"] for x in ing["rounds"]])
    rows += [
        ("1 ingest", f"JetDesk CPU/msg excl. AWS emulator (SMS webhook→queued, N={n}×{len(ing['rounds'])})",
         f"{jet_ms:.2f} ms", ""),
        ("", "  of which in the two Lambda handlers (no API Gateway / stream-poller stand-ins)",
         f"{median([x['lambda_cpu_ms'] for x in ing['rounds']]):.2f} ms", ""),
        ("", f"  of which in the AWS SDK (botocore) for its {sdk_requests:g} DynamoDB requests = "
             f"{sdk_ms / peer_ms:.2f}x peer: the floor of this request count",
         f"{sdk_ms:.2f} ms", ""),
        ("", f"JetDesk CPU/msg raw (moto in-process = {emu_share:.0%} of it)", f"{raw_ms:.2f} ms", ""),
        ("", f"django-helpdesk {pr['version']} public form CPU/ticket (SQLite, locmem mail)", f"{peer_ms:.2f} ms", ""),
        ("", "ratio JetDesk excl. emulator / peer  (raw / peer)",
         f"{t['ingest_ratio']['value']:.2f}x ({t['ingest_ratio']['raw_ratio']:.2f}x)",
         f"<= {TARGETS['ingest_ratio']}x {ok[t['ingest_ratio']['met']]}"),
        ("", "follow-up msg CPU excl. emulator | notifier CPU per first msg",
         f"{ing['follow_up']['cpu_excl_emulator_ms']:.2f} | "
         f"{ing['notifier']['first_message']['handler_cpu_excl_emulator_ms']:.2f} ms", ""),
    ]
    first_row = True
    for channel, per in r["storage"]["channels"].items():
        cells = []
        for kind in ("first", "follow_up"):
            m = per[kind]["per_message"]
            cells.append(f"{m['requests']}/{m['write_units']:g}/{m['read_units']:g}")
        requests_met = all(per[k]["per_message"]["requests"] <= TARGETS["requests_per_message"]
                           for k in ("first", "follow_up"))
        units_met = all(per[k]["per_message"]["write_units"] <= TARGETS["write_units_per_message"]
                        for k in ("first", "follow_up"))
        notify = per["first"]["notify"]
        rows.append(("2 storage" if first_row else "",
                     f"{channel}: req/WU/RU first | follow-up (+notifier {notify['requests']}/{notify['write_units']:g}"
                     f"/{notify['read_units']:g})", " | ".join(cells),
                     f"<={TARGETS['requests_per_message']} req {ok[requests_met]}, "
                     f"<={TARGETS['write_units_per_message']} WU {ok[units_met]}"))
        first_row = False
    cs = r["cold_start"]
    rows.append(("3 cold start",
                 f"fresh process: import app + 1st SMS vs pynamodb floor (median of {cs['repetitions']})",
                 f"{cs['app']['wall_ms_median']:.0f} / {cs['floor']['wall_ms_median']:.0f} ms = {cs['ratio']:.2f}x",
                 f"<= {TARGETS['cold_start_ratio']}x {ok[t['cold_start_ratio']['met']]}"))
    rows.append(("", "import app alone (in-process, median)", f"{cs['app']['import_ms_median']:.0f} ms", ""))
    cl = r["claims"]
    cells = "  ".join(f"{d['depth']:,}: {d['requests']} req/{d['items_read']} items" for d in cl["depths"])
    rows.append(("4 claims", "one claim at queue depth (requests / items read)", cells,
                 f"same {ok[t['claims_constant']['met']]}"))
    rows.append(("", "JetDesk CPU per claim excl. emulator (median)",
                 "  ".join(f"{d['depth']:,}: {d['cpu_excl_emulator_ms_median']:.1f} ms" for d in cl["depths"]), ""))
    sc = r["scoring"]
    with_s, without = sc["with_sentiment"], sc["without_sentiment"]
    rows.append(("5 scoring", "JET scores/s (CPU per score): with sentiment | without",
                 f"{with_s['scores_per_second']:,}/s ({with_s['cpu_us_per_score']:.0f} µs) | "
                 f"{without['scores_per_second']:,}/s ({without['cpu_us_per_score']:.0f} µs)", ""))
    c = r["cost"]
    rows.append(("6 cost", f"USD per million tickets ({c['memory_mb']} MB arm64, prices {c['prices_as_of']})",
                 f"${c['usd_per_million_tickets']:.2f} "
                 f"(DynamoDB writes ${c['lines_usd_per_million']['dynamodb_writes']['usd']:.2f})",
                 f"< ${TARGETS['usd_per_million_tickets']:g} {ok[t['cost']['met']]}"))
    rows.append(("", "same with Lambda billed as wall time at 512 MB (estimate)",
                 f"${c['realistic_lambda']['usd_per_million_tickets_total']:.2f}", ""))

    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    head = ("section", "figure", "measured", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    line = "-+-".join("-" * w for w in widths)
    out = [" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)), line]
    out += [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def chart(r: dict, path) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed in this venv (pip install matplotlib==3.11.2): no chart"
    t = r["targets"]
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    fig.suptitle(f"JetDesk bench — {r['meta']['when']} (ratios and counts from this run only)", fontsize=13)

    ax = axes[0][0]
    ing, pr = r["ingest"], r["peer"]
    jet = median([x["cpu_excl_emulator_ms"] for x in ing["rounds"]])
    raw = median([x["raw_cpu_ms"] for x in ing["rounds"]])
    peer_ms = median([x["cpu_ms_per_ticket"] for x in pr["rounds"]])
    bars = ax.bar(["JetDesk\nexcl. emulator", "JetDesk raw\n(moto in-process)", "django-helpdesk\npublic form"],
                  [jet, raw, peer_ms], color=["#2b7bba", "#9cc3e4", "#999999"])
    sdk_ms = median([x["sdk_cpu_ms"] for x in ing["rounds"]])
    ax.bar(["JetDesk\nexcl. emulator"], [sdk_ms], color="#174a73",
           label=f"of which AWS SDK for {ing['first_message']['dynamodb_requests_per_message']:g} requests "
                 f"({sdk_ms:.1f} ms)")
    ax.axhline(peer_ms * TARGETS["ingest_ratio"], color="red", ls="--", lw=1, label="target: 0.2x peer")
    ax.bar_label(bars, fmt="%.1f ms")
    ax.set_title(f"1. CPU per inbound message (ratio {t['ingest_ratio']['value']:.2f}x)")
    ax.set_ylabel("ms CPU")
    ax.set_ylim(0, max(raw, peer_ms) * 1.35)
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[0][1]
    channels = list(r["storage"]["channels"])
    x = range(len(channels))
    wu_first = [r["storage"]["channels"][c]["first"]["per_message"]["write_units"] for c in channels]
    wu_follow = [r["storage"]["channels"][c]["follow_up"]["per_message"]["write_units"] for c in channels]
    rq_first = [r["storage"]["channels"][c]["first"]["per_message"]["requests"] for c in channels]
    rq_follow = [r["storage"]["channels"][c]["follow_up"]["per_message"]["requests"] for c in channels]
    w = 0.2
    ax.bar([i - 1.5 * w for i in x], wu_first, w, label="WU first", color="#2b7bba")
    ax.bar([i - 0.5 * w for i in x], wu_follow, w, label="WU follow-up", color="#9cc3e4")
    ax.bar([i + 0.5 * w for i in x], rq_first, w, label="requests first", color="#e08b2b")
    ax.bar([i + 1.5 * w for i in x], rq_follow, w, label="requests follow-up", color="#f2c48d")
    ax.axhline(TARGETS["write_units_per_message"], color="red", ls="--", lw=1, label="targets: 8 WU / 4 req")
    ax.axhline(TARGETS["requests_per_message"], color="red", ls=":", lw=1)
    ax.set_xticks(list(x))
    ax.set_xticklabels([c.replace("_", "\n") for c in channels], fontsize=8)
    ax.set_title("2. DynamoDB per inbound message (webhook + threading)")
    ax.set_ylim(0, max(wu_first + wu_follow) * 1.45)
    ax.legend(fontsize=7, loc="upper center", ncol=3)

    ax = axes[0][2]
    cs = r["cold_start"]
    bars = ax.bar(["import app +\n1st SMS webhook", "pynamodb floor:\n1 model, 1 PutItem", "bare\ninterpreter"],
                  [cs["app"]["wall_ms_median"], cs["floor"]["wall_ms_median"], cs["bare_interpreter_ms_median"]],
                  color=["#2b7bba", "#999999", "#dddddd"])
    ax.axhline(cs["floor"]["wall_ms_median"] * TARGETS["cold_start_ratio"], color="red", ls="--", lw=1,
               label="target: 1.5x floor")
    ax.bar_label(bars, fmt="%.0f ms")
    ax.set_title(f"3. Cold start, fresh process wall time ({cs['ratio']:.2f}x)")
    ax.legend(loc="upper right")

    ax = axes[1][0]
    depths = [d["depth"] for d in r["claims"]["depths"]]
    ax.plot(depths, [d["requests"] for d in r["claims"]["depths"]], "o-", label="requests per claim")
    ax.plot(depths, [d["items_read"] for d in r["claims"]["depths"]], "s-", label="items read per claim")
    ax.plot(depths, [d["cpu_excl_emulator_ms_median"] for d in r["claims"]["depths"]], "^--",
            label="JetDesk CPU ms per claim")
    ax.set_xscale("log")
    ax.set_xlabel("tickets waiting in the queue")
    ax.set_ylim(bottom=0)
    ax.set_title("4. One claim vs queue depth (target: flat)")
    ax.legend()

    ax = axes[1][1]
    sc = r["scoring"]
    bars = ax.bar(["with sentiment\n(3 English texts)", "without\n(no texts)"],
                  [sc["with_sentiment"]["scores_per_second"], sc["without_sentiment"]["scores_per_second"]],
                  color=["#2b7bba", "#9cc3e4"])
    ax.bar_label(bars, labels=[f"{sc['with_sentiment']['scores_per_second']:,}/s\n"
                               f"{sc['with_sentiment']['cpu_us_per_score']:.0f} µs",
                               f"{sc['without_sentiment']['scores_per_second']:,}/s\n"
                               f"{sc['without_sentiment']['cpu_us_per_score']:.0f} µs"])
    ax.set_ylim(0, max(sc["with_sentiment"]["scores_per_second"], sc["without_sentiment"]["scores_per_second"]) * 1.25)
    ax.set_title("5. JET scores per second (one core)")

    ax = axes[1][2]
    lines = r["cost"]["lines_usd_per_million"]
    names = [k for k, v in lines.items() if v["usd"] > 0]
    bottom = 0.0
    for name in names:
        ax.bar(["per million tickets"], [lines[name]["usd"]], bottom=bottom, label=f"{name} ${lines[name]['usd']:.2f}")
        bottom += lines[name]["usd"]
    ax.axhline(TARGETS["usd_per_million_tickets"], color="red", ls="--", lw=1, label="target $8")
    ax.set_ylabel("USD")
    ax.set_title(f"6. AWS cost per million tickets: ${r['cost']['usd_per_million_tickets']:.2f}")
    ax.legend(fontsize=7, loc="upper right")

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main() -> int:
    started = time.perf_counter()
    r: dict[str, Any] = {"meta": {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "rule": "never compare absolute times across runs: use the ratios and counts of one run",
    }}
    say("bench: the peer's virtualenv")
    peer_python = peer.ensure(say)
    say(f"bench 1/5: ingest CPU, JetDesk vs django-helpdesk ({ROUNDS} interleaved rounds)")
    r["ingest"], r["peer"] = ingest_vs_peer(peer_python)
    say("bench 2/5: DynamoDB requests and units per message, every channel")
    r["storage"] = section("bench.storage")
    say("bench 3/5: cold start")
    r["cold_start"] = section("bench.coldstart")
    say("bench 4/5: claims at depth (fills the queue in moto; the longest part)")
    r["claims"] = section("bench.claims", timeout=900)
    say("bench 5/5: JET scoring")
    r["scoring"] = section("bench.scoring")
    r["cost"] = cost.compute(r["ingest"], r["storage"], r["claims"])
    r["targets"] = evaluate(r)
    r["missed"] = [k for k, v in r["targets"].items() if not v["met"]]
    r["evidence_for_missed_targets"] = evidence(r)
    r["meta"]["seconds"] = round(time.perf_counter() - started, 1)

    RESULTS.mkdir(parents=True, exist_ok=True)
    problem = chart(r, RESULTS / "latest.png")
    r["meta"]["chart"] = None if problem else "bench/results/latest.png"
    tmp = RESULTS / "latest.json.tmp"
    tmp.write_text(json.dumps(r, indent=2, default=str) + "\n")
    tmp.replace(RESULTS / "latest.json")

    print(f"\nJetDesk bench, {r['meta']['when']}, {r['meta']['cpus']} CPUs, Python {r['meta']['python']}, "
          f"{r['meta']['seconds']:.0f} s — ratios and counts from this run only\n")
    print(table(r))
    print(f"\nmissed: {', '.join(r['missed']) or 'none'}   (evidence: bench/results/latest.json → "
          "evidence_for_missed_targets)")
    print("wrote bench/results/latest.json" + ("" if problem else " and bench/results/latest.png"))
    if problem:
        print(problem)
    return 1 if (STRICT and r["missed"]) else 0


if __name__ == "__main__":
    sys.exit(main())
