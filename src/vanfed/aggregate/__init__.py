"""vanfed.aggregate."""
