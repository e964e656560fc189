"""Accepted submissions per second and p50/p99 latency of ``vanfed serve`` on loopback, with
verification on, plain (DSSE JSON) and sealed (HPKE), from concurrent clients.

The server is a real ``vanfed serve`` process (uvicorn, one worker); every submission is
verified, written with fsync, appended to the transparency log (fsync), checkpointed (signed)
and answered with a signed receipt that the client verifies. Envelopes are summary-sized (a
real protected national summary re-issued for distinct periods).
Results: benchmarks/results/transport.json.

    python benchmarks/bench_transport.py [N_PER_MODE] [CLIENTS]
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from random import Random

import httpx

from vanfed import Node
from vanfed.schema import load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Service, Trust
from vanfed.tlog import verify_receipt
from vanfed.transport import SEALED_MEDIA_TYPE, seal, sealing_key

HERE = Path(__file__).parent


def envelopes(trust: Trust, n: int) -> list[tuple[str, bytes]]:
    ex = write_export("MMR", HERE / "data", seed=1)
    node = Node("MMR")
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    base = node.summarize(rec, period="2024", now=NOW, rng=Random(0))
    out = []
    periods = [f"{y}" for y in range(1900, 2100)] + [
        f"{y}-Q{q}" for y in range(1900, 2100) for q in range(1, 5)
    ]
    countries = [c for c in Trust.COUNTRIES]
    for i in range(n):
        c = countries[i % len(countries)]
        s = base.model_copy(update={"country": c, "period": periods[i // len(countries)]})
        out.append((c, Node.sign(s, trust.nodes[c])))
    return out


def run(service: Service, items: list[tuple[str, bytes]], clients: int, sealed: bool) -> dict:
    trust = service.trust
    keyid, public = sealing_key(trust.registry)
    url = f"{service.url}/v1/submissions"
    latencies: list[float] = []

    def send(item: tuple[str, bytes], client: httpx.Client) -> None:
        country, env = item
        if sealed:
            body = seal(env, country=country, keyid=keyid, public=public)
            headers = {"content-type": SEALED_MEDIA_TYPE}
        else:
            body, headers = env, {"content-type": "application/json"}
        t0 = time.perf_counter()
        resp = client.post(url, content=body, headers=headers)
        latencies.append(time.perf_counter() - t0)
        assert resp.status_code == 201, resp.text
        verify_receipt(resp.content, trust.registry, envelope=env, now=NOW)

    chunks = [items[i::clients] for i in range(clients)]

    def worker(chunk: list[tuple[str, bytes]]) -> None:
        with httpx.Client(timeout=60) as client:
            for item in chunk:
                send(item, client)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, chunks))
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "submissions": len(items),
        "clients": clients,
        "accepted_per_s": round(len(items) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "envelope_bytes": round(statistics.mean(len(e) for _, e in items)),
    }


def main(n: int = 600, clients: int = 8) -> None:
    trust = Trust()
    items = envelopes(trust, 2 * n)
    root = Path(tempfile.mkdtemp(prefix="vanfed-bench-"))
    service = Service(root, trust)
    service.start()
    try:
        plain = run(service, items[:n], clients, sealed=False)
        sealed = run(service, items[n:], clients, sealed=True)
    finally:
        service.stop()
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "plain": plain,
        "sealed": sealed,
        "server": "vanfed serve (uvicorn, 1 worker) on 127.0.0.1; verify + fsync + log + receipt",
        "measured_at": dt.date.today().isoformat(),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "transport.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
