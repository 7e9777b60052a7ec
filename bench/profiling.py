"""cProfile summaries that say what dominates: by package, and the heaviest functions."""
from __future__ import annotations

import cProfile
import pstats
from collections import defaultdict
from typing import Any, Callable

from .common import PROJECT

SITE = "site-packages/"


def owner(filename: str) -> str:
    """The package (or project area) a code file belongs to."""
    if SITE in filename:
        return filename.split(SITE, 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith(str(PROJECT)):
        parts = filename[len(str(PROJECT)) + 1:].split("/")
        return "jetdesk:" + ("/".join(parts[:2]) if parts[0] in ("chalicelib", "infra") else parts[0])
    if filename == "~" or filename.startswith("<") or "/lib/python3" in filename:
        return "python stdlib/builtins"
    return filename


def profile(fn: Callable[[], Any], top: int = 15, skip_owners: tuple[str, ...] = (),
            emulator=None) -> dict[str, Any]:
    """Profile fn; with ``emulator`` (an EmulatorClock) the profiler is paused inside moto."""
    profiler = cProfile.Profile()
    if emulator is not None:
        emulator.profiler = profiler
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
        if emulator is not None:
            emulator.profiler = None
    stats = pstats.Stats(profiler).stats
    total = sum(row[2] for row in stats.values())  # tottime
    by_owner: dict[str, float] = defaultdict(float)
    charged: dict[str, float] = defaultdict(float)
    functions = []
    for func, (_cc, ncalls, tottime, cumtime, _callers) in stats.items():
        filename, line, name = func
        who = owner(filename)
        by_owner[who] += tottime
        _charge(stats, func, tottime, charged, 0)
        if who not in skip_owners:
            functions.append((tottime, cumtime, ncalls, f"{who}: {name} ({filename.rsplit('/', 1)[-1]}:{line})"))
    functions.sort(reverse=True)

    def rows(table: dict[str, float]) -> list[dict[str, Any]]:
        ordered = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return [{"package": k, "seconds": round(v, 4), "share": round(v / total, 3)} for k, v in ordered if total]

    return {
        "profiled_seconds": round(total, 4),
        "note": "profiler overhead inflates absolute seconds; read the shares",
        # stdlib and builtins charged to the package that called them (json, hmac, re, datetime…)
        "self_time_by_package_stdlib_charged_to_caller": rows(charged),
        "self_time_by_package": rows(by_owner),
        "top_self_time": [{"function": f, "self_s": round(t, 4), "cumulative_s": round(c, 4), "calls": n}
                          for t, c, n, f in functions[:top]],
    }


STDLIB = "python stdlib/builtins"


def _charge(stats, func, seconds: float, charged: dict, depth: int) -> None:
    """Give stdlib/builtin time to the nearest non-stdlib caller, split by what each caller spent."""
    who = owner(func[0])
    if who != STDLIB:
        charged[who] += seconds
        return
    callers = stats[func][4] if func in stats else {}
    weights = {c: (v[2] if isinstance(v, tuple) else 0.0) for c, v in callers.items()}
    spent = sum(weights.values())
    if depth >= 12 or not callers or spent <= 0:
        charged[STDLIB] += seconds
        return
    for caller, weight in weights.items():
        if weight > 0:
            _charge(stats, caller, seconds * weight / spent, charged, depth + 1)
