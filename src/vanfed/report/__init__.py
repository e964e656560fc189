"""vanfed.report."""
