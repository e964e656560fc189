"""Regional statistics: today's merge of protected national tables against the secure path.

Part 1, usefulness. Five synthetic member states (KHM, LAO, MMR, THA, VNM) × three seeds,
2024, default settings. Today's path: the share of the regional cells (country = _T) that
are non-zero in truth and published as one exact number. Secure path: the share of those
cells within ±10 % of the truth (±2 below 20), and the median and 90th percentile of the
relative error. A real round (masks, noise shares, the door's checks, the post-processing)
runs once per seed; the accuracy is then measured over many noise draws by drawing the
released sum's noise directly (a sum of the nodes' Skellam shares is exactly one Skellam of
the released variance), through the same post-processing. The same for a grid of noise
variances, with the ε each one costs per round.

Part 2, cost. A real ``vanfed serve`` on 127.0.0.1; 5 and 10 nodes (the other five member
states from ``vanfed.synthetic.ALL_PROFILES``) publish nationally, then the coordinator
announces a round and each node fetches it, contributes and sends its contribution through
its outbox, sealed (HPKE). Round time from the announcement to the complete result, and the
bytes each node sends and receives.

Run: ``python benchmarks/bench_regional.py [draws]`` → ``benchmarks/results/regional.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from random import Random

import numpy as np

from vanfed.aggregate import Selected, merge
from vanfed.schema import NoiseSpec, NoisySum, RoundAnnouncement, RoundResult, load_codebook
from vanfed.secure import (
    announced_epsilon,
    apply_round,
    contribute,
    released_variance,
    round_counts,
    skellam,
)
from vanfed.secure._noise import cell_variances
from vanfed.testing import NOW, Service, Trust, announce, members, run_round
from vanfed.transport import CoordinatorClient, Outbox

HERE = Path(__file__).parent
FIVE = ("KHM", "LAO", "MMR", "THA", "VNM")
TEN = ("BRN", "IDN", "KHM", "LAO", "MMR", "MYS", "PHL", "SGP", "THA", "VNM")
SEEDS = (2024, 7, 11)
VARIANCES = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0)
CB = load_codebook()


def national(group: dict) -> object:
    chosen = [Selected(m.summary, m.digest, f"{c}.dsse.json") for c, m in group.items()]
    return merge(
        chosen, period="2024", report_id="0" * 32, created_at="2026-11-22T12:00:00Z", codebook=CB
    )


def region_cells(report: object, truth: dict[str, np.ndarray]) -> list[tuple[int, float, bool]]:
    """(true count, published value or nan, estimated) of every non-zero region cell."""
    out = []
    for t in report.tables:  # type: ignore[attr-defined]
        shape = t.shape
        vals = np.array([np.nan if v is None else v for v in t.values], float).reshape(shape)[-1]
        est = np.array(t.estimated).reshape(shape)[-1] if t.estimated else np.zeros(shape[1:], bool)
        true = truth[t.name].reshape(shape[1:])
        out += [
            (int(x), float(v), bool(e))
            for x, v, e in zip(true.ravel(), vals.ravel(), est.ravel(), strict=True)
            if x > 0
        ]
    return out


def accuracy(cells: list[tuple[int, float, bool]]) -> dict[str, float]:
    true = np.array([c[0] for c in cells], float)
    got = np.array([c[1] for c in cells], float)
    err = np.abs(got - true)
    within = np.where(true < 20, err <= 2, err <= 0.1 * true)
    rel = err / true
    return {
        "cells": int(true.size),
        "within": float(np.mean(within)),
        "median_rel_error": float(np.median(rel)),
        "p90_rel_error": float(np.quantile(rel, 0.9)),
        "estimated_share": float(np.mean([c[2] for c in cells])),
    }


def real_round(trust: Trust, group: dict, seed: int) -> tuple[RoundAnnouncement, object, float]:
    """A whole round in memory through the protocol; (announcement, result, seconds)."""
    started = time.perf_counter()
    ann, book = run_round(trust, group, announce(trust, group, now=NOW, seed=str(seed)), now=NOW)
    result = book.rounds[ann.round_id].result_now(NOW)
    return ann, result, time.perf_counter() - started


def simulated(
    ann: RoundAnnouncement, truth: dict[str, np.ndarray], variance: float, rand: Random
) -> object:
    """A result whose sums are the truth plus one Skellam of the released variance per cell
    (the distribution of the protocol's sum), for the announcement's noise at ``variance``."""
    noise = ann.noise.model_copy(update={"variance": variance})
    n, t = len(ann.participants), noise.collusion
    sums = []
    for table in ann.tables:
        var = cell_variances(table, noise).ravel() * Fraction(n, n - t)
        sums.append(
            NoisySum(
                name=table.name,
                values=tuple(int(v) for v in truth[table.name] + skellam(var, rand.randrange)),
            )
        )

    return RoundResult(
        round_id=ann.round_id,
        announcement="sha256:" + "0" * 64,
        period="2024",
        closed_at="2026-11-22T12:00:00Z",
        status="complete",
        sums=tuple(sums),
    ), noise


def part_one(draws: int) -> dict[str, object]:
    trust = Trust()
    today, secure, rows, curve_cells = [], [], [], {v: [] for v in VARIANCES}
    seconds = []
    for seed in SEEDS:
        with tempfile.TemporaryDirectory() as d:
            group = members(Path(d), trust, FIVE, period="2024", now=NOW, seed=seed)
            base = national(group)
            ann, result, took = real_round(trust, group, seed)
            seconds.append(took)
            tables = ann.tables
            truth = {
                t.name: sum(
                    round_counts(m.records, tables, CB, "2024")[t.name] for m in group.values()
                )
                for t in tables
            }
            cells_today = region_cells(base, truth)
            exact = float(np.mean([not np.isnan(v) for _, v, _ in cells_today]))
            real = apply_round(
                base,
                ann,
                result,
                announcement_digest="sha256:" + "0" * 64,
                result_digest="sha256:" + "0" * 64,
            )
            once = accuracy(region_cells(real, truth))
            rand = Random(f"draws{seed}")
            cells = []
            for v in VARIANCES:
                for _ in range(draws):
                    res, noise = simulated(ann, truth, v, rand)
                    a = ann.model_copy(update={"noise": noise})
                    rep = apply_round(
                        base,
                        a,
                        res,
                        announcement_digest="sha256:" + "0" * 64,
                        result_digest="sha256:" + "0" * 64,
                    )
                    got = region_cells(rep, truth)
                    curve_cells[v] += got
                    if v == ann.noise.variance:
                        cells += got
            acc = accuracy(cells)
            rows.append(
                {
                    "seed": seed,
                    "nonzero_region_cells": len(cells_today),
                    "exact_today": exact,
                    "secure_one_real_round": once,
                    "secure": acc,
                }
            )
            today.append(exact)
            secure.append(acc)
    default = NoiseSpec()
    curve = []
    for v in VARIANCES:
        spec = default.model_copy(update={"variance": v})
        probe = ann.model_copy(update={"noise": spec})
        curve.append(
            {
                "variance": v,
                "epsilon_per_round": round(announced_epsilon(probe), 2),
                "released_inner_variance": float(released_variance(probe)),
                **accuracy(curve_cells[v]),
            }
        )
    return {
        "countries": list(FIVE),
        "draws_per_seed": draws,
        "noise": default.model_dump(),
        "epsilon_per_round": round(announced_epsilon(ann), 2),
        "per_seed": rows,
        "exact_today": [round(x, 4) for x in today],
        "within_secure": [round(a["within"], 4) for a in secure],
        "p90_secure": [round(a["p90_rel_error"], 4) for a in secure],
        "median_secure": [round(a["median_rel_error"], 4) for a in secure],
        "in_memory_round_seconds": [round(s, 3) for s in seconds],
        "tradeoff": curve,
    }


def http_round(countries: tuple[str, ...]) -> dict[str, object]:
    """Publish nationally, then one round over a real service on loopback."""
    trust = Trust()
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        group = members(root / "m", trust, countries, period="2024", now=NOW, seed=2024)
        with Service(root / "svc", trust) as svc:
            for c, m in group.items():
                with Outbox(root / "out" / c, trust.registry) as box:
                    box.queue(m.envelope, svc.url, sealed=True)
                    box.flush(max_wait=60)
            started = time.perf_counter()
            ann_bytes = announce(trust, group, now=now, seed="http", hours=1)
            with CoordinatorClient(svc.url) as client:
                assert client.submit(ann_bytes).accepted
            per_node = []
            for c, m in group.items():
                t0 = time.perf_counter()
                with CoordinatorClient(svc.url) as client:
                    (open_,) = client.rounds(status="open")
                    got = client.round_envelope(open_["round_id"])
                env = contribute(
                    got,
                    registry=trust.registry,
                    codebook=CB,
                    records=m.records,
                    signer=trust.nodes[c],
                    agreement=trust.agreements[c],
                    ledger=m.ledger,
                    now=now,
                )
                with Outbox(root / "out" / c, trust.registry) as box:
                    digest = box.queue(env, svc.url, sealed=True)
                    box.flush(max_wait=60)
                    receipt = box.receipt(digest) or b""
                per_node.append(
                    {
                        "country": c,
                        "seconds": round(time.perf_counter() - t0, 3),
                        "sent_bytes": len(env),
                        "received_bytes": len(got) + len(receipt),
                    }
                )
            with CoordinatorClient(svc.url) as client:
                (done,) = client.rounds()
            took = time.perf_counter() - started
    assert done["status"] == "complete", done
    return {
        "nodes": len(countries),
        "round_seconds": round(took, 3),
        "node_seconds_median": statistics.median(n["seconds"] for n in per_node),
        "sent_bytes_per_node_max": max(n["sent_bytes"] for n in per_node),
        "received_bytes_per_node_max": max(n["received_bytes"] for n in per_node),
        "per_node": per_node,
    }


def main(draws: int) -> dict[str, object]:
    one = part_one(draws)
    two = [http_round(FIVE), http_round(TEN)]
    load = os.getloadavg()[0]
    return {
        "usefulness": one,
        "round_cost": two,
        "load_1min": round(load, 2),
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


if __name__ == "__main__":
    draws = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    out = main(draws)
    target = HERE / "results" / "regional.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    u = out["usefulness"]
    print(
        "exact today",
        u["exact_today"],
        "| secure within",
        u["within_secure"],
        "p90",
        u["p90_secure"],
        "median",
        u["median_secure"],
        "| eps/round",
        u["epsilon_per_round"],
    )
    for row in u["tradeoff"]:
        print(
            f"  variance {row['variance']:>4}: eps {row['epsilon_per_round']:>6} within "
            f"{row['within']:.3f} median {row['median_rel_error']:.4f} "
            f"p90 {row['p90_rel_error']:.3f}"
        )
    for r in out["round_cost"]:
        print(
            f"{r['nodes']} nodes: round {r['round_seconds']} s, node median "
            f"{r['node_seconds_median']} s, sent <= {r['sent_bytes_per_node_max']} B, "
            f"received <= {r['received_bytes_per_node_max']} B"
        )
