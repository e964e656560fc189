"""``vanfed.Node``: what a national IT team runs — ingest, protect, summarise, sign."""

from __future__ import annotations

import copy
import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from random import Random

from vanfed import secure
from vanfed._ledger import Ledger
from vanfed._node_checks import METHODS, check_against, node_settings
from vanfed._node_ckm import check_method, check_signing, ckm_summaries
from vanfed._parent import parent_digest
from vanfed._plan import Plan, default_periods, next_step, plan
from vanfed._run import Refused, Run
from vanfed._version import __version__
from vanfed.aggregate import Refusal, check_window
from vanfed.aggregate._checks import window_refusal
from vanfed.anonymize import (
    DEFAULT_TABLES,
    Protected,
    ProtectionSettings,
    Publication,
    TableSpec,
    from_summary,
    protect,
)
from vanfed.errors import InputError, ProtectionError, ReasonCode
from vanfed.ingest import CodedRecords, ingest
from vanfed.schema import (
    DEFAULT_MAX_REJECT_RATE,
    SUMMARY_TYPE,
    CkmParams,
    CkmRecord,
    Codebook,
    CodebookRef,
    Mapping,
    Protection,
    PublishedTable,
    RevisionCalendar,
    Summary,
    TrustRegistry,
    load_codebook,
    load_mapping,
    load_summary,
    period_start,
    period_years,
)
from vanfed.signing import (
    EncryptionKeyPair,
    Signer,
    require_aware,
    sign_envelope,
    timestamp,
)

__all__ = ["DEFAULT_CKM", "METHODS", "Node", "check_against"]

# Default noise: |noise| <= 5, variance 3, no count 1 … 4 (the k = 5 of suppression).
DEFAULT_CKM = CkmParams(max_noise=5, variance=3.0, js=4)
RECORD_KEYS_FOLDER = "record-keys"


