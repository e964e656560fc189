"""A node process for fault tests: sign N small summaries, queue them, deliver them.

python -m tests.integration._node_proc OUTBOX REGISTRY URL COUNTRY FIRST_YEAR N MAX_WAIT
"""

from __future__ import annotations

import sys
from pathlib import Path

from vanfed.signing import sign_summary, verify_registry
from vanfed.testing import NOW, Trust, small_summary
from vanfed.transport import Outbox


def main(argv: list[str]) -> int:
    outbox, registry, url, country, first, n, max_wait = argv
    trust = Trust()
    reg = verify_registry(Path(registry).read_bytes(), now=NOW)
    with Outbox(outbox, reg, max_backoff=0.5) as box:
        for year in range(int(first), int(first) + int(n)):
            env = sign_summary(small_summary(country, str(year)), trust.nodes[country])
            box.queue(env, url, sealed=year % 2 == 0)
        box.flush(max_wait=float(max_wait))
        return 0 if not box.pending() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
