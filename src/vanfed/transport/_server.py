"""``vanfed serve``: the coordinator's HTTP service (Starlette on uvicorn).

Endpoints (all JSON unless said otherwise; the OpenAPI description is at /v1/openapi.json):

* ``POST /v1/submissions`` — body: a DSSE envelope (``application/json``) or a sealed one
  (``application/vnd.vanfed.sealed.v1``). 201 + receipt for a new submission, 200 + the same
  receipt for a repeat, or an error ``{"error", "reasons", "message", "digest"}`` with a
  status that says what kind of problem it is (400 malformed, 403 authority, 408 too slow,
  409 replayed or conflicting revision, 413 too large, 415 wrong media type, 422 policy).
* ``GET /v1/submissions/{sha256}`` — the receipt of an accepted submission, or 404.
* ``GET /v1/periods/{period}`` — what was accepted for a period (current revision flagged).
* ``GET /v1/countries/{country}/submissions`` and ``GET /v1/submissions/{digest}/envelope``
  — a country's accepted envelopes, from which a node rebuilds a lost ledger.
* ``GET /v1/rounds`` — every secure round (status, deadline, who contributed, who not);
  ``GET /v1/rounds/{id}/announcement`` and ``…/result`` — its signed envelopes.
  Announcements, contributions and results are all sent to ``POST /v1/submissions``: a
  round closes by itself (complete at its last contribution, aborted past its deadline),
  and only a result signed by the coordinator key that matches the log closes it earlier
  (an unauthenticated close would let anyone abort rounds and burn the nodes' budgets).
* ``GET /v1/status`` — counts, log size, registry version.
* ``GET /v1/log/checkpoint`` (text/plain signed note), ``GET /v1/log/inclusion?digest=…``,
  ``GET /v1/log/consistency?first=…&second=…``.

The body is read in chunks against the registry's size limit and a deadline, so a slow or
oversized sender is cut off without holding the service. Acceptance runs in a worker thread
(verification is CPU, writes are fsynced); the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from vanfed._version import __version__
from vanfed.aggregate import DOOR_REASONS
from vanfed.errors import ReasonCode
from vanfed.signing import KEY_REASONS
from vanfed.transport._hpke import SEALED_MEDIA_TYPE
from vanfed.transport._inbox import Inbox, Rejected
from vanfed.transport._openapi import OPENAPI

__all__ = ["BODY_DEADLINE_S", "create_app", "error_body", "http_status"]

BODY_DEADLINE_S = 30.0
access = logging.getLogger("vanfed.http")
_DIGEST = re.compile(r"^(sha256:)?[0-9a-f]{64}$")
_ROUND = re.compile(r"^[0-9a-f]{32}$")


# The HTTP status of each rejection reason; a key-authority reason is 403, any other 400.
_STATUS: dict[str, int] = {
    ReasonCode.TOO_LARGE: 413,
    ReasonCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ReasonCode.REQUEST_TIMEOUT: 408,
    ReasonCode.NOT_FOUND: 404,
    ReasonCode.SUPERSEDED: 409,
    ReasonCode.CONFLICTING_REVISION: 409,
    ReasonCode.POLICY_VIOLATION: 422,
    **dict.fromkeys(DOOR_REASONS, 422),
    ReasonCode.REGISTRY_EXPIRED: 503,
    ReasonCode.STORAGE_UNAVAILABLE: 503,
    # secure rounds
    ReasonCode.ROUND_UNKNOWN: 404,
    ReasonCode.NOT_PARTICIPANT: 403,
    ReasonCode.ROUND_CLOSED: 409,
    ReasonCode.AFTER_DEADLINE: 409,
    ReasonCode.DUPLICATE_ROUND: 409,
    ReasonCode.CONFLICTING_CONTRIBUTION: 409,
    ReasonCode.STALE_ROUND: 409,
    **dict.fromkeys(
        (
            ReasonCode.WRONG_SHAPE,
            ReasonCode.CODEBOOK_MISMATCH,
            ReasonCode.ANNOUNCEMENT_MISMATCH,
            ReasonCode.NOISE_BELOW_POLICY,
            ReasonCode.RESULT_MISMATCH,
            ReasonCode.SECURE_NOT_ALLOWED,
        ),
        422,
    ),
}
_AUTHORITY = KEY_REASONS | {ReasonCode.BAD_SIGNATURE}


def http_status(code: str) -> int:
    """The HTTP status of a rejection reason code."""
    return _STATUS.get(code, 403 if code in _AUTHORITY else 400)


def error_body(reasons: tuple[str, ...], message: str, digest: str | None = None) -> JSONResponse:
    """The one shape of every error answer: ``{"error", "reasons", "message", "digest"}``."""
    code = reasons[0] if reasons else ReasonCode.REJECTED
    body = {"error": code, "reasons": list(reasons) or [code], "message": message, "digest": digest}
    return JSONResponse(body, status_code=http_status(code))


def _rejected(exc: Rejected) -> JSONResponse:
    return error_body(exc.reasons, str(exc), exc.digest)


def _error(code: str, message: str, digest: str | None = None) -> JSONResponse:
    return error_body((code,), message, digest)


async def _read_body(request: Request, limit: int, deadline: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Rejected(
            f"body of {declared} bytes is over the limit of {limit}", (ReasonCode.TOO_LARGE,)
        )
    chunks, size = [], 0

    async def pull() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Rejected(f"body is over the limit of {limit} bytes", (ReasonCode.TOO_LARGE,))
            chunks.append(chunk)

    try:
        await asyncio.wait_for(pull(), timeout=deadline)
    except TimeoutError as exc:
        raise Rejected(
            f"body not received within {deadline:g} s", (ReasonCode.REQUEST_TIMEOUT,)
        ) from exc
    return b"".join(chunks)


class _Handlers:
    """The endpoints. Each reads the inbox only through its lock-owning methods, so a
    request never sees the log half-way through an ``accept`` running in a worker thread."""

    def __init__(self, inbox: Inbox, body_deadline: float) -> None:
        self.inbox = inbox
        self.body_deadline = body_deadline

    async def submit(self, request: Request) -> Response:
        started = time.perf_counter()
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("application/json", SEALED_MEDIA_TYPE):
            message = (
                f"content type {media or 'none'!r}: send application/json (a DSSE envelope) "
                f"or {SEALED_MEDIA_TYPE}"
            )
            return _log(request, started, _error(ReasonCode.UNSUPPORTED_MEDIA_TYPE, message))
        try:
            body = await _read_body(request, self.inbox.max_body, self.body_deadline)
            accepted = await run_in_threadpool(self.inbox.accept, body)
        except Rejected as exc:
            return _log(request, started, _rejected(exc), exc.reasons[0] if exc.reasons else "")
        body = (
            accepted.receipt
            or json.dumps(  # the coordinator's statements: no receipt
                {"digest": accepted.digest, "index": accepted.index}
            ).encode()
        )
        resp = Response(
            body,
            status_code=201 if accepted.new else 200,
            media_type="application/json",
            headers={"Location": f"/v1/submissions/{accepted.digest}"},
        )
        return _log(request, started, resp, "accepted" if accepted.new else "repeat")

    async def receipt(self, request: Request) -> Response:
        digest = request.path_params["digest"]
        if not _DIGEST.match(digest):
            return _error(ReasonCode.MALFORMED_DIGEST, "expected sha256:<64 hex>")
        try:
            found = await run_in_threadpool(self.inbox.receipt_for, _full(digest))
        except Rejected as exc:
            return _rejected(exc)
        if found is None:
            return _error(ReasonCode.NOT_FOUND, f"no accepted submission {digest[:19]}…", digest)
        return Response(found, media_type="application/json")

    async def period(self, request: Request) -> Response:
        p = request.path_params["period"]
        if not re.fullmatch(r"(19|20)\d\d(-Q[1-4])?", p):
            return _error(
                ReasonCode.MALFORMED_PERIOD, f"period {p[:20]!r}: expected YYYY or YYYY-Qn"
            )
        return JSONResponse({"period": p, "submissions": self.inbox.accepted(p)})

    async def country(self, request: Request) -> Response:
        c = request.path_params["country"]
        if not re.fullmatch(r"[A-Z]{3}", c):
            return _error(
                ReasonCode.MALFORMED_COUNTRY, f"country {c[:20]!r}: expected ISO 3166-1 alpha-3"
            )
        listing = [e for e in self.inbox.accepted() if e["country"] == c]
        return JSONResponse({"country": c, "submissions": listing})

    async def envelope(self, request: Request) -> Response:
        digest = request.path_params["digest"]
        if not _DIGEST.match(digest):
            return _error(ReasonCode.MALFORMED_DIGEST, "expected sha256:<64 hex>")
        found = self.inbox.envelope_of("sha256:" + digest.removeprefix("sha256:"))
        if found is None:
            return JSONResponse({"error": ReasonCode.NOT_FOUND, "digest": digest}, status_code=404)
        return Response(found, media_type="application/json")

    async def rounds(self, request: Request) -> Response:
        listing = await run_in_threadpool(self.inbox.round_status)
        period = request.query_params.get("period")
        status = request.query_params.get("status")
        listing = [
            r
            for r in listing
            if (period is None or r["period"] == period)
            and (status is None or r["status"] == status)
        ]
        return JSONResponse({"rounds": listing})

    async def round_part(self, request: Request) -> Response:
        round_id, part = request.path_params["round_id"], request.path_params["part"]
        if not _ROUND.match(round_id) or part not in ("announcement", "result"):
            return _error(ReasonCode.NOT_FOUND, "expected /v1/rounds/<32 hex>/announcement|result")
        found = await run_in_threadpool(self.inbox.round_envelope, round_id, part)
        if found is None:
            return _error(ReasonCode.NOT_FOUND, f"round {round_id[:12]}…: no {part}")
        return Response(found, media_type="application/json")

    async def status(self, request: Request) -> Response:
        return JSONResponse(
            {"service": "vanfed coordinator", "version": __version__, **self.inbox.status()}
        )

    async def checkpoint(self, request: Request) -> Response:
        try:
            note = await run_in_threadpool(self.inbox.checkpoint)
        except Rejected as exc:
            return _rejected(exc)
        return PlainTextResponse(note.decode())

    async def inclusion(self, request: Request) -> Response:
        digest = request.query_params.get("digest", "")
        if not _DIGEST.match(digest):
            return _error(ReasonCode.MALFORMED_DIGEST, "expected ?digest=sha256:<64 hex>")
        size = _int(request.query_params.get("size"), -1)
        try:
            index, size, proof = self.inbox.inclusion(_full(digest), size)
        except Rejected as exc:
            return _rejected(exc)
        return JSONResponse({"index": index, "size": size, "inclusion": [h.hex() for h in proof]})

    async def consistency(self, request: Request) -> Response:
        first = _int(request.query_params.get("first"), None)
        second = _int(request.query_params.get("second"), -1)
        try:
            first, second, proof = self.inbox.consistency(first, second)
        except Rejected as exc:
            return _rejected(exc)
        return JSONResponse(
            {"first": first, "second": second, "consistency": [h.hex() for h in proof]}
        )

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(OPENAPI)


def create_app(inbox: Inbox, *, body_deadline: float = BODY_DEADLINE_S) -> Starlette:
    """The ASGI application around an :class:`Inbox`."""
    h = _Handlers(inbox, body_deadline)
    return Starlette(
        routes=[
            Route("/v1/submissions", h.submit, methods=["POST"]),
            Route("/v1/submissions/{digest}", h.receipt),
            Route("/v1/submissions/{digest}/envelope", h.envelope),
            Route("/v1/countries/{country}/submissions", h.country),
            Route("/v1/periods/{period}", h.period),
            Route("/v1/rounds", h.rounds),
            Route("/v1/rounds/{round_id}/{part}", h.round_part),
            Route("/v1/status", h.status),
            Route("/v1/log/checkpoint", h.checkpoint),
            Route("/v1/log/inclusion", h.inclusion),
            Route("/v1/log/consistency", h.consistency),
            Route("/v1/openapi.json", h.openapi),
        ]
    )


def _full(digest: str) -> str:
    return "sha256:" + digest.removeprefix("sha256:")


def _int(text: str | None, default: int | None) -> int | None:
    if text is None:
        return default
    return int(text) if text.isdigit() and len(text) < 19 else None


def _log(request: Request, started: float, resp: Response, outcome: str = "") -> Response:
    access.info(
        json.dumps(
            {
                "event": "submission",
                "client": request.client.host if request.client else None,
                "status": resp.status_code,
                "outcome": outcome or "rejected",
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )
    )
    return resp
