"""The vocabulary: codebook, mapping, data quality and the wire models."""

from vanfed.schema._codebook import TOTAL, UNKNOWN, Code, Codebook, Country, Dimension, load_codebook
from vanfed.schema._mapping import (
    CATEGORICAL_FIELDS,
    FIELDS,
    FieldMap,
    Mapping,
    SourceOptions,
    load_mapping,
)
from vanfed.schema._quality import DataQuality
from vanfed.schema._summary import (
    PERIOD_PATTERN,
    SUMMARY_TYPE,
    AuditRecord,
    CodebookRef,
    Protection,
    PublishedAxis,
    PublishedTable,
    Summary,
    period_years,
)

__all__ = [
    "PERIOD_PATTERN",
    "SUMMARY_TYPE",
    "AuditRecord",
    "CodebookRef",
    "Protection",
    "PublishedAxis",
    "PublishedTable",
    "Summary",
    "period_years",
    "CATEGORICAL_FIELDS",
    "FIELDS",
    "TOTAL",
    "UNKNOWN",
    "Code",
    "Codebook",
    "Country",
    "DataQuality",
    "Dimension",
    "FieldMap",
    "Mapping",
    "SourceOptions",
    "load_codebook",
    "load_mapping",
]

from vanfed.schema._registry import REGISTRY_TYPE, KeyEntry, Policy, TrustRegistry  # noqa: E402

__all__ += ["REGISTRY_TYPE", "KeyEntry", "Policy", "TrustRegistry"]

from vanfed.schema._report import (  # noqa: E402
    REPORT_TYPE,
    Coverage,
    InputRef,
    RegionalReport,
    RegionalTable,
    Skipped,
)

__all__ += ["REPORT_TYPE", "Coverage", "InputRef", "RegionalReport", "RegionalTable", "Skipped"]
