"""vanfed.anonymize."""
