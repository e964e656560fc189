"""``vanfed.Coordinator``: ARMAC's merge — select, merge, render, sign, write."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from random import Random

from vanfed._json import atomic_write
from vanfed.aggregate import merge, select_inputs
from vanfed.report import render_csv, render_html
from vanfed.schema import REPORT_TYPE, Codebook, RegionalReport, TrustRegistry, load_codebook
from vanfed.signing import Signer, sign_envelope, timestamp
from vanfed.transport import TransparencyLog, log_folder, log_keys

__all__ = [
    "ARTIFACTS",
    "Coordinator",
    "LogView",
    "RegionalOutput",
    "bind_to_log",
    "build_report",
    "logged_below",
]

ARTIFACTS = ("regional.csv", "report.html")


@dataclass(frozen=True)
class RegionalOutput:
    report: RegionalReport
    envelope: bytes
    files: dict[str, bytes]

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        out = Path(out_dir)
        written = {name: atomic_write(out / name, data) for name, data in self.files.items()}
        written["regional.dsse.json"] = atomic_write(out / "regional.dsse.json", self.envelope)
        written["regional.json"] = atomic_write(
            out / "regional.json", self.report.canonical_bytes()
        )
        return written


@dataclass(frozen=True)
class LogView:
    """The transparency log as of one checkpoint: what a report may be built from."""

    checkpoint: bytes  # the signed note
    size: int
    logged: dict[str, int]  # envelope digest -> log index, for indexes < size
    log: TransparencyLog

    @classmethod
    def of_inbox(cls, inbox: str | Path, registry: TrustRegistry) -> LogView | None:
        """The inbox's log at its latest checkpoint (None for an inbox without a log)."""
        folder = log_folder(inbox)
        if not folder.is_dir():
            return None
        log = TransparencyLog.read(folder, log_keys(registry))
        if not log.checkpoints:
            return None
        cp, note = log.checkpoints[-1]
        return cls(note, cp.size, logged_below(log, cp.size), log)


def logged_below(log: TransparencyLog, size: int) -> dict[str, int]:
    return {d: i for d, i in log.by_digest.items() if i < size}


def bind_to_log(body: RegionalReport, view: LogView | None) -> RegionalReport:
    """Embed the checkpoint and each input's log index (a no-op without a log)."""
    if view is None:
        return body
    inputs = tuple(
        ref.model_copy(update={"log_index": view.logged[ref.envelope_sha256]})
        for ref in body.inputs
    )
    return body.model_copy(update={"inputs": inputs, "log_checkpoint": view.checkpoint.decode()})


def build_report(
    body: RegionalReport, codebook: Codebook
) -> tuple[RegionalReport, dict[str, bytes]]:
    """Render the artifacts from the body and attach their SHA-256 digests."""
    files = {"regional.csv": render_csv(body, codebook), "report.html": render_html(body, codebook)}
    digests = {n: "sha256:" + hashlib.sha256(d).hexdigest() for n, d in files.items()}
    return body.model_copy(update={"artifacts": digests}), files


class Coordinator:
    """The regional coordinator, with its trust registry and signing key injected."""

    def __init__(
        self, registry: TrustRegistry, signer: Signer, *, codebook: Codebook | None = None
    ) -> None:
        self.registry = registry
        self.signer = signer
        self.codebook = codebook or load_codebook()

    def merge(
        self, inbox: str | Path, *, period: str, now: dt.datetime, rng: Random | None = None
    ) -> RegionalOutput:
        view = LogView.of_inbox(inbox, self.registry)
        chosen, skipped = select_inputs(
            inbox,
            self.registry,
            period=period,
            now=now,
            logged=view.logged if view else None,
        )
        report_id = f"{rng.getrandbits(128):032x}" if rng else secrets.token_hex(16)
        body = merge(
            chosen,
            period=period,
            report_id=report_id,
            created_at=timestamp(now),
            codebook=self.codebook,
            skipped=skipped,
        )
        report, files = build_report(bind_to_log(body, view), self.codebook)
        envelope = sign_envelope(report.canonical_bytes(), REPORT_TYPE, [self.signer]).to_bytes()
        return RegionalOutput(report, envelope, files)
