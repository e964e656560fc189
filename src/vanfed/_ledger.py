"""The node's publication ledger: every envelope it has signed, kept for good.

An attacker holds everything a country ever published, so the node must too: each new
publication is protected jointly with the ledger (:func:`vanfed.anonymize.protect_with_history`),
and a summary that is not safe beside it is never signed.

Layout: ``LEDGER/envelopes/<sha256-hex>.dsse.json``, each written once (write, fsync,
rename, fsync folder) and never changed or removed; nothing else is needed to rebuild the
ledger's state (for the cell key method the node also keeps, beside them, its secret
``record-keys/`` and ``ckm-cells/``: each CKM publication's true counts and cell keys, to
check the next revision's change). A node that lost its ledger rebuilds it from the
coordinator's inbox or log (:meth:`Ledger.add` takes the envelopes back: they are the
node's own signed bytes); lost ``ckm-cells`` make the next CKM revision of those periods
refused, as nothing then shows its change is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vanfed._json import atomic_write, read_limited
from vanfed.anonymize import Publication, from_summary
from vanfed.anonymize._order import node_order
from vanfed.errors import InputError
from vanfed.schema import SUMMARY_TYPE, Codebook, Summary
from vanfed.signing import MAX_ENVELOPE_BYTES, Envelope, envelope_digest, parse_payload

__all__ = ["Entry", "Ledger"]


@dataclass(frozen=True)
class Entry:
    """One published summary and the digest of its envelope."""

    digest: str
    summary: Summary


class Ledger:
    """A folder the node owns, append-only.

    Args:
        folder: created if missing.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._envelopes = self.folder / "envelopes"
        self._envelopes.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, Summary] = {}

    def __repr__(self) -> str:
        return f"Ledger({str(self.folder)!r})"

    def add(self, envelope: bytes) -> str:
        """Keep a signed summary envelope (idempotent); returns its digest.

        Raises:
            InputError: not a summary envelope.
        """
        env = Envelope.from_bytes(envelope)
        if env.payload_type != SUMMARY_TYPE:
            raise InputError(f"ledger: {env.payload_type!r} is not a summary envelope")
        parse_payload(env.payload, Summary)
        digest = envelope_digest(envelope)
        path = self._path(digest)
        if not path.exists():
            atomic_write(path, envelope)
        return digest

    def entries(self, country: str | None = None) -> list[Entry]:
        """Published summaries in the order the node made them (:func:`node_order`:
        snapshot, then quarters before their year, then revision)."""
        out = []
        for path in sorted(self._envelopes.glob("*.dsse.json")):
            digest = "sha256:" + path.name.removesuffix(".dsse.json")
            summary = self._cache.get(digest)
            if summary is None:
                data = read_limited(path, MAX_ENVELOPE_BYTES)
                if envelope_digest(data) != digest:
                    raise InputError(f"{path}: altered (its name is not its digest)")
                summary = parse_payload(Envelope.from_bytes(data).payload, Summary)
                self._cache[digest] = summary
            if country is None or summary.country == country:
                out.append(Entry(digest, summary))
        return sorted(out, key=lambda e: (_order(e.summary), e.digest))

    def latest(self, country: str, period: str) -> Entry | None:
        """The highest revision published for a period, if any."""
        same = [e for e in self.entries(country) if e.summary.period == period]
        return max(same, key=lambda e: e.summary.revision, default=None)

    def history(self, country: str, codebook: Codebook) -> list[Publication]:
        """Everything the country published with exact counts, as the attacker sees it.

        Cell key method publications are left out: their noisy counts are not equations the
        interval attack can use (the noise, not suppression, protects them).
        """
        return [
            from_summary(e.summary, codebook)
            for e in self.entries(country)
            if not e.summary.protection.perturbed
        ]

    def _path(self, digest: str) -> Path:
        return self._envelopes / f"{digest.removeprefix('sha256:')}.dsse.json"


def _order(summary: Summary) -> tuple[str, int, int, str, int]:
    return node_order(summary.period, summary.created_at, summary.revision)
