"""The coordinator's protocol from the caller's side: one class that knows the URLs, the
media types and the shape of every answer (see :mod:`vanfed.transport._openapi`).

The outbox delivers through it and the CLI's ``log`` and ``inbox import --to`` commands read
through it; nothing else builds a coordinator URL or parses its JSON. Network failures raise
:class:`~vanfed.errors.TransportError`; an HTTP answer, good or bad, is returned as a
:class:`Answer` for the caller to judge (the outbox retries, parks or stores it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from vanfed._json import loads_strict
from vanfed.errors import TransportError, VanfedError
from vanfed.tlog import MAX_NOTE_BYTES

__all__ = ["RETRYABLE_4XX", "Answer", "CoordinatorClient"]

RETRYABLE_4XX = (408, 429)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of the coordinator."""

    status: int
    body: bytes

    @property
    def accepted(self) -> bool:
        return self.status in (200, 201)

    @property
    def permanent(self) -> bool:
        """A definite refusal: sending the same bytes again cannot succeed."""
        return 400 <= self.status < 500 and self.status not in RETRYABLE_4XX

    def error(self) -> dict[str, Any]:
        """The error body (``error``, ``reasons``, ``message``, ``digest``), or {} if none."""
        try:
            obj = loads_strict(self.body, subject="coordinator answer")
        except VanfedError:
            return {}
        return obj if isinstance(obj, dict) else {}

    def error_text(self) -> str:
        body = self.error()
        if not body:
            return f"HTTP {self.status}"
        return f"HTTP {self.status} {body.get('error')}: {body.get('message')}"


class CoordinatorClient:
    """Talk to one coordinator (``vanfed serve``) at ``url``.

    Args:
        url: the base URL, e.g. ``https://armac.example:8443``.
        http: an httpx client to use (shared between coordinators, or with a
            ``MockTransport`` in tests); by default one is made and closed with this object.
        verify: TLS verification (a CA bundle path, or True) for a client made here.
        timeout: seconds per request for a client made here.
    """

    def __init__(
        self,
        url: str,
        *,
        http: httpx.Client | None = None,
        verify: str | bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._own = http is None
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)), verify=verify
        )

    def close(self) -> None:
        if self._own:
            self.http.close()

    def __enter__(self) -> CoordinatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw: Any) -> Answer:
        try:
            resp = self.http.request(method, f"{self.url}{path}", **kw)
        except httpx.HTTPError as exc:
            raise TransportError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        return Answer(resp.status_code, resp.content)

    def _json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = self._request("GET", path, params=params)
        if answer.status != 200:
            raise TransportError(f"{self.url}{path}: {answer.error_text()}")
        try:
            obj = loads_strict(answer.body, subject=f"{self.url}{path}")
        except VanfedError as exc:
            raise TransportError(str(exc)) from exc
        if not isinstance(obj, dict):
            raise TransportError(f"{self.url}{path}: expected a JSON object")
        return obj

    # -- the protocol --------------------------------------------------------------------

    def submit(self, body: bytes, *, media: str = "application/json") -> Answer:
        """``POST /v1/submissions``: 201/200 with the receipt, or an error body."""
        return self._request(
            "POST", "/v1/submissions", content=body, headers={"content-type": media}
        )

    def receipt(self, digest: str) -> bytes | None:
        """``GET /v1/submissions/{digest}``: the receipt, or None if the digest is unknown."""
        answer = self._request("GET", f"/v1/submissions/{digest}")
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise TransportError(f"{self.url}: receipt {digest[:19]}…: {answer.error_text()}")
        return answer.body

    def checkpoint(self) -> bytes:
        """``GET /v1/log/checkpoint``: the latest signed note (unverified: check it)."""
        answer = self._request("GET", "/v1/log/checkpoint")
        if answer.status != 200 or len(answer.body) > MAX_NOTE_BYTES:
            raise TransportError(f"{self.url}: no checkpoint ({answer.error_text()})")
        return answer.body

    def consistency(self, first: int, second: int) -> list[bytes]:
        """``GET /v1/log/consistency``: the proof that size ``second`` extends ``first``."""
        obj = self._json("/v1/log/consistency", {"first": first, "second": second})
        return _hashes(obj, "consistency", self.url)

    def inclusion(self, digest: str, size: int | None = None) -> tuple[int, int, list[bytes]]:
        """``GET /v1/log/inclusion``: (index, size, proof) of an envelope."""
        params: dict[str, Any] = {"digest": digest}
        if size is not None:
            params["size"] = size
        obj = self._json("/v1/log/inclusion", params)
        try:
            return int(obj["index"]), int(obj["size"]), _hashes(obj, "inclusion", self.url)
        except (KeyError, TypeError, ValueError) as exc:
            raise TransportError(f"{self.url}: malformed inclusion proof ({exc})") from exc

    def status(self) -> dict[str, Any]:
        """``GET /v1/status``."""
        return self._json("/v1/status", {})

    def rounds(self, *, period: str | None = None, status: str | None = None) -> list[Any]:
        """``GET /v1/rounds``: every secure round (optionally of a period, or a status)."""
        params = {k: v for k, v in (("period", period), ("status", status)) if v is not None}
        listing = self._json("/v1/rounds", params).get("rounds")
        if not isinstance(listing, list):
            raise TransportError(f"{self.url}/v1/rounds: expected a list of rounds")
        return listing

    def round_envelope(self, round_id: str, part: str = "announcement") -> bytes:
        """``GET /v1/rounds/{id}/announcement|result``: the envelope (unverified: check it)."""
        answer = self._request("GET", f"/v1/rounds/{round_id}/{part}")
        if answer.status != 200:
            raise TransportError(f"{self.url}: round {round_id[:12]}…: {answer.error_text()}")
        return answer.body


def _hashes(obj: dict[str, Any], key: str, url: str) -> list[bytes]:
    try:
        return [bytes.fromhex(h) for h in obj[key]]
    except (KeyError, TypeError, ValueError) as exc:
        raise TransportError(f"{url}: malformed {key} proof ({exc})") from exc
