"""Reading national exports and coding them onto the codebook, with row-level rejects."""

from vanfed.ingest._check import FieldCheck, MappingCheck, check_mapping
from vanfed.ingest._ingest import CodedRecords, ingest
from vanfed.ingest._mapping_init import scaffold_mapping
from vanfed.ingest._readers import Chunk, read_chunks, read_header
from vanfed.ingest._sources import open_source
from vanfed.ingest._sql_table import SqlTable
from vanfed.ingest._values import REASONS

__all__ = [
    "REASONS",
    "Chunk",
    "CodedRecords",
    "FieldCheck",
    "MappingCheck",
    "SqlTable",
    "check_mapping",
    "ingest",
    "open_source",
    "read_chunks",
    "read_header",
    "scaffold_mapping",
]
