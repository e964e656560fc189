"""The coordinator's protocol has one description: the OpenAPI data names exactly the routes
the service serves, and the client reads what the server writes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from vanfed.errors import TransportError
from vanfed.signing import sign_summary
from vanfed.testing import NOW, Trust, small_summary
from vanfed.tlog import check_consistency, verified_checkpoint
from vanfed.transport import OPENAPI, CoordinatorClient, Inbox, create_app, http_status


def in_memory(app: Any) -> httpx.MockTransport:
    """The ASGI app answering in process (each request run to completion on its own loop)."""

    def handle(request: httpx.Request) -> httpx.Response:
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://coord.test"
            ) as client:
                resp = await client.request(
                    request.method, str(request.url), content=request.content,
                    headers=request.headers,
                )  # fmt: skip
                return httpx.Response(resp.status_code, headers=resp.headers, content=resp.content)

        return asyncio.run(call())

    return httpx.MockTransport(handle)


@pytest.fixture
def inbox(trust: Trust, tmp_path: Path):
    box = Inbox(
        tmp_path / "inbox", trust.registry, coordinator=trust.coordinator, log_key=trust.log,
        now=lambda: NOW,
    )  # fmt: skip
    yield box
    box.close()


def test_openapi_names_every_route_and_no_other(inbox: Inbox) -> None:
    app = create_app(inbox)
    served = {
        (r.path, m.lower())
        for r in app.routes
        if isinstance(r, Route)
        for m in (r.methods or ())
        if m != "HEAD"
    }
    described = {(p, m) for p, ops in OPENAPI["paths"].items() for m in ops}
    assert served == described


def test_error_statuses_in_openapi_are_the_ones_the_server_gives() -> None:
    documented = {int(c) for c in OPENAPI["paths"]["/v1/submissions"]["post"]["responses"]}
    for code in ("malformed_envelope", "unknown_key", "request_timeout", "superseded",
                 "too_large", "unsupported_media_type", "policy_violation"):  # fmt: skip
        assert http_status(code) in documented


def test_client_reads_what_the_server_writes(trust: Trust, inbox: Inbox) -> None:
    with httpx.Client(transport=in_memory(create_app(inbox))) as http:
        client = CoordinatorClient("http://coord.test/", http=http)
        sizes = []
        for country in ("KHM", "LAO", "THA"):
            env = sign_summary(small_summary(country, "2024"), trust.nodes[country])
            answer = client.submit(env)
            assert answer.status == 201 and answer.accepted
            sizes.append(verified_checkpoint(client.checkpoint(), [trust.log.public.raw])[0])
        check_consistency(sizes[0], sizes[2], client.consistency(sizes[0].size, sizes[2].size))
        again = client.submit(env)
        assert again.status == 200 and not again.permanent
        bad = client.submit(b"{}")
        assert bad.permanent and bad.error()["error"] == bad.error()["reasons"][0]
        assert client.receipt("0" * 64) is None
        index, size, proof = client.inclusion(inbox.log.entries[1].digest)
        assert (index, size) == (1, 3) and proof


def test_network_failure_is_a_transport_error() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with httpx.Client(transport=httpx.MockTransport(down)) as http:
        client = CoordinatorClient("http://nowhere.test", http=http)
        with pytest.raises(TransportError, match="ConnectError"):
            client.checkpoint()
