"""vanfed.signing."""
