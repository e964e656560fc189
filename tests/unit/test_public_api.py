"""Pin every package's public names: changing one is a deliberate act."""

import importlib

import pytest

PUBLIC = {
    "vanfed": [
        "AuditVerdict",
        "Coordinator",
        "Node",
        "RegionalOutput",
        "VanfedError",
        "__version__",
        "audit",
    ],
    "vanfed.aggregate": ["NATIONAL_ONLY", "Selected", "merge", "select_inputs"],
    "vanfed.report": ["render_csv", "render_html"],
    "vanfed.ingest": [
        "REASONS",
        "Chunk",
        "CodedRecords",
        "ingest",
        "read_chunks",
        "read_header",
        "scaffold_mapping",
    ],
    "vanfed.signing": [
        "KEY_REASONS",
        "MAX_ENVELOPE_BYTES",
        "REASONS",
        "EncryptionKeyPair",
        "Envelope",
        "KeyPair",
        "PublicKey",
        "Reason",
        "Signer",
        "VerificationResult",
        "add_key",
        "envelope_digest",
        "generate",
        "generate_encryption_key",
        "init_registry",
        "key_entry",
        "keyid_of",
        "load_encryption_key",
        "load_private",
        "load_public",
        "pae",
        "parse_payload",
        "passphrase_from_env",
        "revoke_key",
        "save_keypair",
        "sign_envelope",
        "sign_registry",
        "timestamp",
        "verification_result",
        "verify",
        "verify_registry",
    ],
    "vanfed.transport": [
        "DEFAULT_ORIGIN",
        "EMPTY_ROOT",
        "SEALED_MEDIA_TYPE",
        "Accepted",
        "BytesDisk",
        "Checkpoint",
        "Delivery",
        "Imported",
        "Inbox",
        "LogEntry",
        "MerkleTree",
        "NoteSignature",
        "Outbox",
        "Rejected",
        "TransparencyLog",
        "cosign",
        "create_app",
        "deliver_error",
        "http_status",
        "import_path",
        "leaf_hash",
        "log_folder",
        "log_keys",
        "make_receipt",
        "node_hash",
        "open_note",
        "open_sealed",
        "seal",
        "sealing_key",
        "serve",
        "sign_note",
        "verified_checkpoint",
        "verify_consistency",
        "verify_cosignature",
        "verify_inclusion",
        "verify_receipt",
    ],
    "vanfed.anonymize": [
        "DEFAULT_TABLES",
        "AuditResult",
        "AxisSpec",
        "Cube",
        "LinkedSystem",
        "Protected",
        "TableSpec",
        "build_cube",
        "build_system",
        "interval_attack",
        "intervals",
        "judge",
        "primary_cells",
        "protect",
        "published_cubes",
        "reaudit",
        "select_period",
        "suppress",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_pinned(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), name


def test_schema_exports_models() -> None:
    import vanfed.schema as s

    for name in ("Summary", "RegionalReport", "TrustRegistry", "Mapping", "Codebook"):
        assert name in s.__all__
