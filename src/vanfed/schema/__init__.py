"""The vocabulary: codebook, mapping, data quality and the wire models."""

from vanfed.schema._codebook import (
    TOTAL,
    UNKNOWN,
    Code,
    Codebook,
    Country,
    Dimension,
    load_codebook,
)
from vanfed.schema._mapping import (
    CATEGORICAL_FIELDS,
    FIELDS,
    FieldMap,
    Mapping,
    SourceOptions,
    load_mapping,
)
from vanfed.schema._quality import DataQuality
from vanfed.schema._receipt import RECEIPT_TYPE, LogProof, Receipt
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
    "CATEGORICAL_FIELDS",
    "FIELDS",
    "PERIOD_PATTERN",
    "RECEIPT_TYPE",
    "SUMMARY_TYPE",
    "TOTAL",
    "UNKNOWN",
    "AuditRecord",
    "Code",
    "Codebook",
    "CodebookRef",
    "Country",
    "DataQuality",
    "Dimension",
    "FieldMap",
    "LogProof",
    "Mapping",
    "Protection",
    "PublishedAxis",
    "PublishedTable",
    "Receipt",
    "SourceOptions",
    "Summary",
    "load_codebook",
    "load_mapping",
    "period_years",
]

from vanfed.schema._registry import REGISTRY_TYPE, KeyEntry, Policy, TrustRegistry

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
