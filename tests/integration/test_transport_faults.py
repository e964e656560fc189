"""Transport under faults, through the real CLI and a real service on 127.0.0.1 (#13 items
1, 6, 7): the disk fills under load (a tiny tmpfs this test mounts) and no receipt goes out
for anything not durable, the service recovers when space returns and every receipt issued
verifies against the final log; a file drop is imported through the running service; a
refusal is reported as final; merge refuses a key that is not the coordinator's and a period
without inputs."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vanfed import Coordinator
from vanfed.errors import InputError, UntrustedKeyError
from vanfed.schema import InboxLayout
from vanfed.signing import save_keypair, sign_summary
from vanfed.testing import NOW, PASSPHRASE, Service, Trust, small_summary
from vanfed.testing import run_cli as vanfed
from vanfed.tlog import TransparencyLog, log_keys, verify_receipt

JSON = {"content-type": "application/json"}


def env_of(trust: Trust, country: str, period: str, **kw: object) -> bytes:
    return sign_summary(small_summary(country, period, **kw), trust.nodes[country])  # type: ignore[arg-type]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for this test (root only)."""
    mount = tmp_path / "coord" / "inbox"
    mount.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode()[:200]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write a filler file until the filesystem is full."""
    filler = folder / ".filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_disk_fills_under_load(trust: Trust, tiny_disk: Path) -> None:
    service = Service(tiny_disk.parent, trust)
    service.start()
    jobs = [
        env_of(trust, c, f"{y}-Q{q}")
        for y in range(2001, 2004)
        for q in (1, 2, 3, 4)
        for c in ("KHM", "LAO", "THA", "VNM")
    ]
    answers: dict[int, list[int]] = {i: [] for i in range(len(jobs))}
    receipts: dict[int, bytes] = {}
    lock = threading.Lock()

    def send(indexes: list[int]) -> None:
        with httpx.Client(timeout=30) as http:
            for i in indexes:
                r = http.post(f"{service.url}/v1/submissions", content=jobs[i], headers=JSON)
                with lock:
                    answers[i].append(r.status_code)
                    if r.status_code in (200, 201):
                        receipts[i] = r.content

    try:
        send(list(range(8)))  # some land before the disk fills
        filler = fill(tiny_disk)
        workers = [
            threading.Thread(target=send, args=(list(range(8 + k, len(jobs), 4)),))
            for k in range(4)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        refused = [i for i, a in answers.items() if a and a[-1] == 503]
        assert refused, "the full disk refused nothing"
        assert all(a[-1] in (201, 503) for a in answers.values() if a)
        assert httpx.get(f"{service.url}/v1/status").status_code == 200  # still serving
        filler.unlink()  # space returns
        send([i for i in range(len(jobs)) if i not in receipts])
        assert len(receipts) == len(jobs)
        with httpx.Client() as http:  # the repeats of earlier ones answer the same receipt
            assert (
                http.post(f"{service.url}/v1/submissions", content=jobs[0], headers=JSON).content
                == receipts[0]
            )
    finally:
        service.stop()
    service.start()  # restarts on the log the full disk left
    service.stop()
    log = TransparencyLog.read(InboxLayout(tiny_disk).log, log_keys(trust.registry))
    assert log.tree.size == len(jobs) and len(InboxLayout(tiny_disk).envelopes()) == len(jobs)
    for i, receipt in receipts.items():
        checked, cp = verify_receipt(receipt, trust.registry, envelope=jobs[i], now=NOW)
        assert log.tree.root(cp.size) == cp.root  # every receipt's checkpoint is a prefix
        assert log.by_digest[checked.envelope_sha256] == checked.log.index


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Iterator[Service]:
    with Service(tmp_path_factory.mktemp("faults"), trust) as svc:
        yield svc


def test_file_drop_through_the_running_service(
    service: Service, trust: Trust, tmp_path: Path
) -> None:
    bundle = tmp_path / "drop.zip"
    envs = {c: env_of(trust, c, "2019") for c in ("BRN", "MYS")}
    with zipfile.ZipFile(bundle, "w") as zf:
        for c, data in envs.items():
            zf.writestr(f"{c}.dsse.json", data)
        zf.writestr("junk.dsse.json", b"{}")
    receipts = tmp_path / "receipts"
    args = ["--registry", str(service.registry), "--receipts", str(receipts)]
    # The service holds the log: importing in process is refused, through it works.
    held = vanfed(
        "inbox", "import", str(bundle), "--inbox", str(service.inbox),
        "--key", str(service.keys / "coordinator"), "--log-key", str(service.keys / "log"), *args,
    )  # fmt: skip
    assert held.returncode != 0 and "another process" in held.stderr
    proc = vanfed("inbox", "import", str(bundle), "--to", service.url, *args)
    assert proc.returncode == 1, proc.stderr  # one member is refused...
    assert "drop.zip!BRN.dsse.json: accepted as log entry" in proc.stdout
    assert "drop.zip!MYS.dsse.json: accepted as log entry" in proc.stdout
    assert "drop.zip!junk.dsse.json: rejected: malformed_envelope" in proc.stdout
    assert "1 of 3 item(s) rejected" in proc.stderr
    written = sorted(receipts.glob("*.receipt.dsse.json"))
    assert len(written) == 2  # ...and the accepted ones have their receipts
    for c, env in envs.items():
        digest = httpx.get(f"{service.url}/v1/periods/2019").json()["submissions"]
        assert any(s["country"] == c for s in digest)
        mine = receipts / f"{verify_receipt_digest(env)}.receipt.dsse.json"
        verify_receipt(mine.read_bytes(), trust.registry, envelope=env, now=NOW)
    # Again with --json: the same items, now repeats, as one JSON object on stdout.
    again = vanfed("inbox", "import", str(bundle), "--to", service.url, *args, "--json")
    assert again.returncode == 1, again.stderr
    report = json.loads(again.stdout)
    status = {row["source"]: row["status"] for row in report["items"]}
    assert status == {
        "drop.zip!BRN.dsse.json": "already_accepted",
        "drop.zip!MYS.dsse.json": "already_accepted",
        "drop.zip!junk.dsse.json": "rejected",
    }
    assert report["rejected"] == 1
    junk = next(r for r in report["items"] if r["status"] == "rejected")
    assert junk["reasons"] == ["malformed_envelope"]


def verify_receipt_digest(env: bytes) -> str:
    import hashlib

    return hashlib.sha256(env).hexdigest()


def test_a_refused_submission_is_final_and_retries_show_progress(
    service: Service, trust: Trust, tmp_path: Path
) -> None:
    first = env_of(trust, "SGP", "2018")
    other = env_of(trust, "SGP", "2018", seed=3)  # another revision 1: conflicting
    assert httpx.post(f"{service.url}/v1/submissions", content=first, headers=JSON).is_success
    f = tmp_path / "sgp.dsse.json"
    f.write_bytes(other)
    common = ["--registry", str(service.registry), "--outbox", str(tmp_path / "outbox")]
    refused = vanfed("submit", str(f), "--to", service.url, *common)
    assert refused.returncode == 1
    assert "rejected: HTTP 409 conflicting_revision" in refused.stdout
    assert "retrying cannot help" in refused.stderr and "outbox flush" not in refused.stderr
    g = tmp_path / "idn.dsse.json"
    g.write_bytes(env_of(trust, "IDN", "2018"))
    down = vanfed(
        "submit", str(g), "--to", "http://127.0.0.1:9", *common,
        "--max-wait", "2", "--max-backoff", "0.3",
    )  # fmt: skip
    attempts = [line for line in down.stdout.splitlines() if "queued: " in line]
    assert down.returncode == 1 and len(attempts) >= 2  # each attempt is shown
    assert "vanfed outbox flush" in down.stderr


def test_merge_refuses_a_foreign_key_and_an_empty_period(
    service: Service, trust: Trust, tmp_path: Path
) -> None:
    with pytest.raises(UntrustedKeyError, match="not the registry's coordinator key"):
        Coordinator(trust.registry, trust.log)
    save_keypair(trust.log, tmp_path / "log", PASSPHRASE.encode())
    save_keypair(trust.coordinator, tmp_path / "coord", PASSPHRASE.encode())
    base = [str(tmp_path / "in"), "--registry", str(service.registry), "--out", str(tmp_path / "o")]
    (tmp_path / "in").mkdir()
    wrong = vanfed("merge", *base, "--key", str(tmp_path / "log"), "--period", "2024")
    assert wrong.returncode == 1 and "a log key, not the registry's coordinator key" in wrong.stderr
    empty = vanfed("merge", *base, "--key", str(tmp_path / "coord"), "--period", "1999")
    assert empty.returncode == 2 and "no valid summary for period 1999" in empty.stderr
    assert not (tmp_path / "o").exists()  # nothing signed, nothing written
    with pytest.raises(InputError):
        Coordinator(trust.registry, trust.coordinator).merge(
            tmp_path / "in", period="1999", now=NOW
        )


def test_the_service_follows_a_newer_registry_without_restart(trust: Trust, tmp_path: Path) -> None:
    import datetime as dt

    from vanfed._json import atomic_write
    from vanfed.signing import KeyPair, revoke_key, sign_registry

    service = Service(tmp_path / "coord", trust)
    service.start()
    try:
        url = service.url
        ok = httpx.post(f"{url}/v1/submissions", content=env_of(trust, "KHM", "2017"), headers=JSON)
        first, _ = verify_receipt(
            ok.content, trust.registry, envelope=env_of(trust, "KHM", "2017"), now=NOW
        )
        assert first.registry_version == trust.registry.version
        later = NOW + dt.timedelta(minutes=1)
        v2 = revoke_key(
            trust.registry,
            trust.nodes["MMR"].keyid,
            reason="key lost",
            now=NOW - dt.timedelta(hours=1),
        )
        atomic_write(service.registry, sign_registry(v2, trust.roots[:2]))
        status = httpx.get(f"{url}/v1/status").json()
        assert status["registry_version"] == v2.version  # loaded, no restart
        refused = httpx.post(
            f"{url}/v1/submissions", content=env_of(trust, "MMR", "2017"), headers=JSON
        )
        assert refused.status_code == 403 and refused.json()["error"] == "key_revoked"
        thai = env_of(trust, "THA", "2017")
        receipt, _ = verify_receipt(
            httpx.post(f"{url}/v1/submissions", content=thai, headers=JSON).content,
            v2, envelope=thai, now=later,
        )  # fmt: skip
        assert receipt.registry_version == v2.version
        assert receipt.registry_digest == status["registry_digest"]
        # A registry not signed by v2's roots (minted from scratch) is not loaded.
        impostor = [KeyPair.from_seed(bytes([i]) * 32) for i in range(3)]
        forged = v2.model_copy(update={"version": v2.version + 1})
        atomic_write(service.registry, sign_registry(forged, impostor))
        assert httpx.get(f"{url}/v1/status").json()["registry_version"] == v2.version
        assert "not loaded" in service.logs()
    finally:
        service.stop()
