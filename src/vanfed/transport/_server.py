"""``vanfed serve``: the coordinator's HTTP service (Starlette on uvicorn).

Endpoints (all JSON unless said otherwise; the OpenAPI description is at /v1/openapi.json):

* ``POST /v1/submissions`` — body: a DSSE envelope (``application/json``) or a sealed one
  (``application/vnd.vanfed.sealed.v1``). 201 + receipt for a new submission, 200 + the same
  receipt for a repeat, or an error ``{"error", "reasons", "message", "digest"}`` with a
  status that says what kind of problem it is (400 malformed, 403 authority, 408 too slow,
  409 replayed or conflicting revision, 413 too large, 415 wrong media type, 422 policy).
* ``GET /v1/submissions/{sha256}`` — the receipt of an accepted submission, or 404.
* ``GET /v1/periods/{period}`` — what was accepted for a period (current revision flagged).
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
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from vanfed._version import __version__
from vanfed.transport._hpke import SEALED_MEDIA_TYPE
from vanfed.transport._inbox import Inbox, Rejected, http_status

__all__ = ["BODY_DEADLINE_S", "create_app"]

BODY_DEADLINE_S = 30.0
access = logging.getLogger("vanfed.http")
_DIGEST = re.compile(r"^(sha256:)?[0-9a-f]{64}$")


def _error(code: str, message: str, digest: str | None = None) -> JSONResponse:
    body = {"error": code, "reasons": [code], "message": message, "digest": digest}
    return JSONResponse(body, status_code=http_status(code))


async def _read_body(request: Request, limit: int, deadline: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Rejected(f"body of {declared} bytes is over the limit of {limit}", ("too_large",))
    chunks, size = [], 0

    async def pull() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Rejected(f"body is over the limit of {limit} bytes", ("too_large",))
            chunks.append(chunk)

    try:
        await asyncio.wait_for(pull(), timeout=deadline)
    except TimeoutError as exc:
        raise Rejected(f"body not received within {deadline:g} s", ("request_timeout",)) from exc
    return b"".join(chunks)


def create_app(inbox: Inbox, *, body_deadline: float = BODY_DEADLINE_S) -> Starlette:
    """The ASGI application around an :class:`Inbox`."""

    async def submit(request: Request) -> Response:
        started = time.perf_counter()
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("application/json", SEALED_MEDIA_TYPE):
            return _log(
                request,
                started,
                _error(
                    "unsupported_media_type",
                    f"content type {media or 'none'!r}: send application/json (a DSSE envelope) "
                    f"or {SEALED_MEDIA_TYPE}",
                ),
            )
        try:
            body = await _read_body(
                request, inbox.registry.policy.max_envelope_bytes + 4096, body_deadline
            )
            accepted = await run_in_threadpool(inbox.accept, body)
        except Rejected as exc:
            rejected = JSONResponse(exc.to_json_obj(), status_code=exc.status)
            return _log(request, started, rejected, exc.reasons[0] if exc.reasons else "")
        resp = Response(
            accepted.receipt,
            status_code=201 if accepted.new else 200,
            media_type="application/json",
            headers={"Location": f"/v1/submissions/{accepted.digest}"},
        )
        return _log(request, started, resp, "accepted" if accepted.new else "repeat")

    async def receipt(request: Request) -> Response:
        digest = request.path_params["digest"]
        if not _DIGEST.match(digest):
            return _error("malformed_digest", "expected sha256:<64 hex>")
        found = inbox.receipt_for("sha256:" + digest.removeprefix("sha256:"))
        if found is None:
            return JSONResponse({"error": "not_found", "digest": digest}, status_code=404)
        return Response(found, media_type="application/json")

    async def period(request: Request) -> Response:
        p = request.path_params["period"]
        if not re.fullmatch(r"(19|20)\d\d(-Q[1-4])?", p):
            return _error("malformed_period", f"period {p[:20]!r}: expected YYYY or YYYY-Qn")
        return JSONResponse({"period": p, "submissions": inbox.accepted(p)})

    async def status(request: Request) -> Response:
        return JSONResponse(
            {
                "service": "vanfed coordinator",
                "version": __version__,
                "registry_version": inbox.registry.version,
                "log_size": inbox.log.tree.size,
                "accepted": len(inbox.log.entries),
            }
        )

    async def checkpoint(request: Request) -> Response:
        return PlainTextResponse(inbox.log.checkpoint().decode())

    async def inclusion(request: Request) -> Response:
        digest = request.query_params.get("digest", "")
        if not _DIGEST.match(digest):
            return _error("malformed_digest", "expected ?digest=sha256:<64 hex>")
        index = inbox.log.by_digest.get("sha256:" + digest.removeprefix("sha256:"))
        if index is None:
            return JSONResponse({"error": "not_found", "digest": digest}, status_code=404)
        size = _int(request.query_params.get("size"), inbox.log.tree.size)
        if size is None or not index < size <= inbox.log.tree.size:
            return _error("bad_tree_size", f"size must be in ({index}, {inbox.log.tree.size}]")
        proof = inbox.log.tree.inclusion_proof(index, size)
        return JSONResponse({"index": index, "size": size, "inclusion": [h.hex() for h in proof]})

    async def consistency(request: Request) -> Response:
        n = inbox.log.tree.size
        first = _int(request.query_params.get("first"), None)
        second = _int(request.query_params.get("second"), n)
        if first is None or second is None or not 0 <= first <= second <= n:
            return _error("bad_tree_size", f"need 0 <= first <= second <= {n}")
        proof = inbox.log.tree.consistency_proof(first, second)
        return JSONResponse(
            {"first": first, "second": second, "consistency": [h.hex() for h in proof]}
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    return Starlette(
        routes=[
            Route("/v1/submissions", submit, methods=["POST"]),
            Route("/v1/submissions/{digest}", receipt),
            Route("/v1/periods/{period}", period),
            Route("/v1/status", status),
            Route("/v1/log/checkpoint", checkpoint),
            Route("/v1/log/inclusion", inclusion),
            Route("/v1/log/consistency", consistency),
            Route("/v1/openapi.json", openapi),
        ]
    )


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


_ERROR = {"$ref": "#/components/schemas/Error"}
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "vanfed coordinator", "version": "1"},
    "paths": {
        "/v1/submissions": {
            "post": {
                "summary": "Submit a signed national summary (DSSE envelope, plain or sealed)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
                        SEALED_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "responses": {
                    "201": {"description": "Accepted; body is the signed receipt (DSSE)"},
                    "200": {"description": "Already accepted; the same receipt"},
                    **{
                        str(code): {
                            "description": text,
                            "content": {"application/json": {"schema": _ERROR}},
                        }
                        for code, text in (
                            (400, "Malformed envelope, payload or sealed blob"),
                            (403, "Signature or key not authorised by the registry"),
                            (408, "Body not received in time"),
                            (409, "Older or conflicting revision"),
                            (413, "Too large"),
                            (415, "Unsupported content type"),
                            (422, "Below the registry's protection policy"),
                        )
                    },
                },
            }
        },
        "/v1/submissions/{digest}": {
            "get": {
                "summary": "The receipt of an accepted submission",
                "parameters": [
                    {"name": "digest", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "Receipt (DSSE)"},
                    "404": {"description": "Unknown"},
                },
            }
        },
        "/v1/periods/{period}": {
            "get": {
                "summary": "Submissions accepted for a period",
                "parameters": [
                    {
                        "name": "period",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^(19|20)\\d\\d(-Q[1-4])?$"},
                    }
                ],
                "responses": {"200": {"description": "List of submissions"}},
            }
        },
        "/v1/status": {
            "get": {"summary": "Service status", "responses": {"200": {"description": "Status"}}}
        },
        "/v1/log/checkpoint": {
            "get": {
                "summary": "The latest signed checkpoint (C2SP signed note)",
                "responses": {"200": {"description": "text/plain note"}},
            }
        },
        "/v1/log/inclusion": {
            "get": {
                "summary": "Inclusion proof of an envelope (by SHA-256) at a tree size",
                "parameters": [
                    {
                        "name": "digest",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {"name": "size", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {"200": {"description": "index, size, inclusion (hex hashes)"}},
            }
        },
        "/v1/log/consistency": {
            "get": {
                "summary": "Consistency proof between two tree sizes",
                "parameters": [
                    {
                        "name": "first",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                    {"name": "second", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {"200": {"description": "first, second, consistency (hex hashes)"}},
            }
        },
    },
    "components": {
        "schemas": {
            "Envelope": {
                "type": "object",
                "required": ["payload", "payloadType", "signatures"],
                "properties": {
                    "payload": {"type": "string", "contentEncoding": "base64"},
                    "payloadType": {"type": "string"},
                    "signatures": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"keyid": {"type": "string"}, "sig": {"type": "string"}},
                        },
                    },
                },
            },
            "Error": {
                "type": "object",
                "required": ["error", "reasons", "message"],
                "properties": {
                    "error": {"type": "string"},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                    "message": {"type": "string"},
                    "digest": {"type": ["string", "null"]},
                },
            },
        }
    },
}
