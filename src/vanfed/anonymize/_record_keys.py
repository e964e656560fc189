"""Record keys for the cell key method: one secret random key per record, kept for good.

A key is drawn once, the first time a record is published, and kept in a file inside a
folder the node owns (its publication ledger); a record keeps its key in every later
revision and period, a new record gets a new key, and nothing is ever removed (a record
that leaves and comes back keeps its key). Keys are never published: they are what makes
the noise the same for the same records, and unpredictable to anyone else.

A record is known by the 64-bit hash ingest computes of its trimmed record id (the same
identity ingest's duplicate check uses), so the file holds no record id in clear. A key is
an integer in [0, 2**32), i.e. ``key / 2**32`` is uniform in [0, 1) on a 2**-32 grid; cell
keys are then exact sums modulo 2**32, the same whatever order records are added in.

File ``record-keys.bin`` (written atomically: write, fsync, rename, fsync folder)::

    b"vanfed-record-keys/1\\n"  count (u64 LE)  ids (count × u64 LE, ascending)
    keys (count × u32 LE)  SHA-256 of everything before it (32 bytes)
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path
from random import Random

import numpy as np

from vanfed._json import atomic_write
from vanfed.errors import InputError

__all__ = ["RECORD_KEYS_FILE", "RecordKeys"]

RECORD_KEYS_FILE = "record-keys.bin"
_MAGIC = b"vanfed-record-keys/1\n"
_HEADER = len(_MAGIC) + 8


class RecordKeys:
    """The node's durable map record-id hash → key, in ``folder``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / RECORD_KEYS_FILE
        self.ids, self.keys = self._read()
        self._unsaved = False

    def __len__(self) -> int:
        return int(self.ids.size)

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.path.exists():
            return np.empty(0, np.uint64), np.empty(0, np.uint32)
        data = self.path.read_bytes()
        bad = InputError(f"{self.path}: record key file is damaged; restore it from backup")
        if len(data) < _HEADER + 32 or not data.startswith(_MAGIC):
            raise bad
        (count,) = struct.unpack_from("<Q", data, len(_MAGIC))
        if len(data) != _HEADER + 12 * count + 32:
            raise bad
        if hashlib.sha256(data[:-32]).digest() != data[-32:]:
            raise bad
        ids = np.frombuffer(data, "<u8", count, _HEADER).astype(np.uint64)
        keys = np.frombuffer(data, "<u4", count, _HEADER + 8 * count).astype(np.uint32)
        if count > 1 and not (ids[1:] > ids[:-1]).all():
            raise bad
        return ids, keys

    def _write(self) -> None:
        body = b"".join(
            (
                _MAGIC,
                struct.pack("<Q", self.ids.size),
                self.ids.astype("<u8").tobytes(),
                self.keys.astype("<u4").tobytes(),
            )
        )
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path, body + hashlib.sha256(body).digest(), mode=0o600)

    def save(self) -> None:
        """Write keys drawn by ``keys_for(..., save=False)`` (nothing if none are new)."""
        if self._unsaved:
            self._write()
            self._unsaved = False

    def keys_for(
        self, ids: np.ndarray, *, rng: Random | None = None, save: bool = True
    ) -> np.ndarray:
        """Each record's key (uint32), drawing and saving keys for records never seen.

        Args:
            ids: record-id hashes (``CodedRecords.ids``); repeats get the same key.
            rng: where new keys come from (default: the operating system's CSPRNG).
            save: write new keys at once; with ``False`` only :meth:`save` writes them
                (a publication that is refused leaves the file as it was).
        """
        ids = np.asarray(ids, np.uint64)
        new = np.setdiff1d(ids, self.ids)  # sorted, distinct
        if new.size:
            raw = rng.randbytes(4 * new.size) if rng is not None else os.urandom(4 * new.size)
            new_keys = np.frombuffer(raw, "<u4").astype(np.uint32)
            all_ids = np.concatenate([self.ids, new])
            order = np.argsort(all_ids, kind="stable")
            self.ids = all_ids[order]
            self.keys = np.concatenate([self.keys, new_keys])[order]
            self._unsaved = True
            if save:
                self.save()
        return self.keys[np.searchsorted(self.ids, ids)]
