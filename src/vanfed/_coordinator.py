"""``vanfed.Coordinator``: ARMAC's merge — select, merge, render, sign, write."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random

from vanfed._json import atomic_write
from vanfed.aggregate import Selected, merge, select_inputs
from vanfed.anonymize import DEFAULT_TABLES, TableSpec
from vanfed.errors import InputError, ReasonCode, UntrustedKeyError
from vanfed.report import LANGUAGES, render_csv, render_html, render_pdf, render_xlsx
from vanfed.schema import (
    REPORT_TYPE,
    Codebook,
    RegionalReport,
    Skipped,
    Summary,
    TrustRegistry,
    load_codebook,
    period_years,
)
from vanfed.secure import apply_round, choose_round, open_round, regional_tables
from vanfed.signing import Signer, require_aware, sign_envelope, timestamp
from vanfed.transport import TransparencyLog, log_folder, log_keys, read_rounds

__all__ = [
    "ARTIFACTS",
    "Coordinator",
    "LogView",
    "RegionalOutput",
    "bind_to_log",
    "build_report",
    "html_name",
    "languages_of",
    "logged_below",
    "report_skipped",
    "with_round",
]

# Written by every merge; report.<lang>.html per extra language and report[.<lang>].pdf with
# --pdf. All are signed by digest; all but the PDFs re-render byte for byte in the audit.
ARTIFACTS = ("regional.csv", "regional.xlsx", "report.html")


def html_name(lang: str) -> str:
    """``report.html`` for English (the contract name), ``report.<lang>.html`` otherwise."""
    return "report.html" if lang == "en" else f"report.{lang}.html"


def languages_of(artifacts: Iterable[str]) -> tuple[str, ...]:
    """The report's languages, read back from its artifact names."""
    return tuple(lang for lang in LANGUAGES if html_name(lang) in set(artifacts))


@dataclass(frozen=True)
class RegionalOutput:
    report: RegionalReport
    envelope: bytes
    files: dict[str, bytes]
    # Files in the inbox outside the report's log checkpoint: no input of the report, so
    # not in its signed ``skipped`` list, but still told to the operator.
    outside_log: tuple[Skipped, ...] = ()

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write the signed report and its artifacts into ``out_dir``; returns name -> path."""
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

    @property
    def received_at(self) -> dict[str, dt.datetime]:
        """Envelope digest → the time the log received it (for key validity), below size."""
        return {
            e.digest: dt.datetime.fromtimestamp(e.received_at, dt.UTC)
            for e in self.log.entries[: self.size]
        }


def report_skipped(skipped: list[Skipped], view: LogView | None) -> tuple[Skipped, ...]:
    """What a report lists as skipped: with a log, only what the log holds at the report's
    checkpoint (an envelope outside it is no input of the report, and an auditor could not
    check a claim about it), so that the list is a pure function of the log prefix."""
    if view is None:
        return tuple(skipped)
    return tuple(s for s in skipped if s.reason != ReasonCode.NOT_LOGGED)


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


def with_round(
    body: RegionalReport,
    inbox: str | Path,
    registry: TrustRegistry,
    view: LogView | None,
    *,
    secure: bool = True,
) -> RegionalReport:
    """The merged body with the region rows of the newest complete secure round that
    matches its inputs (:func:`vanfed.secure.choose_round`), if any; a round needs the log.
    The merge and the audit's replay both come here, so they make the same choice."""
    if not secure or view is None:
        return body
    book, _ = read_rounds(inbox, registry, view.log, view.size)  # what fails is left out
    pick = choose_round(book, body.period, {i.country: i.envelope_sha256 for i in body.inputs})
    if pick is None or pick.result is None or pick.result_digest is None:
        return body
    return apply_round(
        body,
        pick.announcement,
        pick.result,
        announcement_digest=pick.digest,
        result_digest=pick.result_digest,
        result_log_index=pick.result_index,
    )


def build_report(
    body: RegionalReport,
    codebook: Codebook,
    *,
    summaries: Sequence[Summary] = (),
    langs: Sequence[str] = ("en",),
    pdf: Callable[[bytes], bytes] | None = None,
    printed: Mapping[str, str] | None = None,
) -> tuple[RegionalReport, dict[str, bytes]]:
    """Render the artifacts from the body and attach their SHA-256 digests.

    Args:
        summaries: the inputs' verified summaries (national sections, admin-1 rows).
        langs: languages of the HTML report; English is always included.
        pdf: a printer (``render_pdf``) to add ``report[.<lang>].pdf`` for each language.
        printed: digests of PDFs already signed (the audit cannot re-print them).
    """
    for lang in langs:
        if lang not in LANGUAGES:
            raise InputError(f"--lang {lang!r}: not one of {', '.join(LANGUAGES)}")
    files = {
        "regional.csv": render_csv(body, codebook, summaries=summaries),
        "regional.xlsx": render_xlsx(body, codebook, summaries=summaries),
    }
    every = tuple(lang for lang in LANGUAGES if lang in {"en", *langs})  # one order, always
    for lang in every:
        files[html_name(lang)] = render_html(
            body, codebook, summaries=summaries, lang=lang, languages=every
        )
        if pdf is not None:
            files[html_name(lang).removesuffix(".html") + ".pdf"] = pdf(files[html_name(lang)])
    digests = {n: "sha256:" + hashlib.sha256(d).hexdigest() for n, d in files.items()}
    return body.model_copy(update={"artifacts": {**digests, **(printed or {})}}), files


