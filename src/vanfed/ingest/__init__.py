"""Reading national exports and coding them onto the codebook, with row-level rejects."""

from vanfed.ingest._ingest import CodedRecords, ingest
from vanfed.ingest._mapping_init import scaffold_mapping
from vanfed.ingest._readers import Chunk, read_chunks, read_header
from vanfed.ingest._values import REASONS

__all__ = [
    "REASONS",
    "Chunk",
    "CodedRecords",
    "ingest",
    "read_chunks",
    "read_header",
    "scaffold_mapping",
]
