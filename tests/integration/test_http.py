"""The coordinator service over real HTTP on 127.0.0.1: every rejection path, sealed and
plain submissions, receipts, read endpoints, and a service that keeps serving."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vanfed.schema import RECEIPT_TYPE
from vanfed.signing import EncryptionKeyPair, envelope_digest, sign_summary
from vanfed.testing import NOW, Service, Trust, small_summary
from vanfed.testing import run_cli as vanfed
from vanfed.tlog import verify_receipt
from vanfed.transport import SEALED_MEDIA_TYPE, seal, sealing_key

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Iterator[Service]:
    with Service(tmp_path_factory.mktemp("http"), trust, body_deadline=2.0) as svc:
        yield svc


def env_of(trust: Trust, country: str, period: str, **kw) -> bytes:
    return sign_summary(small_summary(country, period, **kw), trust.nodes[country])


def post(service: Service, body: bytes, headers: dict[str, str] = JSON) -> httpx.Response:
    return httpx.post(f"{service.url}/v1/submissions", content=body, headers=headers, timeout=30)


def test_accept_repeat_and_read_back(service: Service, trust: Trust) -> None:
    env = env_of(trust, "KHM", "2010")
    first, again = post(service, env), post(service, env)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.content == again.content  # the same receipt
    receipt, _ = verify_receipt(first.content, trust.registry, envelope=env, now=NOW)
    digest = envelope_digest(env)
    assert first.headers["location"] == f"/v1/submissions/{digest}"
    got = httpx.get(f"{service.url}/v1/submissions/{digest}")
    assert got.status_code == 200 and got.content == first.content
    listing = httpx.get(f"{service.url}/v1/periods/2010").json()["submissions"]
    assert [(s["country"], s["digest"], s["current"]) for s in listing] == [("KHM", digest, True)]
    assert (service.inbox / f"{digest[7:]}.dsse.json").read_bytes() == env
    status = httpx.get(f"{service.url}/v1/status").json()
    assert status["log_size"] >= receipt.sequence + 1
    spec = httpx.get(f"{service.url}/v1/openapi.json").json()
    assert "/v1/submissions" in spec["paths"] and spec["openapi"].startswith("3.")


def test_sealed_submission(service: Service, trust: Trust) -> None:
    env = env_of(trust, "LAO", "2010")
    keyid, public = sealing_key(trust.registry)
    resp = post(
        service,
        seal(env, country="LAO", keyid=keyid, public=public),
        {"content-type": SEALED_MEDIA_TYPE},
    )
    assert resp.status_code == 201, resp.text
    verify_receipt(resp.content, trust.registry, envelope=env, now=NOW)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("malformed_json", 400, "malformed_envelope"),
        ("duplicate_keys", 400, "duplicate_key"),
        ("wrong_content_type", 415, "unsupported_media_type"),
        ("oversized_declared", 413, "too_large"),
        ("oversized_streamed", 413, "too_large"),
        ("sealed_for_another_key", 400, "unknown_encryption_key"),
        ("sealed_and_altered", 400, "seal_broken"),
        ("bad_signature", 403, "bad_signature"),
        ("another_countrys_key", 403, "wrong_country"),
        ("older_revision_replayed", 409, "superseded"),
        ("not_a_summary", 400, "payload_type_mismatch"),
    ],
)
def test_rejections(service: Service, trust: Trust, case: str, status: int, code: str) -> None:
    limit = trust.registry.policy.max_envelope_bytes
    env = env_of(trust, "THA", "2011")
    keyid, public = sealing_key(trust.registry)
    headers = JSON
    if case == "malformed_json":
        body = b'{"payload": '
    elif case == "duplicate_keys":
        body = b'{"payloadType": "x", "payloadType": "y", "payload": "", "signatures": []}'
    elif case == "wrong_content_type":
        body, headers = env, {"content-type": "text/plain"}
    elif case == "oversized_declared":
        body = b"x" * (limit + 10_000)
    elif case == "oversized_streamed":  # no Content-Length: chunked, cut off while reading
        body = iter([b"x" * 65536] * (limit // 65536 + 2))  # type: ignore[assignment]
    elif case == "sealed_for_another_key":
        other = EncryptionKeyPair.from_seed(bytes(range(32)))
        body = seal(env, country="THA", keyid=other.keyid, public=other.public.raw)
        headers = {"content-type": SEALED_MEDIA_TYPE}
    elif case == "sealed_and_altered":
        sealed = bytearray(seal(env, country="THA", keyid=keyid, public=public))
        sealed[-5] ^= 0x40
        body, headers = bytes(sealed), {"content-type": SEALED_MEDIA_TYPE}
    elif case == "bad_signature":
        i = env.index(b'"sig":"') + 8
        body = env[:i] + (b"B" if env[i : i + 1] != b"B" else b"C") + env[i + 1 :]
    elif case == "another_countrys_key":
        body = sign_summary(small_summary("THA", "2011"), trust.nodes["VNM"])
    elif case == "older_revision_replayed":
        r1 = env_of(trust, "MMR", "2012")
        r2 = env_of(trust, "MMR", "2012", revision=2, supersedes=envelope_digest(r1))
        assert post(service, r1).status_code == 201
        assert post(service, r2).status_code == 201
        body = env_of(trust, "MMR", "2012", seed=9)  # another revision 1, after revision 2
    elif case == "not_a_summary":
        body = trust.registry_bytes
    resp = post(service, body, headers)
    assert resp.status_code == status, resp.text
    err = resp.json()
    assert err["error"] == code and code in err["reasons"] and err["message"]
    # ... and the service keeps serving.
    assert httpx.get(f"{service.url}/v1/status").status_code == 200


def test_slow_senders_are_cut_off_and_do_not_block_others(service: Service, trust: Trust) -> None:
    host, port = "127.0.0.1", service.port
    # Slowloris: many connections dribbling headers, one byte at a time.
    lorises = []
    for _ in range(40):
        s = socket.create_connection((host, port))
        s.sendall(b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\n")
        lorises.append(s)
    # A slow body: headers complete, body never finishes.
    slow = socket.create_connection((host, port))
    slow.sendall(
        b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 5000\r\n\r\n{"payload":'
    )
    stop = threading.Event()

    def dribble() -> None:
        while not stop.is_set():
            for s in lorises:
                with contextlib.suppress(OSError):
                    s.sendall(b"X")
            time.sleep(0.2)

    t = threading.Thread(target=dribble, daemon=True)
    t.start()
    try:
        started = time.monotonic()
        resp = post(service, env_of(trust, "VNM", "2013"))
        assert resp.status_code == 201 and time.monotonic() - started < 10
        slow.settimeout(15)
        answer = b""
        while b"}" not in answer:
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert b" 408 " in answer.split(b"\r\n")[0] and b"request_timeout" in answer
    finally:
        stop.set()
        t.join()
        for s in [*lorises, slow]:
            s.close()
    assert httpx.get(f"{service.url}/v1/status").status_code == 200


def test_submit_and_outbox_cli(service: Service, trust: Trust, tmp_path: Path) -> None:
    env_file = tmp_path / "idn.dsse.json"
    env_file.write_bytes(env_of(trust, "IDN", "2014"))
    outbox = tmp_path / "outbox"
    common = ["--registry", str(service.registry), "--outbox", str(outbox)]
    proc = vanfed("submit", str(env_file), "--to", service.url, "--seal", *common)
    assert proc.returncode == 0, proc.stderr
    assert "delivered" in proc.stdout
    receipt_file = tmp_path / "idn.receipt.dsse.json"  # beside the envelope
    assert f"receipt: {receipt_file}" in proc.stdout
    receipt = json.loads(receipt_file.read_bytes())
    assert receipt["payloadType"] == RECEIPT_TYPE
    listing = vanfed("outbox", "list", "--json", *common)
    (entry,) = json.loads(listing.stdout)
    assert entry["state"] == "delivered" and entry["receipt"] == receipt
    # A coordinator that is down: queued, exit 1 with what to do, nothing lost.
    env2 = tmp_path / "phl.dsse.json"
    env2.write_bytes(env_of(trust, "PHL", "2014"))
    down = vanfed("submit", str(env2), "--to", "http://127.0.0.1:9", *common, "--max-wait", "1")
    assert down.returncode == 1 and "vanfed outbox flush" in down.stderr
    assert '"state": "queued"' in vanfed("outbox", "list", "--json", *common).stdout


def self_signed(folder: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vanfed test coordinator")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls(trust: Trust, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    service = Service(tmp_path / "coord", trust, tls=(cert, key))
    url = service.start()
    try:
        assert url.startswith("https://")
        with pytest.raises(httpx.ConnectError):  # an unknown certificate is refused
            httpx.get(f"{url}/v1/status")
        env_file = tmp_path / "brn.dsse.json"
        env_file.write_bytes(env_of(trust, "BRN", "2015"))
        args = ["--registry", str(service.registry), "--outbox", str(tmp_path / "outbox")]
        proc = vanfed("submit", str(env_file), "--to", url, "--ca-cert", str(cert), *args)
        assert proc.returncode == 0, proc.stderr
    finally:
        service.stop()


def test_outbox_reports_a_forked_log_loudly(trust: Trust, tmp_path: Path) -> None:
    """The coordinator loses (or rewrites) its log: the node's next receipt carries a
    checkpoint that does not extend the one it kept, and delivery stops with log_forked."""
    import shutil

    from vanfed.errors import LogError
    from vanfed.transport import Outbox

    service = Service(tmp_path / "coord", trust)
    service.start()
    try:
        with Outbox(tmp_path / "outbox", trust.registry, max_backoff=0.2) as box:
            box.queue(env_of(trust, "SGP", "2016"), service.url)
            assert [d.state for d in box.flush(max_wait=20)] == ["delivered"]
            service.stop()
            shutil.rmtree(service.inbox)  # a fresh log, with other history
            service.start()
            assert post(service, env_of(trust, "PHL", "2016")).status_code == 201
            box.queue(env_of(trust, "SGP", "2017"), service.url)
            with pytest.raises(LogError) as exc:
                box.flush(max_wait=20)
            assert exc.value.reasons == ("log_forked",)
            assert box.pending()  # not marked delivered
    finally:
        service.stop()
