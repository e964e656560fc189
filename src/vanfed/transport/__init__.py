"""vanfed.transport."""
