"""The coordinator's door, in process: verification, idempotency, replays, sealing,
receipts that a node can check alone, and recovery after a crash between write and log."""

from __future__ import annotations

from pathlib import Path

import pytest

from vanfed.errors import LogError, VerificationError
from vanfed.signing import EncryptionKeyPair, envelope_digest, sign_summary
from vanfed.testing import NOW, Trust, small_summary
from vanfed.tlog import verify_receipt
from vanfed.transport import Inbox, Rejected, http_status, import_path, seal, sealing_key


def envelope(trust: Trust, country: str, period: str = "2024", **kw) -> bytes:
    return sign_summary(small_summary(country, period, **kw), trust.nodes[country])


def open_inbox(trust: Trust, folder: Path) -> Inbox:
    return Inbox(
        folder,
        trust.registry,
        coordinator=trust.coordinator,
        log_key=trust.log,
        encryption_keys=[trust.encryption],
        now=lambda: NOW,
    )


def test_accept_is_durable_logged_and_idempotent(trust: Trust, tmp_path: Path) -> None:
    inbox = open_inbox(trust, tmp_path)
    env = envelope(trust, "KHM")
    first = inbox.accept(env)
    again = inbox.accept(env)
    assert first.new and not again.new
    assert again.receipt == first.receipt  # a repeat gets the very same receipt bytes
    assert inbox.path_of(first.digest).read_bytes() == env
    receipt, checkpoint = verify_receipt(first.receipt, trust.registry, envelope=env, now=NOW)
    assert (receipt.country, receipt.period, receipt.sequence) == ("KHM", "2024", 0)
    assert checkpoint.size == 1
    second = inbox.accept(envelope(trust, "LAO"))
    assert second.index == 1
    # An old receipt still verifies after the log grew (its own checkpoint travels with it).
    verify_receipt(first.receipt, trust.registry, envelope=env, now=NOW)
    with pytest.raises(VerificationError) as exc:
        verify_receipt(first.receipt, trust.registry, envelope=envelope(trust, "LAO"), now=NOW)
    assert exc.value.reasons == ("receipt_mismatch",)
    inbox.close()


def test_replays_conflicts_and_bad_envelopes_are_refused(trust: Trust, tmp_path: Path) -> None:
    inbox = open_inbox(trust, tmp_path)
    r1 = envelope(trust, "MMR")
    r2 = envelope(trust, "MMR", revision=2, supersedes=envelope_digest(r1))
    inbox.accept(r1)
    inbox.accept(r2)
    with pytest.raises(Rejected) as exc:
        inbox.accept(envelope(trust, "MMR", seed=1))  # a different revision 1 after r2
    assert exc.value.reasons == ("superseded",) and http_status(exc.value.reasons[0]) == 409
    with pytest.raises(Rejected) as exc:
        inbox.accept(envelope(trust, "MMR", revision=2, supersedes=envelope_digest(r1), seed=5))
    assert exc.value.reasons == ("conflicting_revision",)
    forged = sign_summary(small_summary("THA", "2024"), trust.nodes["VNM"])
    with pytest.raises(Rejected) as exc:
        inbox.accept(forged)
    assert exc.value.reasons == ("wrong_country",) and http_status(exc.value.reasons[0]) == 403
    with pytest.raises(Rejected) as exc:
        inbox.accept(b'{"payload": "e30=", "payload": "e30="}')
    assert exc.value.reasons == ("duplicate_key",) and http_status(exc.value.reasons[0]) == 400
    assert [e["revision"] for e in inbox.accepted("2024")] == [1, 2]
    assert [e["current"] for e in inbox.accepted("2024")] == [False, True]
    inbox.close()


