"""The outbox against an in-memory coordinator (httpx.MockTransport): retries with backoff
on outages, parks definite refusals, keeps an entry until a verified receipt is stored —
with the clock, the jitter and the waiting injected, so nothing here sleeps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from random import Random

import httpx

from vanfed.signing import envelope_digest, sign_summary
from vanfed.testing import NOW, Trust, small_summary
from vanfed.transport import Inbox, Outbox, Rejected, http_status

URL = "http://coordinator.test"


class FakeTime:
    """A clock that only moves when the outbox sleeps."""

    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def clock(self) -> dt.datetime:
        return self.now

    def monotonic(self) -> float:
        return (self.now - NOW).total_seconds()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


def coordinator(
    inbox: Inbox, script: list[Callable[[], httpx.Response] | None]
) -> httpx.MockTransport:
    """POSTs answer from ``script`` first (None: the real inbox), then from the inbox."""

    def handle(request: httpx.Request) -> httpx.Response:
        step = script.pop(0) if script else None
        if step is not None:
            return step()
        if request.method == "POST":
            try:
                accepted = inbox.accept(request.content)
            except Rejected as exc:
                code = exc.reasons[0]
                body = {"error": code, "reasons": list(exc.reasons), "message": str(exc)}
                return httpx.Response(http_status(code), json=body)
            return httpx.Response(201 if accepted.new else 200, content=accepted.receipt)
        return httpx.Response(404, json={"error": "not_found"})

    return httpx.MockTransport(handle)


def setup(trust: Trust, tmp_path: Path, script: list) -> tuple[Outbox, Inbox, FakeTime]:
    inbox = Inbox(
        tmp_path / "inbox",
        trust.registry,
        coordinator=trust.coordinator,
        log_key=trust.log,
        now=lambda: NOW,
    )
    t = FakeTime()
    box = Outbox(
        tmp_path / "outbox",
        trust.registry,
        clock=t.clock,
        sleep=t.sleep,
        monotonic=t.monotonic,
        rng=Random(7),
        max_backoff=10.0,
        transport=coordinator(inbox, script),
    )
    return box, inbox, t


def envelope(trust: Trust, country: str, period: str = "2024", **kw: object) -> bytes:
    return sign_summary(small_summary(country, period, **kw), trust.nodes[country])  # type: ignore[arg-type]


def test_outage_then_delivery_with_backoff(trust: Trust, tmp_path: Path) -> None:
    def down() -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    def busy() -> httpx.Response:
        return httpx.Response(503, json={"error": "unavailable", "message": "disk full"})

    box, inbox, t = setup(trust, tmp_path, [down, busy, busy])
    try:
        digest = box.queue(envelope(trust, "KHM"), URL)
        seen = []
        results = box.flush(max_wait=600, on_attempt=seen.append)
        assert [d.state for d in results] == ["delivered"]
        assert [d.state for d in seen] == ["queued", "queued", "queued", "delivered"]
        assert "ConnectError" in seen[0].detail and "HTTP 503 unavailable" in seen[1].detail
        assert box.receipt(digest) == inbox.receipt_for(digest)
        assert box.pending() == []
        assert t.slept and all(0 < s <= 10.0 for s in t.slept)  # capped, never a busy loop
        (entry,) = box.entries()
        assert entry["state"] == "delivered" and entry["attempts"] == 3
    finally:
        box.close()
        inbox.close()


def test_definite_refusal_is_parked_not_retried(trust: Trust, tmp_path: Path) -> None:
    box, inbox, _ = setup(trust, tmp_path, [])
    try:
        first = envelope(trust, "LAO")
        box.queue(first, URL)
        box.queue(envelope(trust, "LAO", revision=2, supersedes=envelope_digest(first)), URL)
        assert [d.state for d in box.flush(max_wait=60)] == ["delivered", "delivered"]
        old = box.queue(envelope(trust, "LAO", seed=9), URL)  # another revision 1
        (result,) = box.flush(max_wait=60)
        assert result.state == "rejected" and "409 superseded" in result.detail
        assert box.pending() == [] and box.receipt(old) is None
        assert {e["state"] for e in box.entries()} == {"delivered", "rejected"}
    finally:
        box.close()
        inbox.close()


def test_an_unverifiable_receipt_is_not_stored(trust: Trust, tmp_path: Path) -> None:
    def forged() -> httpx.Response:
        return httpx.Response(201, content=b'{"payload": "", "payloadType": "x", "signatures": []}')

    box, inbox, _ = setup(trust, tmp_path, [forged])
    try:
        digest = box.queue(envelope(trust, "THA"), URL)
        seen = []
        box.flush(max_wait=600, on_attempt=seen.append)
        assert seen[0].state == "queued" and "unverifiable receipt" in seen[0].detail
        assert seen[-1].state == "delivered" and box.receipt(digest) == inbox.receipt_for(digest)
    finally:
        box.close()
        inbox.close()


def test_max_wait_leaves_the_entry_queued(trust: Trust, tmp_path: Path) -> None:
    def busy() -> httpx.Response:
        return httpx.Response(503, json={"error": "unavailable", "message": "later"})

    box, inbox, t = setup(trust, tmp_path, [busy] * 1000)
    try:
        digest = box.queue(envelope(trust, "VNM"), URL)
        results = box.flush(max_wait=120)
        assert [d.state for d in results] == ["queued"]
        assert box.pending() == [digest] and t.monotonic() >= 120
    finally:
        box.close()
        inbox.close()
