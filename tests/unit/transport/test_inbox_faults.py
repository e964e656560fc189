"""The inbox under faults and hostile copies: a full disk gets 503-class refusals and no
receipt for anything not durable; a re-encoded copy of a node's envelope cannot front-run
it; a zip bundle with a corrupt member reports every member."""

from __future__ import annotations

import base64
import errno
import json
import os
import zipfile
from pathlib import Path

import pytest
from tests.unit.transport.test_inbox import envelope

from vanfed.schema import InboxLayout
from vanfed.signing import sign_summary
from vanfed.testing import NOW, Trust, small_summary
from vanfed.tlog import TransparencyLog, log_keys, verify_receipt
from vanfed.tlog._log import RECORD
from vanfed.transport import Inbox, Rejected, http_status, import_path


class Disk:
    """``os.write`` that fails with ENOSPC while ``full`` or once ``free`` bytes are used."""

    def __init__(self) -> None:
        self.full = False
        self.free: int | None = None

    def write(self, fd: int, data: bytes) -> int:
        if self.full or (self.free is not None and self.free < len(data)):
            raise OSError(errno.ENOSPC, "No space left on device")
        if self.free is not None:
            self.free -= len(data)
        return os.write(fd, data)


def open_inbox(trust: Trust, folder: Path, disk: Disk | None = None) -> Inbox:
    return Inbox(
        folder, trust.registry, coordinator=trust.coordinator, log_key=trust.log,
        now=lambda: NOW, log_write=disk.write if disk else None,
    )  # fmt: skip


def test_full_disk_gets_no_receipt_and_recovers(trust: Trust, tmp_path: Path) -> None:
    disk = Disk()
    inbox = open_inbox(trust, tmp_path, disk)
    envs = {c: envelope(trust, c) for c in ("KHM", "LAO", "THA")}
    receipts = {"KHM": inbox.accept(envs["KHM"]).receipt}
    disk.full = True
    with pytest.raises(Rejected) as exc:
        inbox.accept(envs["LAO"])
    assert (
        exc.value.reasons == ("storage_unavailable",) and http_status("storage_unavailable") == 503
    )
    assert not InboxLayout(tmp_path).envelope(exc.value.digest or "").exists()  # not half-kept
    assert inbox.receipt_for(exc.value.digest or "") is None
    assert inbox.accept(envs["KHM"]).receipt == receipts["KHM"]  # what is durable still answers
    disk.full = False
    for c in ("LAO", "THA"):
        receipts[c] = inbox.accept(envs[c]).receipt
    inbox.close()
    inbox = open_inbox(trust, tmp_path)  # restarts cleanly
    log = TransparencyLog.read(InboxLayout(tmp_path).log, log_keys(trust.registry))
    assert log.tree.size == 3
    for c, receipt in receipts.items():
        verify_receipt(receipt, trust.registry, envelope=envs[c], now=NOW)
    inbox.close()


def test_no_receipt_until_a_checkpoint_is_durable(trust: Trust, tmp_path: Path) -> None:
    """The entry was appended but its checkpoint could not be written: 503, and the repeat
    gets a receipt once the disk is writable (signed then)."""
    disk = Disk()
    inbox = open_inbox(trust, tmp_path, disk)
    env = envelope(trust, "VNM")
    disk.free = RECORD.size  # room for the log entry, none for its checkpoint
    with pytest.raises(Rejected) as exc:
        inbox.accept(env)
    assert exc.value.reasons == ("storage_unavailable",)
    with pytest.raises(Rejected):  # logged, but no receipt while no checkpoint is durable
        inbox.receipt_for(exc.value.digest or "")
    disk.free = None
    again = inbox.accept(env)
    assert not again.new  # it was durable in the log; only its receipt had to wait
    verify_receipt(again.receipt, trust.registry, envelope=env, now=NOW)
    inbox.close()


def reencoded(env: bytes) -> bytes:
    """The same signed statement, URL-safe base64 and another keyid hint."""
    obj = json.loads(env)
    raw = base64.b64decode(obj["payload"])
    obj["payload"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    obj["signatures"] = [{"keyid": "", "sig": s["sig"]} for s in obj["signatures"]]
    obj["extra"] = "ignored"
    return json.dumps(obj, indent=1).encode()


def test_a_reencoded_copy_cannot_front_run_the_node(trust: Trust, tmp_path: Path) -> None:
    inbox = open_inbox(trust, tmp_path)
    env = envelope(trust, "PHL")
    copy = reencoded(env)
    assert copy != env
    first = inbox.accept(copy)  # someone on the path submits a re-encoding first
    mine = inbox.accept(env)  # the node's own copy is the same submission, not a conflict
    assert not mine.new and mine.digest == first.digest and mine.receipt == first.receipt
    verify_receipt(mine.receipt, trust.registry, envelope=env, now=NOW)
    assert InboxLayout(tmp_path).envelope(mine.digest).read_bytes() == env  # canonical form
    assert len(InboxLayout(tmp_path).envelopes()) == 1
    inbox.close()


def test_a_corrupt_bundle_member_costs_only_itself(trust: Trust, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    members = {
        f"{c}.dsse.json": sign_summary(small_summary(c, "2023"), trust.nodes[c])
        for c in ("BRN", "IDN", "MYS")
    }
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    raw = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo("IDN.dsse.json")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + 5 : start + 15] = b"\xff" * 10  # damage the second member's compressed bytes
    bundle.write_bytes(bytes(raw))
    inbox = open_inbox(trust, tmp_path / "inbox")
    items = import_path(inbox, bundle)
    assert [i.source for i in items] == [f"bundle.zip!{n}" for n in members]
    assert [i.accepted is not None for i in items] == [True, False, True]
    assert items[1].rejected is not None and items[1].rejected.reasons == ("unreadable",)
    for item in (items[0], items[2]):
        assert item.accepted is not None
        name = item.source.split("!")[1]
        verify_receipt(item.accepted.receipt, trust.registry, envelope=members[name], now=NOW)
    inbox.close()
