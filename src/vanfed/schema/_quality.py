"""Data-quality counts that travel with a summary: nothing is lost, nothing is silent."""

from __future__ import annotations

from pydantic import Field, model_validator

from vanfed.schema._base import Model

__all__ = ["DataQuality"]


class DataQuality(Model):
    """Counts of an ingest run. Invariant: read = accepted + rejected."""

    records_read: int = Field(ge=0)
    records_accepted: int = Field(ge=0)
    records_rejected: int = Field(ge=0)
    rejected_by_reason: dict[str, int] = {}
    duplicate_record_ids: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _balanced(self) -> DataQuality:
        if self.records_read != self.records_accepted + self.records_rejected:
            raise ValueError("records_read must equal records_accepted + records_rejected")
        if sum(self.rejected_by_reason.values()) != self.records_rejected:
            raise ValueError("rejected_by_reason must add up to records_rejected")
        return self
