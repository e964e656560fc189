"""Envelopes verified per second (summary-sized payloads) vs a bare Ed25519 verify loop.

Both loops run in the same process on the same bytes, in interleaved rounds. vanfed's loop
is the full ``verification_result``: size limit, strict JSON, PAE, Ed25519, registry lookup,
key window, canonical re-encoding check and pydantic validation of the Summary.
Results: benchmarks/results/verify.json.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from random import Random

from cryptography.hazmat.primitives.asymmetric import ed25519

from vanfed import Node
from vanfed.schema import load_mapping
from vanfed.signing import Envelope, PublicKey, verification_result
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Trust

HERE = Path(__file__).parent


def main(seconds: float = 0.5, rounds_n: int = 11) -> None:
    trust = Trust()
    ex = write_export("MMR", HERE / "data", seed=1)
    node = Node("MMR")
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    summary = node.summarize(rec, period="2024", now=NOW, rng=Random(0))
    data = node.sign(summary, trust.nodes["MMR"])
    env = Envelope.from_bytes(data)
    key = PublicKey(trust.nodes["MMR"].public.raw)

    # A bare loop as fast as cryptography allows: the key decoded once, the PAE prebuilt.
    bare_key = ed25519.Ed25519PublicKey.from_public_bytes(key.raw)
    sig, pae = env.signatures[0][1], env.pae

    def rate(fn) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn()
            n += 1
        return n / (time.perf_counter() - t0)

    # Interleaved rounds, so that both loops see the same machine; the median ratio is
    # reported (this host is shared and its speed drifts between seconds).
    assert verification_result(data, trust.registry, now=NOW).ok
    rounds = []
    for _ in range(rounds_n):
        bare = rate(lambda: bare_key.verify(sig, pae))
        full = rate(lambda: verification_result(data, trust.registry, now=NOW))
        rounds.append((bare, full, full / bare))
    bare, full, ratio = sorted(rounds, key=lambda r: r[2])[len(rounds) // 2]
    result = {
        "envelope_bytes": len(data),
        "bare_ed25519_per_s": round(bare),
        "vanfed_verify_per_s": round(full),
        "ratio": round(ratio, 3),
        "ratio_range": [round(min(r[2] for r in rounds), 3), round(max(r[2] for r in rounds), 3)],
        "rounds": rounds_n,
        "goal": "ratio >= 0.25",
        "measured_at": dt.date.today().isoformat(),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "verify.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