class Node:
    """A national node: its country, protection settings, table specs and ledger.

    Args:
        country: ISO 3166-1 alpha-3 code.
        k: the threshold (counts 1..k-1 are unsafe); s: the protection level (default k).
        protect_zeros: treat zero counts as unsafe too.
        tables: the table specs to publish (linked: protected jointly).
        codebook: the vocabulary (default: the bundled codebook).
        ledger: the node's publication ledger (a folder or a :class:`Ledger`). With it, every
            new summary is protected jointly with everything the country already published,
            revisions are numbered from it, and :meth:`sign` keeps each signed envelope.
            Without it, a summary is protected on its own: only right for a first publication.
        settings: loss model, public margins, suppression method (see
            :class:`ProtectionSettings`); takes precedence over ``k``, ``s`` and
            ``protect_zeros``.
        method: ``"heuristic"`` or ``"optimal"`` protects by suppression (threshold rule,
            secondary suppression, interval-attack audit; the method goes into
            ``settings``); ``"ckm"`` by the cell key method: every cell published with
            noise from the ptable of ``ckm`` (default :data:`DEFAULT_CKM`), nothing
            suppressed. Default: ``settings.method`` (``"heuristic"`` without settings).
        ckm: the cell key method's noise parameters.
        agreed: the registry policy's ckm record; pins the parameters and the ptable digest
            (a ptable this machine builds differently is refused).
        record_keys: the folder of the node's secret record keys (default: ``record-keys``
            inside the ledger; one of the two is needed for ``"ckm"``).
        calendar: the registry policy's revision calendar (``policy.revisions``): a period
            is published at most once per window; outside the windows it is refused
            (``outside_window``) and its late records wait for the next window.
    """

    def __init__(
        self,
        country: str,
        *,
        k: int = 5,
        s: int | None = None,
        protect_zeros: bool = False,
        tables: Sequence[TableSpec] = DEFAULT_TABLES,
        codebook: Codebook | None = None,
        ledger: str | Path | Ledger | None = None,
        settings: ProtectionSettings | None = None,
        method: str | None = None,
        ckm: CkmParams | None = None,
        agreed: CkmRecord | None = None,
        record_keys: str | Path | None = None,
        calendar: RevisionCalendar | None = None,
    ) -> None:
        self.calendar = calendar
        self.codebook = codebook or load_codebook()
        self.codebook.country(country)
        self.country = country
        settings = node_settings(settings, k, s, protect_zeros, method)
        self.settings = settings
        self.k, self.s, self.protect_zeros = settings.k, settings.level, settings.protect_zeros
        self.tables = tuple(tables)
        self.ledger = ledger if isinstance(ledger, Ledger) or ledger is None else Ledger(ledger)
        self.method: str = "ckm" if method == "ckm" else settings.method
        self.ckm = ckm or (agreed.params if agreed else DEFAULT_CKM)
        self.agreed = agreed
        if record_keys is None and self.ledger is not None:
            record_keys = self.ledger.folder / RECORD_KEYS_FOLDER
        self.record_keys = None if record_keys is None else Path(record_keys)
        if method == "ckm" and self.record_keys is None:
            raise InputError(
                "method ckm: give a ledger or record_keys (--record-keys DIR), the folder "
                "where the node keeps its secret record keys from one publication to the next"
            )

    def ingest(
        self,
        path: str | Path,
        mapping: Mapping | str | Path,
        *,
        rejects: str | Path | None = None,
        today: dt.date | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> CodedRecords:
        """Read an export through a mapping into coded records, writing rejects as it goes.

        Args:
            path: the export (CSV, XLSX, JSON Lines or Parquet), a data frame (pandas,
                pyarrow) or a :class:`~vanfed.ingest.SqlTable`.
            mapping: a :class:`~vanfed.schema.Mapping` or the path of its TOML file.
            rejects: where to write the rejects CSV, if anywhere.
            today: incident dates after it are rejected (default: today).
            progress: called with the number of rows read after each chunk.

        Raises:
            InputError: the export or mapping is unusable as a whole.
        """
        return ingest(
            path,
            mapping if isinstance(mapping, Mapping) else load_mapping(mapping),
            country=self.country,
            rejects=rejects,
            today=today,
            codebook=self.codebook,
            progress=progress,
            keep_ids=self.method == "ckm",
        )

    def supersedes_digest(
        self, *, period: str, revision: int | None, supersedes: str | Path | None
    ) -> str | None:
        """The ``sha256:`` digest a revision names as its parent, checked before any work.

        Args:
            period: the period being summarised.
            revision: 1 for a first publication, N > 1 for a revision; ``None`` with no
                ``supersedes`` leaves both to the ledger.
            supersedes: ``sha256:<64 hex>`` of the superseded envelope, or the path of that
                envelope file (its digest is computed; it must be this country's summary of
                the same period with a lower revision).

        Raises:
            InputError: revision 1 names a parent, a later revision names none, or the
                parent is neither a digest nor a readable earlier summary envelope.
        """
        return parent_digest(self.country, period, revision, supersedes)

    def summarize(
        self,
        records: CodedRecords,
        *,
        period: str,
        now: dt.datetime,
        revision: int | None = None,
        supersedes: str | None = None,
        rng: Random | None = None,
        allow_empty: bool = False,
        on_protected: Callable[[Protected], None] | None = None,
    ) -> Summary:
        """Protect the period's tables jointly with the ledger and build the summary.

        With a ledger, ``revision`` and ``supersedes`` default to the next revision of the
        period's latest published summary. ``on_protected`` receives the protection (true
        counts included: for the local protection report only).

        Raises:
            InputError: bad period or revision, no records in the period.
            ProtectionError: no safe publication exists (``reason`` says why, e.g.
                ``history_disclosure`` when the change since the last revision is too small).
        """
        run = self.summarize_many(
            records,
            periods=[period],
            now=now,
            revision=revision,
            supersedes=supersedes,
            rng=rng,
            allow_empty=allow_empty,
            on_protected=on_protected,
        )
        run.raise_refused()
        return run[0]

    def summarize_many(
        self,
        records: CodedRecords,
        *,
        periods: Sequence[str],
        now: dt.datetime,
        revision: int | None = None,
        supersedes: str | None = None,
        rng: Random | None = None,
        allow_empty: bool = False,
        on_protected: Callable[[Protected], None] | None = None,
    ) -> Run:
        """One summary per period, each period its own unit, protected jointly with the
        ledger and with the periods of the run protected before it.

        Periods counted in one run share their snapshot (``created_at``), so a year and its
        quarters are exactly linked; quarters are protected first, then their year. A period
        that cannot be published (``history_disclosure``, ``outside_window``) is listed in
        :attr:`Run.refused` with the error saying why and what to do next; the others are
        published as if it had not been asked for. With ``method="ckm"`` each period is
        perturbed instead (new records get keys from ``rng``); a CKM revision is refused
        (``history_disclosure``) if a cell changed by 1..k-1 records since the period's
        latest CKM publication in the ledger, whose true counts and cell keys the node keeps
        privately in ``LEDGER/ckm-cells``. A year beside its quarters is not compared this way.

        Raises:
            InputError: a bad period or revision, no records in a period (nothing is made).
        """
        run = self._run(records, periods, now, revision, supersedes, rng, allow_empty, on_protected)
        for refused in run.refused:  # every refusal names the plan's next safe step
            step, _ = next_step(self, records, refused, now=now, run=periods)
            refused.error.add_next_step(step)
        return run

    def dry_run(
        self,
        records: CodedRecords,
        periods: Sequence[str],
        now: dt.datetime,
        *,
        on_protected: Callable[[Protected], None] | None = None,
    ) -> Run:
        """:meth:`summarize_many` as it would go now, without next steps (what the plan
        runs; suppression writes nothing before :meth:`sign`)."""
        return self._run(records, periods, now, None, None, None, True, on_protected)

    def with_tables(self, tables: Sequence[TableSpec]) -> Node:
        """The same node (country, settings, ledger, calendar) publishing other tables."""
        other = copy.copy(self)
        other.tables = tuple(tables)
        return other

    def plan(
        self,
        records: CodedRecords,
        *,
        now: dt.datetime,
        periods: Sequence[str] | None = None,
        max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
    ) -> Plan:
        """What publishing each period now would give, and the next safe step of each one
        that would be refused (see :mod:`vanfed._plan`). Writes nothing.

        Args:
            periods: default every period in the ledger and every year of the export.
            max_reject_rate: the quality gate's share of rejected rows (as summarize).

        Raises:
            InputError: a bad period.
        """
        require_aware(now)
        if self.method == "ckm":
            raise InputError("plan: the cell key method is not planned yet; use suppression")
        chosen = list(periods) if periods is not None else default_periods(self, records)
        return plan(self, records, periods=chosen, now=now, max_reject_rate=max_reject_rate)

    def _run(
        self,
        records: CodedRecords,
        periods: Sequence[str],
        now: dt.datetime,
        revision: int | None,
        supersedes: str | None,
        rng: Random | None,
        allow_empty: bool,
        on_protected: Callable[[Protected], None] | None,
    ) -> Run:
        require_aware(now)
        for period in periods:
            try:
                begins = period_start(period)
            except ValueError as exc:
                raise InputError(str(exc)) from exc
            # Nothing can be counted for a period that has not begun: even a zero return
            # would state that nothing happened in it.
            if begins > now:
                raise InputError(
                    f"period {period}: begins {begins:%Y-%m-%d}, after now "
                    f"({now:%Y-%m-%d}); summarize it once it has begun"
                )
        if len(periods) > 1 and (revision is not None or supersedes is not None):
            raise InputError("revision/supersedes: give them for one period at a time")
        created = timestamp(now)
        ordered = sorted(periods, key=lambda p: (period_years(p)[0], -len(p), p))
        refused: list[Refused] = []
        ready: list[tuple[str, int, str | None]] = []
        for period in ordered:
            try:
                rev, parent = self._revision(period, revision, supersedes, 1)
            except ProtectionError as exc:  # one method per year group (the CKM half)
                refused.append(Refused(period, self._next_revision(period), exc))
                continue
            try:
                self._check_window(period, rev, created)
            except ProtectionError as exc:
                refused.append(Refused(period, rev, exc))
                continue
            ready.append((period, rev, parent))
        if self.method == "ckm":
            # The cell key method keeps a run whole: a year's noise is anchored to the
            # quarters of its run, so a refusal refuses every period of it.
            periods_ok = [p for p, _, _ in ready]
            try:
                made = ckm_summaries(  # see vanfed._node_ckm
                    self, records, periods_ok, revision, supersedes, created, rng, allow_empty
                )
            except ProtectionError as exc:
                refused += [Refused(p, rev, exc) for p, rev, _ in ready]
                made = []
            return Run(tuple(made), tuple(refused))
        history = self.ledger.history(self.country, self.codebook) if self.ledger else []
        out: list[Summary] = []
        for period, rev, parent in ready:
            try:
                summary = self._suppressed(
                    records, period, rev, parent, history, created, rng, allow_empty, on_protected
                )
            except ProtectionError as exc:
                refused.append(Refused(period, rev, exc))
                continue
            history.append(from_summary(summary, self.codebook))
            out.append(summary)
        return Run(tuple(out), tuple(refused))

    def _next_revision(self, period: str) -> int:
        latest = self.ledger.latest(self.country, period) if self.ledger else None
        return 1 if latest is None else latest.summary.revision + 1

    def _check_window(self, period: str, revision: int, created: str) -> None:
        """Refuse (``outside_window``) a publication the revision calendar does not allow."""
        if self.calendar is None:
            return
        earlier = [e.summary for e in self.ledger.entries(self.country)] if self.ledger else []
        why = window_refusal(self.country, period, revision, created, earlier, self.calendar)
        if why is not None:
            raise ProtectionError(why, reason=ReasonCode.OUTSIDE_WINDOW)

    def _suppressed(
        self,
        records: CodedRecords,
        period: str,
        rev: int,
        parent: str | None,
        history: list[Publication],
        created: str,
        rng: Random | None,
        allow_empty: bool,
        on_protected: Callable[[Protected], None] | None,
    ) -> Summary:
        """One period protected by suppression jointly with ``history``."""
        protected = protect(
            records,
            self.codebook,
            period=period,
            tables=self.tables,
            history=history,
            snapshot=created,
            revision=rev,
            allow_empty=allow_empty,
            settings=self.settings,
        )
        if on_protected is not None:
            on_protected(protected)
        return self._summary(
            protected.protection(self.protect_zeros),
            protected.published(),
            period,
            rev,
            parent,
            created,
            rng,
        )

    def _revision(
        self, period: str, revision: int | None, supersedes: str | None, n: int
    ) -> tuple[int, str | None]:
        check_method(self, period)
        latest = self.ledger.latest(self.country, period) if self.ledger else None
        if revision is None and supersedes is None:
            if latest is None:
                return 1, None
            return latest.summary.revision + 1, latest.digest
        if n > 1:
            raise InputError("revision/supersedes: give them for one period at a time")
        rev = revision if revision is not None else 1
        if latest is not None and rev <= latest.summary.revision:
            raise InputError(
                f"{self.country} {period}: revision {rev} is already published "
                f"(latest {latest.summary.revision}); use {latest.summary.revision + 1}"
            )
        return rev, self.supersedes_digest(period=period, revision=rev, supersedes=supersedes)

    def _summary(
        self,
        protection: Protection,
        tables: tuple[PublishedTable, ...],
        period: str,
        revision: int,
        supersedes: str | None,
        created: str,
        rng: Random | None,
    ) -> Summary:
        report_id = f"{rng.getrandbits(128):032x}" if rng else secrets.token_hex(16)
        cb = self.codebook
        return Summary(
            country=self.country,
            period=period,
            revision=revision,
            supersedes=supersedes,
            report_id=report_id,
            created_at=created,
            codebook=CodebookRef(id=cb.id, version=cb.version, digest=cb.digest),
            protection=protection,
            software=f"vanfed {__version__}",
            tables=tables,
        )

    def sign(self, summary: Summary | str | Path, signer: Signer) -> bytes:
        """DSSE envelope bytes of the summary's canonical JSON; kept in the ledger.

        Args:
            summary: a :class:`~vanfed.schema.Summary` or the path of its JSON file.
            signer: the node's key (e.g. from :func:`vanfed.signing.load_private`).

        Raises:
            InputError: the file is not a valid summary.
            ProtectionError: the summary is not safe beside what the ledger already holds
                (e.g. it was made before another summary of the same year was signed).
        """
        if not isinstance(summary, Summary):
            summary = load_summary(summary)
        if self.ledger is not None:
            # A year and its quarters keep the method they were first published with.
            check_method(self, summary.period, noisy=summary.protection.perturbed)
            earlier = [e.summary for e in self.ledger.entries(summary.country)]
            try:
                check_window(summary, earlier, self.calendar)
            except Refusal as exc:
                raise ProtectionError(str(exc), reason=exc.reason) from exc
            check_against(summary, self.ledger, self.codebook)
            if summary.protection.perturbed:
                check_signing(self, summary)  # only onto the publications it was anchored to
        envelope = sign_envelope(summary.canonical_bytes(), SUMMARY_TYPE, [signer]).to_bytes()
        if self.ledger is not None:
            self.ledger.add(envelope)
        return envelope

    def contribute(
        self,
        announcement: bytes,
        records: CodedRecords,
        *,
        signer: Signer,
        agreement: EncryptionKeyPair,
        registry: TrustRegistry,
        now: dt.datetime,
    ) -> bytes:
        """This node's signed contribution to a secure round: its true counts of the round's
        tables, its share of the noise and its pairwise masks (:func:`vanfed.secure.contribute`
        says every check made first). The round is charged to the node's privacy budget,
        kept in the ledger; contributing again to the same round returns the same bytes.

        Raises:
            InputError: the node has no ledger (its budget and its publications live there).
            ProtectionError: a rule refuses the round (reason code and what to do).
            VerificationError: the announcement is not the registry's coordinator's.
        """
        if self.ledger is None:
            raise InputError(
                "a secure round needs the node's ledger (--ledger): it holds the national "
                "summary the round names and the node's privacy budget"
            )
        return secure.contribute(
            announcement,
            registry=registry,
            codebook=self.codebook,
            records=records,
            signer=signer,
            agreement=agreement,
            ledger=self.ledger,
            now=now,
        )
