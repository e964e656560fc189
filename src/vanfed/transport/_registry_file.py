"""The service follows its registry file: a newer version put in its place is loaded without
a restart, but only once it verifies as a successor of the version in force (signed by a
threshold of that version's root keys, a higher version, not expired). Anything else is
logged and ignored: the version in force stays."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from pathlib import Path

from vanfed._json import read_limited
from vanfed.errors import InputError, VerificationError
from vanfed.schema import MAX_REGISTRY_BYTES, TrustRegistry
from vanfed.signing import Envelope, verify_registry

__all__ = ["RegistryFile"]

log = logging.getLogger("vanfed.registry")


class RegistryFile:
    """The registry at ``path``, starting from the verified ``registry``."""

    def __init__(self, path: str | Path, registry: TrustRegistry) -> None:
        self.path = Path(path)
        self.registry = registry
        self._seen = self._stamp()
        self._lock = threading.Lock()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def poll(self, now: dt.datetime) -> TrustRegistry:
        """The registry in force: the file's, if it changed and verifies as a successor."""
        with self._lock:
            return self._poll(now)

    def _poll(self, now: dt.datetime) -> TrustRegistry:
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return self.registry
        self._seen = stamp
        try:
            data = read_limited(self.path, MAX_REGISTRY_BYTES)
            if Envelope.from_bytes(data).payload == self.registry.canonical_bytes():
                return self.registry  # the version in force, written again
            new = verify_registry(data, now=now, previous=self.registry)
        except (InputError, VerificationError) as exc:
            log.error(
                "%s: not loaded, v%d stays in force: %s", self.path, self.registry.version, exc
            )
            return self.registry
        log.info(
            "%s: registry v%d in force (was v%d)", self.path, new.version, self.registry.version
        )
        self.registry = new
        return new
