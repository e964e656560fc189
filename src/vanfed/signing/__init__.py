"""Keys, DSSE envelopes, trust registries and verification."""

from vanfed.signing._dsse import MAX_ENVELOPE_BYTES, Envelope, envelope_digest, pae, sign_envelope
from vanfed.signing._keys import (
    KeyPair,
    PublicKey,
    Signer,
    generate,
    keyid_of,
    load_private,
    load_public,
    passphrase_from_env,
    save_keypair,
)
from vanfed.signing._registry_ops import (
    add_key,
    init_registry,
    key_entry,
    revoke_key,
    sign_registry,
)
from vanfed.signing._verify import (
    REASONS,
    Reason,
    VerificationResult,
    parse_payload,
    timestamp,
    verification_result,
    verify,
    verify_registry,
)

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "REASONS",
    "Envelope",
    "KeyPair",
    "PublicKey",
    "Reason",
    "Signer",
    "VerificationResult",
    "add_key",
    "envelope_digest",
    "generate",
    "init_registry",
    "key_entry",
    "keyid_of",
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
]
