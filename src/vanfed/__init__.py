"""vanfed: privacy-preserving federated statistics for mine-action victim assistance."""

from vanfed.errors import VanfedError

__version__ = "0.1.0"

__all__ = ["VanfedError", "__version__"]
