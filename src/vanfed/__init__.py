"""vanfed: privacy-preserving federated statistics for mine-action victim assistance.

The three roles are thin compositions of the packages: :class:`Node` (national IT teams),
:class:`Coordinator` (ARMAC) and :func:`audit` (auditors).
"""

__version__ = "0.1.0"

from vanfed._audit import AuditVerdict, audit  # noqa: E402
from vanfed._coordinator import Coordinator, RegionalOutput  # noqa: E402
from vanfed._node import Node  # noqa: E402
from vanfed.errors import VanfedError  # noqa: E402

__all__ = ["AuditVerdict", "Coordinator", "Node", "RegionalOutput", "VanfedError", "__version__",
           "audit"]
