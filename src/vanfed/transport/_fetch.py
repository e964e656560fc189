"""Fetching a country's accepted envelopes back from the coordinator (ledger rebuild).

A node that lost its publication ledger asks the coordinator for every envelope it accepted
from the country (``GET /v1/countries/{C}/submissions``, then each envelope). Nothing is
taken on trust: each envelope must have the digest the listing names and must verify
against the registry as of the time the coordinator received it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

from vanfed._json import loads_strict
from vanfed.errors import TransportError
from vanfed.schema import Summary, TrustRegistry
from vanfed.signing import VerificationResult, envelope_digest, verification_result

__all__ = ["fetch_publications"]

MAX_LISTING_BYTES = 16 * 1024 * 1024


def fetch_publications(
    url: str,
    country: str,
    registry: TrustRegistry,
    *,
    ca_cert: str | Path | None = None,
    timeout: float = 30.0,
) -> list[bytes]:
    """Every envelope the coordinator at ``url`` accepted from ``country``, verified.

    Raises:
        TransportError: the coordinator cannot be reached, or sent something that does not
            verify (a wrong digest, a bad signature, another country).
    """
    verify: bool | str = str(ca_cert) if ca_cert else True
    base = url.rstrip("/")
    out = []
    try:
        with httpx.Client(verify=verify, timeout=timeout) as client:
            listing = client.get(f"{base}/v1/countries/{country}/submissions")
            listing.raise_for_status()
            if len(listing.content) > MAX_LISTING_BYTES:
                raise TransportError(f"{url}: listing over {MAX_LISTING_BYTES} bytes")
            for entry in loads_strict(listing.content, subject="listing")["submissions"]:
                got = client.get(f"{base}/v1/submissions/{entry['digest']}/envelope")
                got.raise_for_status()
                out.append(_checked(got.content, entry, country, registry))
    except httpx.HTTPError as exc:
        raise TransportError(f"{url}: {exc}") from exc
    return out


def _checked(data: bytes, entry: dict[str, str], country: str, registry: TrustRegistry) -> bytes:
    digest = entry["digest"]
    if envelope_digest(data) != digest:
        raise TransportError(f"envelope {digest[:19]}…: the bytes served have another digest")
    received = dt.datetime.fromisoformat(entry["received_at"].replace("Z", "+00:00"))
    result: VerificationResult[Summary] = verification_result(data, registry, now=received)
    if not result.ok or result.payload is None or result.payload.country != country:
        why = "; ".join(r.message for r in result.reasons) or "not this country's summary"
        raise TransportError(f"envelope {digest[:19]}…: {why}")
    return data
