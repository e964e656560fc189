"""Appends to a transparency log as fast as it can, printing each checkpoint once it is
durable (as a receipt would carry it), until killed.

    python -m tests.integration._log_proc FOLDER SEED
"""

from __future__ import annotations

import base64
import sys
from random import Random

from vanfed.testing import Trust
from vanfed.tlog import TransparencyLog


def main(folder: str, seed: str) -> None:
    trust = Trust()
    rng = Random(seed)
    log = TransparencyLog(
        folder, origin="crash.test/log", signer=trust.log, public=trust.log.public.raw
    )
    while True:
        for _ in range(rng.randint(1, 4)):
            log.append(rng.randbytes(rng.randint(10, 3000)), 1_800_000_000)
        note = log.checkpoint()
        sys.stdout.write(base64.b64encode(note).decode() + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(*sys.argv[1:])