def test_sealed_submissions(trust: Trust, tmp_path: Path) -> None:
    inbox = open_inbox(trust, tmp_path)
    env = envelope(trust, "VNM")
    keyid, public = sealing_key(trust.registry)
    sealed = seal(env, country="VNM", keyid=keyid, public=public)
    assert env not in sealed
    accepted = inbox.accept(sealed)
    assert inbox.path_of(accepted.digest).read_bytes() == env  # stored opened
    assert not inbox.accept(env).new  # the same envelope, sealed or not, is one submission
    other = EncryptionKeyPair.from_seed(bytes(32))
    with pytest.raises(Rejected) as exc:
        inbox.accept(seal(env, country="VNM", keyid=other.keyid, public=other.public.raw))
    assert exc.value.reasons == ("unknown_encryption_key",)
    with pytest.raises(Rejected) as exc:  # the header names another country: info differs
        inbox.accept(sealed.replace(b"VNM", b"THA", 1))
    assert exc.value.reasons == ("seal_broken",)
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(Rejected) as exc:
        inbox.accept(bytes(flipped))
    assert exc.value.reasons == ("seal_broken",)
    lao = seal(envelope(trust, "LAO"), country="THA", keyid=keyid, public=public)
    with pytest.raises(Rejected) as exc:
        inbox.accept(lao)
    assert exc.value.reasons == ("wrong_country",)
    inbox.close()


def test_restart_recovers_orphans_and_detects_tampering(trust: Trust, tmp_path: Path) -> None:
    inbox = open_inbox(trust, tmp_path)
    a = inbox.accept(envelope(trust, "KHM"))
    inbox.close()
    # A crash after the envelope was written but before the log append: logged on restart.
    orphan = envelope(trust, "LAO")
    (tmp_path / f"{envelope_digest(orphan)[7:]}.dsse.json").write_bytes(orphan)
    inbox = open_inbox(trust, tmp_path)
    assert inbox.log.tree.size == 2
    assert not inbox.accept(orphan).new
    assert inbox.receipt_for(a.digest) == a.receipt  # same receipt after the restart
    inbox.close()
    # An envelope altered after logging, or removed: refused at start, saying which.
    path = tmp_path / f"{a.digest[7:]}.dsse.json"
    original = path.read_bytes()
    path.write_bytes(original.replace(b"{", b" {", 1))
    with pytest.raises(LogError, match="altered after it was logged as entry 0"):
        open_inbox(trust, tmp_path)
    path.unlink()
    with pytest.raises(LogError, match=r"log entry 0 .* has no envelope"):
        open_inbox(trust, tmp_path)
    path.write_bytes(original)
    open_inbox(trust, tmp_path).close()


def test_file_drop_imports_files_folders_and_zip_bundles(trust: Trust, tmp_path: Path) -> None:
    import zipfile

    inbox = open_inbox(trust, tmp_path / "inbox")
    drop = tmp_path / "usb"
    drop.mkdir()
    (drop / "khm.dsse.json").write_bytes(envelope(trust, "KHM"))
    with zipfile.ZipFile(drop / "mail.zip", "w") as zf:
        zf.writestr("lao.dsse.json", envelope(trust, "LAO"))
        zf.writestr("again.dsse.json", envelope(trust, "KHM"))
        zf.writestr("junk.txt", b"not an envelope")
    results = {r.source.split("/")[-1]: r for r in import_path(inbox, drop)}
    assert results["khm.dsse.json"].accepted and results["khm.dsse.json"].accepted.new
    assert results["mail.zip!lao.dsse.json"].accepted
    again = results["mail.zip!again.dsse.json"].accepted
    assert again is not None and not again.new
    junk = results["mail.zip!junk.txt"].rejected
    assert junk is not None and junk.reasons == ("malformed_envelope",)
    assert inbox.log.tree.size == 2
    inbox.close()


def test_a_summary_counted_before_its_period_begins_is_refused(
    trust: Trust, tmp_path: Path
) -> None:
    inbox = open_inbox(trust, tmp_path)
    early = envelope(trust, "KHM", "2027")  # counted 2026-11-22: 2027 has not begun
    with pytest.raises(Rejected) as exc:
        inbox.accept(early)
    assert exc.value.reasons == ("period_not_begun",) and http_status("period_not_begun") == 422
    assert "before the period begins (2027-01-01)" in str(exc.value)
    assert inbox.log.tree.size == 0  # nothing logged
    inbox.accept(envelope(trust, "KHM", "2026-Q4"))  # begun 2026-10-01: counted
    inbox.close()
