"""``vanfed demo``: a synthetic ASEAN federation, end to end, in one folder.

Five member states' synthetic exports (each in its own shape, with dirty rows) → keys and a
2-of-3 root-signed trust registry → each node ingests, protects, signs → the coordinator
merges from a file-drop inbox and signs the regional report → the audit replays it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from vanfed._audit import AuditVerdict, audit
from vanfed._coordinator import Coordinator, RegionalOutput
from vanfed._json import atomic_write
from vanfed._node import Node
from vanfed.schema import load_mapping
from vanfed.signing import (
    KeyPair,
    init_registry,
    key_entry,
    save_keypair,
    sign_registry,
    verify_registry,
)
from vanfed.synthetic import PROFILES, write_export

__all__ = ["DEMO_PASSPHRASE", "DemoResult", "run_demo"]

DEMO_PASSPHRASE = b"vanfed-demo-only"


@dataclass
class DemoResult:
    out: Path
    period: str
    rows: list[dict[str, object]] = field(default_factory=list)
    regional: RegionalOutput | None = None
    verdict: AuditVerdict | None = None


def _seeded_key(rng: Random) -> KeyPair:
    return KeyPair.from_seed(rng.randbytes(32))


def run_demo(
    out: str | Path,
    *,
    now: dt.datetime,
    seed: int = 2024,
    period: str = "2024",
    countries: tuple[str, ...] = tuple(PROFILES),
) -> DemoResult:
    """Run the whole federation into ``out``; deterministic for a given seed and time."""
    root = Path(out)
    rng = Random(seed)  # noqa: S311 - demo keys and ids are meant to be reproducible
    result = DemoResult(root, period)
    roots = [_seeded_key(rng) for _ in range(3)]
    coordinator = _seeded_key(rng)
    nodes = {c: _seeded_key(rng) for c in countries}
    for i, k in enumerate(roots):
        save_keypair(k, root / "keys" / f"root{i + 1}", DEMO_PASSPHRASE)
    save_keypair(coordinator, root / "keys" / "coordinator", DEMO_PASSPHRASE)
    entries = [key_entry(coordinator.public, "coordinator", now=now)]
    entries += [key_entry(k.public, "node", now=now, country=c) for c, k in nodes.items()]
    registry = init_registry([k.public for k in roots], threshold=2, now=now, keys=entries)
    reg_bytes = sign_registry(registry, roots[:2])
    atomic_write(root / "registry.dsse.json", reg_bytes)
    registry = verify_registry(reg_bytes, now=now)
    year = int(period[:4])
    for c in countries:
        save_keypair(nodes[c], root / "keys" / f"node-{c.lower()}", DEMO_PASSPHRASE)
        export = write_export(c, root / "exports", years=range(year - 2, year + 1), seed=seed)
        node = Node(c)
        records = node.ingest(
            export.path,
            load_mapping(export.mapping_path),
            rejects=root / "nodes" / c / "rejects.csv",
            today=now.date(),
        )
        summary = node.summarize(records, period=period, now=now, rng=rng)
        atomic_write(root / "nodes" / c / "summary.json", summary.canonical_bytes())
        envelope = node.sign(summary, nodes[c])
        atomic_write(root / "inbox" / f"{c.lower()}-{period}-r1.dsse.json", envelope)
        q = summary.quality
        result.rows.append(
            {
                "country": c,
                "file": export.path.name,
                "read": q.records_read,
                "accepted": q.records_accepted,
                "rejected": q.records_rejected,
                "published": summary.protection.audit.published_cells,
                "suppressed": summary.protection.audit.suppressed_cells,
            }
        )
    coord = Coordinator(registry, coordinator)
    result.regional = coord.merge(root / "inbox", period=period, now=now, rng=rng)
    result.regional.write(root / "regional")
    result.verdict = audit(
        root / "regional" / "regional.dsse.json", inputs=root / "inbox", registry=registry, now=now
    )
    return result
