"""`python -m infra.local.token <agent>`: a bearer token for a seeded agent, alone on one line."""
from __future__ import annotations

import os
import sys

from . import demo, stage


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in demo.AGENTS:
        print(f"usage: make token AGENT=<{'|'.join(demo.AGENTS)}>", file=sys.stderr)
        return 2
    stage.load()
    from chalicelib.auth import tokens
    from chalicelib.settings import Settings
    agent = argv[0]
    print(tokens.issue(Settings.from_env(os.environ), agent, demo.AGENTS[agent]["role"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
