#!/usr/bin/env bash
# Verify a vanfed DSSE envelope with standard tools only: jq, base64, printf, openssl.
# Usage: verify-with-openssl.sh ENVELOPE.dsse.json PUBLIC_KEY.pub
set -euo pipefail
env="$1"; pub="$2"; work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
jq -r '.payload' "$env" | base64 -d > "$work/payload"
jq -j '.payloadType' "$env" > "$work/type"
jq -r '.signatures[0].sig' "$env" | base64 -d > "$work/sig"
# DSSE PAE = "DSSEv1" SP len(type) SP type SP len(body) SP body
printf 'DSSEv1 %d %s %d ' "$(wc -c < "$work/type")" "$(cat "$work/type")" \
  "$(wc -c < "$work/payload")" > "$work/pae"
cat "$work/payload" >> "$work/pae"
openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$work/pae" -sigfile "$work/sig"
# The key id is the SHA-256 of the raw 32-byte key (the last 32 bytes of the DER form):
openssl pkey -pubin -in "$pub" -outform DER | tail -c 32 | sha256sum | cut -d' ' -f1
