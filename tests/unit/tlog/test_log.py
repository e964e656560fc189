"""The durable log: checkpoints in C2SP signed-note form, and a refusal to start on a log
that was truncated, reordered or altered (saying where), while a torn tail from a crash is
repaired."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import pytest

from vanfed.errors import LogError, VerificationError
from vanfed.testing import Trust, seeded
from vanfed.tlog import (
    TransparencyLog,
    cosign,
    open_note,
    verified_checkpoint,
    verify_consistency,
    verify_cosignature,
)
from vanfed.tlog._log import RECORD

ORIGIN = "armac.test/log"


def open_log(trust: Trust, folder: Path) -> TransparencyLog:
    return TransparencyLog(folder, origin=ORIGIN, signer=trust.log, public=trust.log.public.raw)


def filled(trust: Trust, folder: Path, n: int, every: int = 1) -> list[bytes]:
    notes = []
    with open_log(trust, folder) as log:
        for i in range(n):
            log.append(b"entry %d" % i, 1_700_000_000 + i)
            if (i + 1) % every == 0:
                notes.append(log.checkpoint())
    return notes


def test_checkpoint_is_a_c2sp_signed_note(trust: Trust, tmp_path: Path) -> None:
    note = filled(trust, tmp_path, 3)[-1]
    text, _sigs = open_note(note)
    origin, size, root, blank = text.decode().split("\n")
    assert (origin, size, blank) == (ORIGIN, "3", "")
    assert len(base64.b64decode(root)) == 32
    assert note.decode().split("\n")[4].startswith(f"\u2014 {ORIGIN} ")
    cp, others = verified_checkpoint(note, [trust.log.public.raw], origin=ORIGIN)
    assert cp.size == 3 and not others
    with pytest.raises(VerificationError) as exc:
        verified_checkpoint(note, [trust.coordinator.public.raw])
    assert exc.value.reasons == ("unknown_log_key",)
    with pytest.raises(VerificationError) as exc:
        verified_checkpoint(note.replace(b"\n3\n", b"\n4\n"), [trust.log.public.raw])
    assert exc.value.reasons == ("bad_signature",)
    with pytest.raises(VerificationError) as exc:
        verified_checkpoint(note, [trust.log.public.raw], origin="other")
    assert exc.value.reasons == ("wrong_origin",)


def test_witness_cosignature(trust: Trust, tmp_path: Path) -> None:
    note = filled(trust, tmp_path, 2)[-1]
    text, _ = open_note(note)
    witness = trust.nodes["KHM"]
    line = cosign(text, "khm.witness", witness, witness.public.raw, 1_800_000_000)
    cosigned = note + line
    _, others = verified_checkpoint(cosigned, [trust.log.public.raw])
    assert [verify_cosignature(text, s, witness.public.raw) for s in others] == [1_800_000_000]
    assert verify_cosignature(text, others[0], trust.nodes["LAO"].public.raw) is None
    assert (
        verify_cosignature(text.replace(b"\n2\n", b"\n3\n"), others[0], witness.public.raw) is None
    )


def test_consecutive_checkpoints_are_consistent(trust: Trust, tmp_path: Path) -> None:
    notes = filled(trust, tmp_path, 9)
    with open_log(trust, tmp_path) as log:
        cps = [verified_checkpoint(n, [trust.log.public.raw])[0] for n in notes]
        for a, b in itertools.pairwise(cps):
            proof = log.tree.consistency_proof(a.size, b.size)
            assert verify_consistency(a.size, b.size, a.root, b.root, proof)
        # An inconsistent pair (a checkpoint of a different history) fails.
        other = tmp_path / "fork"
        forked = filled(trust, other, 9)
        f9 = verified_checkpoint(forked[-1], [trust.log.public.raw])[0]
        f9_alt = verified_checkpoint(notes[-1], [trust.log.public.raw])[0]
        assert f9.root == f9_alt.root  # same entries, same tree: deterministic
        proof = log.tree.consistency_proof(4, 9)
        bogus = bytes(32)
        assert not verify_consistency(4, 9, cps[3].root, bogus, proof)


def test_torn_tail_is_repaired(trust: Trust, tmp_path: Path) -> None:
    filled(trust, tmp_path, 5)
    entries = tmp_path / "entries"
    with entries.open("ab") as fh:
        fh.write(b"\x00" * 30)  # a crash in the middle of a record nobody was told about
    with open_log(trust, tmp_path) as log:
        assert log.tree.size == 5
    assert entries.stat().st_size == 5 * RECORD.size


def test_corrupt_logs_are_refused_with_a_location(trust: Trust, tmp_path: Path) -> None:
    filled(trust, tmp_path, 8, every=2)
    entries = tmp_path / "entries"
    data = entries.read_bytes()
    r = RECORD.size
    # Reordered: swap records 5 and 6 -> checkpoints at 2 and 4 still match, 6 does not.
    entries.write_bytes(data[: 5 * r] + data[6 * r : 7 * r] + data[5 * r : 6 * r] + data[7 * r :])
    with pytest.raises(LogError, match=r"checkpoint 2 \(size 6\).*entries 4\.\.5"):
        open_log(trust, tmp_path)
    # Truncated below what was signed.
    entries.write_bytes(data[: 7 * r])
    with pytest.raises(
        LogError, match="truncated: 7 entries, but a checkpoint was signed at size 8"
    ):
        open_log(trust, tmp_path)
    # A record repeated.
    entries.write_bytes(data + data[:r])
    with pytest.raises(LogError, match="entry 8 repeats entry 0"):
        open_log(trust, tmp_path)
    # A checkpoint signed by someone else.
    entries.write_bytes(data)
    cps = (tmp_path / "checkpoints").read_bytes()
    (tmp_path / "checkpoints").write_bytes(cps.replace(b"\n8\n", b"\n9\n"))
    with pytest.raises(LogError, match="checkpoint 3 at byte"):
        open_log(trust, tmp_path)
    (tmp_path / "checkpoints").write_bytes(cps)
    with open_log(trust, tmp_path) as log:
        assert log.tree.size == 8
    # Another process holding the log.
    with open_log(trust, tmp_path), pytest.raises(LogError, match="another process"):
        open_log(trust, tmp_path)


def test_a_log_refuses_another_origin_or_key(trust: Trust, tmp_path: Path) -> None:
    filled(trust, tmp_path, 2)
    with pytest.raises(LogError, match="checkpoint 0"):
        TransparencyLog(tmp_path, origin=ORIGIN, signer=seeded("x"), public=seeded("x").public.raw)
