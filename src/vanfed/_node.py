"""``vanfed.Node``: what a national IT team runs — ingest, protect, summarise, sign."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from random import Random

from vanfed._version import __version__
from vanfed.anonymize import DEFAULT_TABLES, TableSpec, protect
from vanfed.ingest import CodedRecords, ingest
from vanfed.schema import SUMMARY_TYPE, Codebook, CodebookRef, Mapping, Summary, load_codebook
from vanfed.signing import Signer, sign_envelope, timestamp

__all__ = ["Node"]


class Node:
    """A national node: its country, protection settings and table specs."""

    def __init__(
        self,
        country: str,
        *,
        k: int = 5,
        s: int | None = None,
        protect_zeros: bool = False,
        tables: Sequence[TableSpec] = DEFAULT_TABLES,
        codebook: Codebook | None = None,
    ) -> None:
        self.codebook = codebook or load_codebook()
        self.codebook.country(country)
        self.country = country
        self.k, self.s, self.protect_zeros = k, (k if s is None else s), protect_zeros
        self.tables = tuple(tables)

    def ingest(
        self,
        path: str | Path,
        mapping: Mapping,
        *,
        rejects: str | Path | None = None,
        today: dt.date | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> CodedRecords:
        return ingest(
            path,
            mapping,
            country=self.country,
            rejects=rejects,
            today=today,
            codebook=self.codebook,
            progress=progress,
        )

    def summarize(
        self,
        records: CodedRecords,
        *,
        period: str,
        now: dt.datetime,
        revision: int = 1,
        supersedes: str | None = None,
        rng: Random | None = None,
    ) -> Summary:
        """Protect the period's tables jointly and build the summary (audit passed)."""
        protected = protect(
            records,
            self.codebook,
            period=period,
            k=self.k,
            s=self.s,
            protect_zeros=self.protect_zeros,
            tables=self.tables,
        )
        report_id = f"{rng.getrandbits(128):032x}" if rng else secrets.token_hex(16)
        cb = self.codebook
        return Summary(
            country=self.country,
            period=period,
            revision=revision,
            supersedes=supersedes,
            report_id=report_id,
            created_at=timestamp(now),
            codebook=CodebookRef(id=cb.id, version=cb.version, digest=cb.digest),
            protection=protected.protection(self.protect_zeros),
            software=f"vanfed {__version__}",
            quality=records.quality,
            tables=protected.published(),
        )

    @staticmethod
    def sign(summary: Summary, signer: Signer) -> bytes:
        """DSSE envelope bytes of the summary's canonical JSON."""
        return sign_envelope(summary.canonical_bytes(), SUMMARY_TYPE, [signer]).to_bytes()
