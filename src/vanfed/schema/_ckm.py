"""Cell key method: the noise parameters a region agrees on, and the checks on a publication.

A perturbation table (ptable) is a pure function of three parameters (``ptable``'s
``create_cnt_ptable(D, V, js)``): the maximum noise ``D``, the noise variance ``V`` and the
small-value block ``js`` (no count 1 … js is ever published). The region writes the
parameters and the SHA-256 of the ptable's canonical bytes into the trust registry's
policy; every CKM summary carries the same record, so a coordinator or auditor can tell
from the publication alone which noise was added, never how much.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from vanfed.schema._base import Model

__all__ = ["CKM_METHOD", "CkmParams", "CkmRecord", "ckm_violations"]

CKM_METHOD = "vanfed-ckm/1"


class CkmParams(Model):
    """The three parameters of a count ptable (sdcTools ``ptable`` names in brackets)."""

    max_noise: int = Field(ge=1, le=20)  # D: |published - true| <= D
    variance: float = Field(gt=0, le=100)  # V: noise variance of rows that can reach it
    js: int = Field(ge=1, le=20)  # counts 1 … js are never published

    @model_validator(mode="after")
    def _reachable(self) -> CkmParams:
        # A count of js + 1 can only move down to 0 (1 … js are blocked): it needs
        # js + 1 - D <= 0, or its noise could not have a zero mean.
        if self.max_noise <= self.js:
            raise ValueError(
                f"max_noise {self.max_noise} <= js {self.js}: a count of js + 1 could not "
                "keep a zero-mean noise; use max_noise > js"
            )
        return self


class CkmRecord(CkmParams):
    """Parameters plus the digest of the ptable built from them."""

    ptable_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    @property
    def params(self) -> CkmParams:
        """The noise parameters alone (without the ptable digest)."""
        return CkmParams(max_noise=self.max_noise, variance=self.variance, js=self.js)


def ckm_violations(
    record: CkmRecord, agreed: CkmRecord | None, values: tuple[int | None, ...]
) -> list[str]:
    """Why a CKM publication does not follow the region's agreed noise (empty: it does).

    Args:
        record: what the summary says it used.
        agreed: the registry policy's record (``None``: the region has not agreed on CKM).
        values: every published value of the summary, all tables.
    """
    if agreed is None:
        return ["the registry's policy does not allow the cell key method (no ckm record)"]
    out = []
    if record.params != agreed.params:
        out.append(
            f"noise parameters D={record.max_noise}, V={record.variance:g}, js={record.js} "
            f"differ from the registry's D={agreed.max_noise}, V={agreed.variance:g}, "
            f"js={agreed.js}"
        )
    if record.ptable_digest != agreed.ptable_digest:
        out.append(f"ptable digest {record.ptable_digest[:19]}… is not the registry's")
    if any(v is None for v in values):
        out.append("a cell key method publication has a suppressed cell")
    elif any(0 < v <= agreed.js for v in values if v is not None):
        out.append(f"a published count lies in 1 … {agreed.js}")
    return out
