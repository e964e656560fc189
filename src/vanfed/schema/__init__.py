"""The vocabulary: codebook, mapping, data quality and the wire models."""

from vanfed.schema._aliases import Admin1Aliases, load_admin1_aliases
from vanfed.schema._calendar import RevisionCalendar, period_end, period_start
from vanfed.schema._codebook import (
    TOTAL,
    UNKNOWN,
    Code,
    Codebook,
    Country,
    Dimension,
    load_codebook,
)
from vanfed.schema._gates import DEFAULT_MAX_REJECT_RATE, quality_issues
from vanfed.schema._layout import ENVELOPE_SUFFIX, InboxLayout, log_folder
from vanfed.schema._mapping import (
    CATEGORICAL_FIELDS,
    FIELDS,
    FieldMap,
    Mapping,
    SourceOptions,
    load_mapping,
    read_mapping,
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
    TotalWithin,
    expand_periods,
    load_summary,
    period_years,
)

__all__ = [
    "CATEGORICAL_FIELDS",
    "DEFAULT_MAX_REJECT_RATE",
    "ENVELOPE_SUFFIX",
    "FIELDS",
    "PERIOD_PATTERN",
    "RECEIPT_TYPE",
    "SUMMARY_TYPE",
    "TOTAL",
    "UNKNOWN",
    "Admin1Aliases",
    "AuditRecord",
    "Code",
    "Codebook",
    "CodebookRef",
    "Country",
    "DataQuality",
    "Dimension",
    "FieldMap",
    "InboxLayout",
    "LogProof",
    "Mapping",
    "Protection",
    "PublishedAxis",
    "PublishedTable",
    "Receipt",
    "RevisionCalendar",
    "SourceOptions",
    "Summary",
    "TotalWithin",
    "expand_periods",
    "load_admin1_aliases",
    "load_codebook",
    "load_mapping",
    "load_summary",
    "log_folder",
    "period_end",
    "period_start",
    "period_years",
    "quality_issues",
    "read_mapping",
]

from vanfed.schema._registry import (
    COUNTRY_ROLES,
    MAX_REGISTRY_BYTES,
    MAX_TRUST_ROOT_BYTES,
    REGISTRY_TYPE,
    X25519_ROLES,
    KeyEntry,
    Policy,
    RegistryRef,
    TrustRegistry,
    TrustRoot,
)

__all__ += [
    "COUNTRY_ROLES",
    "MAX_REGISTRY_BYTES",
    "MAX_TRUST_ROOT_BYTES",
    "REGISTRY_TYPE",
    "X25519_ROLES",
    "KeyEntry",
    "Policy",
    "RegistryRef",
    "TrustRegistry",
    "TrustRoot",
]

from vanfed.schema._report import (  # noqa: E402
    REPORT_TYPE,
    Coverage,
    InputRef,
    Omitted,
    RegionalReport,
    RegionalTable,
    SecureRecord,
    Skipped,
)

__all__ += [
    "REPORT_TYPE",
    "Coverage",
    "InputRef",
    "Omitted",
    "RegionalReport",
    "RegionalTable",
    "SecureRecord",
    "Skipped",
]

from vanfed.schema._ckm import CKM_METHOD, CkmParams, CkmRecord, ckm_violations  # noqa: E402

__all__ += ["CKM_METHOD", "CkmParams", "CkmRecord", "ckm_violations"]
from vanfed.schema._protection import ProtectionPolicy, load_protection_policy  # noqa: E402

__all__ += ["ProtectionPolicy", "load_protection_policy"]
from vanfed.schema._secure import (  # noqa: E402
    ANNOUNCEMENT_TYPE,
    CONTRIBUTION_TYPE,
    MODULUS,
    RESULT_TYPE,
    Contribution,
    ContributionRef,
    MaskedTable,
    NoisySum,
    Participant,
    RoundAnnouncement,
    RoundResult,
    RoundTable,
)
from vanfed.schema._secure_policy import NoiseSpec, SecurePolicy  # noqa: E402

__all__ += [
    "ANNOUNCEMENT_TYPE",
    "CONTRIBUTION_TYPE",
    "MODULUS",
    "RESULT_TYPE",
    "Contribution",
    "ContributionRef",
    "MaskedTable",
    "NoiseSpec",
    "NoisySum",
    "Participant",
    "RoundAnnouncement",
    "RoundResult",
    "RoundTable",
    "SecurePolicy",
]
