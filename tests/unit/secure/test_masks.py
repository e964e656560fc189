"""Pairwise masks: they cancel over the participants and nowhere else."""

from __future__ import annotations

from random import Random

import numpy as np
import pytest

from vanfed.schema import MODULUS
from vanfed.secure._masks import mask_sum
from vanfed.signing import EncryptionKeyPair

ANN = "sha256:" + "ab" * 32


def keys(n: int, seed: str = "m") -> list[EncryptionKeyPair]:
    return [EncryptionKeyPair.from_seed(Random(f"{seed}{i}").randbytes(32)) for i in range(n)]


def masks(pairs: list[EncryptionKeyPair], ann: str = ANN, round_id: str = "0" * 32) -> list:
    peers = {k.keyid: k.public.raw for k in pairs}
    return [
        mask_sum(k, peers, announcement=ann, round_id=round_id, tables=[("t", 50), ("u", 3)])
        for k in pairs
    ]


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_masks_cancel_over_every_participant(n: int) -> None:
    got = masks(keys(n))
    for table in ("t", "u"):
        total = sum(m[table] for m in got) % MODULUS
        assert not total.any()


def test_masks_do_not_cancel_without_one_participant() -> None:
    got = masks(keys(5))
    for leave_out in range(5):
        partial = sum(m["t"] for i, m in enumerate(got) if i != leave_out) % MODULUS
        # what is left is minus the missing node's mask: as random as it, never zero
        assert np.count_nonzero(partial) >= 45
        assert np.array_equal(partial, (MODULUS - got[leave_out]["t"]) % MODULUS)


def test_each_node_mask_looks_uniform() -> None:
    """A single node's mask (what hides its counts from the coordinator) spreads over the
    whole 32-bit range: its mean is near 2**31 and its bits are balanced."""
    big = keys(3)
    peers = {k.keyid: k.public.raw for k in big}
    m = mask_sum(big[0], peers, announcement=ANN, round_id="1" * 32, tables=[("t", 20000)])["t"]
    assert abs(m.mean() / 2**31 - 1) < 0.02
    bits = np.unpackbits(m.astype("<u4").view(np.uint8))
    assert abs(bits.mean() - 0.5) < 0.005


def test_masks_depend_on_announcement_round_and_table() -> None:
    base = masks(keys(3))[0]
    other_ann = masks(keys(3), ann="sha256:" + "cd" * 32)[0]
    other_round = masks(keys(3), round_id="f" * 32)[0]
    assert not np.array_equal(base["t"], other_ann["t"])
    assert not np.array_equal(base["t"], other_round["t"])
    assert not np.array_equal(base["t"][:3], base["u"])


def test_equivocating_coordinator_gets_no_sum() -> None:
    """Two nodes shown two different announcements: their masks no longer cancel."""
    ks = keys(3)
    peers = {k.keyid: k.public.raw for k in ks}
    tables = [("t", 40)]
    a = mask_sum(ks[0], peers, announcement=ANN, round_id="0" * 32, tables=tables)["t"]
    b = mask_sum(ks[1], peers, announcement=ANN, round_id="0" * 32, tables=tables)["t"]
    c = mask_sum(
        ks[2], peers, announcement="sha256:" + "ee" * 32, round_id="0" * 32, tables=tables
    )["t"]
    assert np.count_nonzero((a + b + c) % MODULUS) >= 35
