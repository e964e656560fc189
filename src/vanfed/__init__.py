"""vanfed: privacy-preserving federated statistics for mine-action victim assistance.

The three roles are thin compositions of the packages: :class:`Node` (national IT teams),
:class:`Coordinator` (ARMAC) and :func:`audit` (auditors).
"""

from vanfed._audit import AuditVerdict, audit
from vanfed._coordinator import Coordinator, RegionalOutput
from vanfed._ledger import Ledger
from vanfed._node import Node
from vanfed._plan import Plan
from vanfed._run import Run
from vanfed._version import __version__
from vanfed.errors import VanfedError

__all__ = [
    "AuditVerdict",
    "Coordinator",
    "Ledger",
    "Node",
    "Plan",
    "RegionalOutput",
    "Run",
    "VanfedError",
    "__version__",
    "audit",
]
