"""The coordinator's log killed (SIGKILL) in the middle of appends, again and again: on every
restart it opens, and it is consistent with every checkpoint it ever handed out."""

from __future__ import annotations

import base64
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from vanfed.testing import Trust
from vanfed.testing import cli_env as env
from vanfed.tlog import TransparencyLog, verified_checkpoint, verify_consistency

ROOT = Path(__file__).parents[2]


def test_log_survives_sigkill_during_appends(tmp_path: Path, trust: Trust) -> None:
    folder = tmp_path / "log"
    issued: list[bytes] = []
    rng = random.Random(7)
    for round_ in range(6):
        with (tmp_path / f"out-{round_}.txt").open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.integration._log_proc", str(folder), str(round_)],
                cwd=ROOT,
                env=env(),
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
            out_path = tmp_path / f"out-{round_}.txt"
            deadline = time.monotonic() + 60
            while out_path.stat().st_size == 0 and time.monotonic() < deadline:
                time.sleep(0.05)  # started (imports can be slow on a busy machine)
            time.sleep(0.3 + rng.random())
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        lines = (tmp_path / f"out-{round_}.txt").read_bytes().splitlines()
        # The last line may be cut by the kill; every complete line was a durable checkpoint.
        for line in lines:
            try:
                issued.append(base64.b64decode(line, validate=True))
            except ValueError:
                continue
    assert len(issued) > 20
    keys = [trust.log.public.raw]
    log = TransparencyLog(folder, origin="crash.test/log", signer=trust.log, public=keys[0])
    try:
        final = log.tree.size
        root = log.tree.root()
        sizes = set()
        for note in issued:
            try:
                cp, _ = verified_checkpoint(note, keys)
            except Exception:
                continue
            sizes.add(cp.size)
            proof = log.tree.consistency_proof(cp.size, final)
            assert verify_consistency(cp.size, final, cp.root, root, proof), cp.size
        assert len(sizes) > 20
        assert log.checkpoints[-1][0].size <= final
    finally:
        log.close()