class Coordinator:
    """The regional coordinator, with its trust registry and signing key injected.

    Raises:
        UntrustedKeyError: ``signer`` is not an unrevoked coordinator key of the registry
            (a report it signed would fail every audit).
    """

    def __init__(
        self, registry: TrustRegistry, signer: Signer, *, codebook: Codebook | None = None
    ) -> None:
        entry = registry.key(signer.keyid)
        if entry is None or entry.role != "coordinator" or entry.revoked_at is not None:
            what = "not in the registry" if entry is None else f"a {entry.role} key"
            if entry is not None and entry.revoked_at is not None:
                what = f"revoked since {entry.revoked_at}"
            raise UntrustedKeyError(
                f"key {signer.keyid[:12]}… is {what}, not the registry's coordinator key: "
                "sign reports with the coordinator key",
                (ReasonCode.WRONG_ROLE,),
            )
        self.registry = registry
        self.signer = signer
        self.codebook = codebook or load_codebook()

    def _inputs(
        self, inbox: str | Path, period: str, now: dt.datetime
    ) -> tuple[LogView | None, list[Selected], list[Skipped]]:
        """The inbox's log view and its current valid summaries of ``period`` (what a
        report of the period is built from, and what a round of it sums)."""
        require_aware(now)
        view = LogView.of_inbox(inbox, self.registry)
        chosen, skipped = select_inputs(
            inbox,
            self.registry,
            period=period,
            now=now,
            logged=view.logged if view else None,
            codebook=self.codebook,
            received_at=view.received_at if view else None,
        )
        return view, chosen, skipped

    def merge(
        self,
        inbox: str | Path,
        *,
        period: str,
        now: dt.datetime,
        rng: Random | None = None,
        langs: Sequence[str] = ("en",),
        pdf: bool = False,
        secure: bool = True,
    ) -> RegionalOutput:
        """Select each country's current summary in ``inbox``, merge them and sign the report.

        Args:
            inbox: the folder of received envelopes (with its transparency log, if any).
            period: ``YYYY`` or ``YYYY-Qn``.
            now: an aware datetime (key validity, ``created_at``).
            rng: source of the random report id (default: the OS's).
            langs: languages of the HTML report (``report.html`` is always English).
            pdf: also print each language to PDF with headless Chromium.
            secure: take the region rows from the newest complete secure round of the
                period that matches the inputs, where there is one.

        Raises:
            InputError: a malformed period or a naive ``now``.
        """
        try:
            period_years(period)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        view, chosen, skipped = self._inputs(inbox, period, now)
        if not chosen:  # an empty signed report would say the region reported nothing
            raise InputError(
                f"{inbox}: no valid summary for period {period}"
                + (f" ({len(skipped)} skipped)" if skipped else "")
                + "; nothing to merge"
            )
        report_id = f"{rng.getrandbits(128):032x}" if rng else secrets.token_hex(16)
        body = merge(
            chosen,
            period=period,
            report_id=report_id,
            created_at=timestamp(now),
            codebook=self.codebook,
            skipped=report_skipped(skipped, view),
        )
        body = body.model_copy(update={"registry": self.registry.ref})
        body = with_round(body, inbox, self.registry, view, secure=secure)
        report, files = build_report(
            bind_to_log(body, view),
            self.codebook,
            summaries=[sel.summary for sel in chosen],
            langs=langs,
            pdf=render_pdf if pdf else None,
        )
        envelope = sign_envelope(report.canonical_bytes(), REPORT_TYPE, [self.signer]).to_bytes()
        kept = set(report.skipped)
        return RegionalOutput(report, envelope, files, tuple(s for s in skipped if s not in kept))

    def open_round(
        self,
        inbox: str | Path,
        *,
        period: str,
        now: dt.datetime,
        deadline: dt.datetime | None = None,
        tables: Sequence[TableSpec] = DEFAULT_TABLES,
        rng: Random | None = None,
    ) -> bytes:
        """The signed announcement of a secure round of ``period`` among the countries whose
        current summaries ``inbox`` holds (the merge's own choice), over the regional layout
        of ``tables``. Put it through the door (``Inbox.accept`` or ``vanfed submit``) to
        open the round.

        Raises:
            InputError: no current summaries, a country without an agreement key, or the
                registry's policy allows no such round.
        """
        _, chosen, _ = self._inputs(inbox, period, now)
        if not chosen:
            raise InputError(f"{inbox}: no current summary for period {period}; no round to open")
        return open_round(
            self.registry,
            self.signer,
            period=period,
            participants=[(s.summary.country, s.digest, s.summary.revision) for s in chosen],
            tables=regional_tables(tables, self.codebook),
            codebook=self.codebook,
            now=now,
            deadline=deadline or now + dt.timedelta(days=7),
            rng=rng,
        )
