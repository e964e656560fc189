"""Known-answer vectors: DSSE PAE, RFC 8785, a golden envelope re-signed byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vanfed._json import canonical_bytes
from vanfed.signing import Envelope, KeyPair, pae, sign_envelope

VECTORS = Path(__file__).parents[2] / "vectors"


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text("utf-8"))


@pytest.mark.parametrize("case", load("dsse_pae.json")["cases"], ids=lambda c: c["name"])
def test_pae(case: dict) -> None:
    got = pae(case["payloadType"], case["payload"].encode())
    assert got == case["pae"].encode()


@pytest.mark.parametrize("case", load("rfc8785.json")["cases"], ids=lambda c: c["name"])
def test_rfc8785(case: dict) -> None:
    assert canonical_bytes(json.loads(case["input"])) == case["canonical"].encode()


def test_golden_envelope_resigns_byte_for_byte() -> None:
    g = load("golden_envelope.json")
    key = KeyPair.from_seed(bytes.fromhex(g["seed_hex"]))
    assert key.keyid == g["keyid"]
    env = sign_envelope(canonical_bytes(g["payload"]), g["payloadType"], [key])
    assert env.to_bytes() == g["envelope"].encode()
    parsed = Envelope.from_bytes(g["envelope"].encode())
    assert key.public.verify(parsed.signatures[0][1], parsed.pae)
