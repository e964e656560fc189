"""A full disk never corrupts the log: a write is whole or undone (truncated back to the last
good length), the caller is told (log_unwritable), and the log works again — and reopens
cleanly — once space returns. The disk is an injected writer: short writes, then ENOSPC."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from vanfed.errors import LogError
from vanfed.testing import Trust
from vanfed.tlog import TransparencyLog, verified_checkpoint, verify_inclusion
from vanfed.tlog._log import RECORD

ORIGIN = "armac.test/log"


class Disk:
    """``os.write`` with a budget of free bytes and writes of at most ``chunk`` bytes."""

    def __init__(self, free: int | None = None, chunk: int = 7) -> None:
        self.free = free
        self.chunk = chunk

    def write(self, fd: int, data: bytes) -> int:
        n = min(len(data), self.chunk)
        if self.free is not None:
            if self.free <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            n = min(n, self.free)
            self.free -= n
        return os.write(fd, data[:n])


def open_log(trust: Trust, folder: Path, disk: Disk) -> TransparencyLog:
    return TransparencyLog(
        folder, origin=ORIGIN, signer=trust.log, public=trust.log.public.raw, write=disk.write
    )


def test_short_writes_are_continued(trust: Trust, tmp_path: Path) -> None:
    disk = Disk(chunk=5)
    with open_log(trust, tmp_path, disk) as log:
        for i in range(4):
            log.append(b"entry %d" % i, 1_700_000_000)
        note = log.checkpoint()
    with TransparencyLog.read(tmp_path, [trust.log.public.raw]) as again:
        assert again.tree.size == 4 and again.checkpoints[-1][1] == note


def test_full_disk_undoes_the_append_and_recovers(trust: Trust, tmp_path: Path) -> None:
    disk = Disk()
    entries = tmp_path / "entries"
    with open_log(trust, tmp_path, disk) as log:
        log.append(b"first", 1_700_000_000)
        first = log.checkpoint()
        disk.free = RECORD.size // 2  # half a record fits
        with pytest.raises(LogError) as exc:
            log.append(b"second", 1_700_000_001)
        assert exc.value.reasons == ("log_unwritable",)
        assert "No space left" in str(exc.value)
        assert entries.stat().st_size == RECORD.size  # the torn half is gone
        assert log.tree.size == 1 and len(log.entries) == len(log.by_digest) == 1
        with pytest.raises(LogError):  # still full: refused again, nothing written
            log.append(b"second", 1_700_000_001)
        disk.free = None  # space returns
        entry = log.append(b"second", 1_700_000_002)
        assert entry.index == 1
        note = log.checkpoint()
    with TransparencyLog.read(tmp_path, [trust.log.public.raw]) as again:
        assert again.tree.size == 2
        assert [n for _, n in again.checkpoints] == [first, note]
        cp, _ = verified_checkpoint(note, [trust.log.public.raw])
        proof = again.tree.inclusion_proof(1, 2)
        assert verify_inclusion(again.entries[1].leaf, 1, 2, proof, cp.root)


def test_full_disk_while_signing_a_checkpoint(trust: Trust, tmp_path: Path) -> None:
    disk = Disk()
    with open_log(trust, tmp_path, disk) as log:
        log.append(b"one", 1_700_000_000)
        disk.free = 10
        with pytest.raises(LogError) as exc:
            log.checkpoint()
        assert exc.value.reasons == ("log_unwritable",) and log.checkpoints == []
        assert (tmp_path / "checkpoints").stat().st_size == 0
        disk.free = None
        note = log.checkpoint()
    with open_log(trust, tmp_path, Disk()) as again:  # no torn checkpoint to stumble on
        assert [n for _, n in again.checkpoints] == [note]


def test_failed_fsync_of_a_batch_drops_the_batch(trust: Trust, tmp_path: Path) -> None:
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.EIO, "I/O error")
        os.fsync(fd)

    log = TransparencyLog(
        tmp_path, origin=ORIGIN, signer=trust.log, public=trust.log.public.raw, fsync=fsync
    )
    with log:
        log.append(b"a", 1_700_000_000, sync=False)
        log.append(b"b", 1_700_000_000, sync=False)
        with pytest.raises(LogError):
            log.sync()
        assert log.tree.size == 0 and (tmp_path / "entries").stat().st_size == 0
        log.append(b"a", 1_700_000_000)
        assert log.tree.size == 1
