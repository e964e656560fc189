"""The coordinator's HTTP protocol described as data (OpenAPI 3.1), served at
``/v1/openapi.json``; a test holds it to the routes :func:`create_app` serves."""

from __future__ import annotations

from typing import Any

from vanfed.transport._hpke import SEALED_MEDIA_TYPE

__all__ = ["OPENAPI", "SUBMIT_ERRORS"]

# The error statuses of POST /v1/submissions, with what each means.
SUBMIT_ERRORS = (
    (400, "Malformed envelope, payload or sealed blob"),
    (403, "Signature or key not authorised by the registry, or not a round's participant"),
    (404, "A contribution or result for a round never announced"),
    (408, "Body not received in time"),
    (409, "Older or conflicting revision; a round closed, past its deadline or already given"),
    (413, "Too large"),
    (415, "Unsupported content type"),
    (422, "Below the registry's protection policy"),
    (503, "Storage unavailable (disk full) or registry expired: nothing accepted, try later"),
)

_ERROR = {"$ref": "#/components/schemas/Error"}
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "vanfed coordinator", "version": "1"},
    "paths": {
        "/v1/submissions": {
            "post": {
                "summary": (
                    "Submit a signed national summary or a secure round's envelope "
                    "(announcement, contribution, result; DSSE, plain or sealed)"
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
                        SEALED_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "responses": {
                    "201": {
                        "description": (
                            "Accepted; the body is the signed receipt (DSSE), or for the "
                            "coordinator's own statements {digest, index}"
                        )
                    },
                    "200": {"description": "Already accepted; the same receipt"},
                    **{
                        str(code): {
                            "description": text,
                            "content": {"application/json": {"schema": _ERROR}},
                        }
                        for code, text in SUBMIT_ERRORS
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
        "/v1/submissions/{digest}/envelope": {
            "get": {
                "summary": "The accepted envelope itself (a node rebuilds its ledger from these)",
                "parameters": [
                    {"name": "digest", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "DSSE envelope"},
                    "404": {"description": "Unknown"},
                },
            }
        },
        "/v1/countries/{country}/submissions": {
            "get": {
                "summary": "Every submission accepted from a country, in log order",
                "parameters": [
                    {
                        "name": "country",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Z]{3}$"},
                    }
                ],
                "responses": {"200": {"description": "List of submissions"}},
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
        "/v1/openapi.json": {
            "get": {
                "summary": "This description",
                "responses": {"200": {"description": "OpenAPI 3.1 (JSON)"}},
            }
        },
        "/v1/rounds": {
            "get": {
                "summary": "Every secure round: status, deadline, who contributed, who not",
                "parameters": [
                    {"name": "period", "in": "query", "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "rounds (JSON)"}},
            }
        },
        "/v1/rounds/{round_id}/{part}": {
            "get": {
                "summary": "A round's signed announcement or result (DSSE)",
                "parameters": [
                    {
                        "name": "round_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "part",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["announcement", "result"]},
                    },
                ],
                "responses": {"200": {"description": "Envelope"}, "404": {"description": "None"}},
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
