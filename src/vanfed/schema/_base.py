"""The base of every vanfed model: frozen, no extra fields, valid by construction."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from vanfed._json import canonical_bytes


class Model(BaseModel):
    """Frozen pydantic model that refuses unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    def to_json_obj(self) -> Any:
        """The JSON-compatible form, with ``None`` fields kept (they mean something)."""
        return self.model_dump(mode="json")

    def canonical_bytes(self) -> bytes:
        """RFC 8785 canonical JSON of this model."""
        return canonical_bytes(self.to_json_obj())
