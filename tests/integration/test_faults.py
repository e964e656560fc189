"""Nothing lost, nothing twice: real server and node processes, killed at awkward moments.

Afterwards, every envelope a node holds a receipt for is in the inbox exactly once, every
queued envelope is eventually delivered, and the log is consistent with every checkpoint
it ever issued (including those inside the nodes' receipts).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from vanfed.signing import envelope_digest, sign_summary
from vanfed.testing import NOW, Service, Trust, small_summary
from vanfed.testing import cli_env as env
from vanfed.testing import run_cli as vanfed
from vanfed.tlog import (
    TransparencyLog,
    log_folder,
    log_keys,
    verified_checkpoint,
    verify_consistency,
    verify_receipt,
)
from vanfed.transport import Outbox

ROOT = Path(__file__).parents[2]


@pytest.fixture
def service(tmp_path: Path, trust: Trust) -> Iterator[Service]:
    with Service(tmp_path / "coord", trust) as svc:
        yield svc


def signed(trust: Trust, country: str) -> bytes:
    return sign_summary(small_summary(country, "2020"), trust.nodes[country])


def check_inbox(service: Service, trust: Trust, expected: set[str]) -> TransparencyLog:
    """The inbox holds exactly the expected envelopes, each once, intact and logged."""
    files = sorted(service.inbox.glob("*.dsse.json"))
    names = {"sha256:" + p.name.removesuffix(".dsse.json") for p in files}
    assert names == expected
    for p in files:
        assert "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest() == "sha256:" + p.name[:64]
    log = TransparencyLog.read(log_folder(service.inbox), log_keys(trust.registry))
    assert log.tree.size == len(expected) and set(log.by_digest) == expected
    assert not list(service.inbox.glob(".*.tmp"))
    return log


def test_ten_nodes_thousand_envelopes_server_killed_repeatedly(
    tmp_path: Path, trust: Trust
) -> None:
    service = Service(tmp_path / "coord", trust)
    service.start()
    nodes = []
    countries = Trust.COUNTRIES
    for country in countries:
        with (tmp_path / f"node-{country}.log").open("wb") as err:
            nodes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.integration._node_proc",
                        str(tmp_path / f"outbox-{country}"),
                        str(service.registry),
                        service.url,
                        country,
                        "1920",  # 100 years that have begun (a later one is refused)
                        "100",
                        "240",
                    ],
                    cwd=ROOT,
                    env=env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            )
    kills = 0

    def logged() -> int:
        try:
            return int(httpx.get(f"{service.url}/v1/status", timeout=5).json()["log_size"])
        except (httpx.HTTPError, ValueError, KeyError):
            return -1

    try:
        for more in (50, 150, 100, 80):  # kill only once this life accepted some
            start, deadline = max(logged(), 0), time.monotonic() + 120
            while logged() < start + more and time.monotonic() < deadline:
                time.sleep(0.05)
            service.kill()
            kills += 1
            time.sleep(0.3)
            service.start()
        codes = [p.wait(timeout=300) for p in nodes]
    finally:
        for p in nodes:
            if p.poll() is None:
                p.kill()
    logs = [(tmp_path / f"node-{c}.log").read_text()[-500:] for c in countries]
    assert codes == [0] * len(nodes), logs
    assert kills == 4
    expected: set[str] = set()
    checkpoints = []
    for country in countries:
        with Outbox(tmp_path / f"outbox-{country}", trust.registry) as box:
            assert box.pending() == []
            for year in range(1920, 2020):
                envelope = sign_summary(small_summary(country, str(year)), trust.nodes[country])
                digest = envelope_digest(envelope)
                receipt = box.receipt(digest)
                assert receipt is not None, (country, year)
                _r, cp = verify_receipt(receipt, trust.registry, envelope=envelope, now=NOW)
                expected.add(digest)
                checkpoints.append(cp)
    assert len(expected) == 1000
    service.stop()
    log = check_inbox(service, trust, expected)
    final = log.tree.size
    for cp in checkpoints:  # every checkpoint a node holds is a prefix of the final log
        proof = log.tree.consistency_proof(cp.size, final)
        assert verify_consistency(cp.size, final, cp.root, log.tree.root(), proof)
    assert "Traceback" not in service.logs()
    # The kills landed under load: several server lives accepted submissions.
    lives = [p.read_text() for p in sorted(service.root.glob("serve-*.log"))]
    assert sum('"msg": "accepted' in life for life in lives) >= 3, [
        life.count("accepted") for life in lives
    ]


def test_server_killed_while_receiving(service: Service, trust: Trust) -> None:
    envelope = signed(trust, "KHM")
    sock = socket.create_connection(("127.0.0.1", service.port))
    sock.sendall(
        b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(envelope)
        + envelope[: len(envelope) // 2]
    )
    time.sleep(0.3)
    service.kill()
    sock.close()
    service.start()
    check_inbox(service, trust, set())  # nothing half-received was kept
    resp = httpx.post(
        f"{service.url}/v1/submissions",
        content=envelope,
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 201
    service.stop()
    check_inbox(service, trust, {envelope_digest(envelope)})


def test_client_killed_between_send_and_receipt(
    service: Service, trust: Trust, tmp_path: Path
) -> None:
    envelope = signed(trust, "LAO")
    f = tmp_path / "lao.dsse.json"
    f.write_bytes(envelope)
    outbox = tmp_path / "outbox"
    args = ["--registry", str(service.registry), "--outbox", str(outbox)]
    assert service.proc is not None
    os.kill(service.proc.pid, signal.SIGSTOP)  # the request will sit in the socket
    client = subprocess.Popen(
        [sys.executable, "-m", "vanfed", "submit", str(f), "--to", service.url, *args],
        env=env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # queued in the outbox (its database appears; a loaded machine takes seconds to start
    # an interpreter), then sent, waiting for the answer
    deadline = time.monotonic() + 120
    while not any(outbox.glob("*.db")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3.0)
    client.send_signal(signal.SIGKILL)
    client.wait(timeout=10)
    os.kill(service.proc.pid, signal.SIGCONT)
    time.sleep(0.5)
    listing = vanfed("outbox", "list", "--json", *args)
    assert '"state": "queued"' in listing.stdout  # no receipt yet: still queued
    flushed = vanfed("outbox", "flush", *args, "--max-wait", "30")
    assert flushed.returncode == 0, flushed.stderr
    with Outbox(outbox, trust.registry) as box:
        receipt = box.receipt(envelope_digest(envelope))
    assert receipt is not None
    served = httpx.get(f"{service.url}/v1/submissions/{envelope_digest(envelope)}").content
    assert served == receipt
    service.stop()
    check_inbox(service, trust, {envelope_digest(envelope)})


def test_duplicate_deliveries_get_one_entry_and_one_receipt(service: Service, trust: Trust) -> None:
    envelope = signed(trust, "VNM")

    def send(_: int) -> httpx.Response:
        return httpx.post(
            f"{service.url}/v1/submissions",
            content=envelope,
            headers={"content-type": "application/json"},
            timeout=30,
        )

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(32)))
    assert sorted(a.status_code for a in answers) == [200] * 31 + [201]
    assert len({a.content for a in answers}) == 1
    service.stop()
    log = check_inbox(service, trust, {envelope_digest(envelope)})
    cp, _ = verified_checkpoint(log.checkpoints[-1][1], log_keys(trust.registry))
    assert cp.size == 1


@pytest.mark.parametrize("moment", ["after_write", "after_append"])
def test_crash_inside_accept_is_recovered(tmp_path: Path, trust: Trust, moment: str) -> None:
    """Simulate the two crash windows inside acceptance precisely, then restart."""
    from tests.unit.transport.test_inbox import open_inbox

    inbox = open_inbox(trust, tmp_path)
    envelope = signed(trust, "MYS")
    digest = envelope_digest(envelope)
    inbox.path_of(digest).write_bytes(envelope)
    if moment == "after_append":  # logged, but no checkpoint was signed yet
        inbox.log.append(envelope, int(NOW.timestamp()))
    inbox.close()
    inbox = open_inbox(trust, tmp_path)
    again = inbox.accept(envelope)
    assert not again.new and again.index == 0
    verify_receipt(again.receipt, trust.registry, envelope=envelope, now=NOW)
    inbox.close()
