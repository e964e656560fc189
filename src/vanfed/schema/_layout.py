"""The coordinator's inbox on disk: the one place that knows its folder layout.

::

    INBOX/<sha256-hex>.dsse.json     each accepted national summary, named by its SHA-256
    INBOX/rounds/<sha256-hex>.dsse.json  each envelope of a secure round (announcement,
                                     contribution, result): logged too, but no summary
    INBOX/.vanfed/log/               the transparency log (entries, checkpoints, lock)
    INBOX/.vanfed/rejected/          envelopes set aside at start-up (no longer verify)
    INBOX/.<name>.<random>.tmp       a half-written file of a process that was killed

The inbox writes it; selection, the audit, the log view, the CLI and the demo read it
through :class:`InboxLayout`, never by spelling a path out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vanfed.errors import InputError

__all__ = ["ENVELOPE_SUFFIX", "InboxLayout", "log_folder"]

ENVELOPE_SUFFIX = ".dsse.json"


@dataclass(frozen=True)
class InboxLayout:
    """Where things live in an inbox folder ``root``."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def log(self) -> Path:
        """The transparency log's folder."""
        return self.root / ".vanfed" / "log"

    @property
    def rejected(self) -> Path:
        """Where start-up recovery sets aside envelopes that no longer verify."""
        return self.root / ".vanfed" / "rejected"

    def envelope(self, digest: str, *, round_part: bool = False) -> Path:
        """The file of the envelope with this ``sha256:<hex>`` (or bare hex) digest: a
        summary's, or with ``round_part`` a secure round's."""
        folder = self.rounds if round_part else self.root
        return folder / f"{digest.removeprefix('sha256:')}{ENVELOPE_SUFFIX}"

    @property
    def rounds(self) -> Path:
        """Where the secure rounds' envelopes are kept (out of ``merge``'s way)."""
        return self.root / "rounds"

    def find(self, digest: str) -> Path:
        """Where a logged envelope is: with the summaries, or with the rounds."""
        top = self.envelope(digest)
        other = self.envelope(digest, round_part=True)
        return other if not top.exists() and other.exists() else top

    @staticmethod
    def digest_of(path: Path) -> str | None:
        """The digest an envelope file is named by (None for any other file)."""
        if not path.name.endswith(ENVELOPE_SUFFIX):
            return None
        return "sha256:" + path.name.removesuffix(ENVELOPE_SUFFIX)

    def envelopes(self) -> list[Path]:
        """The stored envelopes (summaries, then the rounds'), by name."""
        return sorted(self.root.glob(f"*{ENVELOPE_SUFFIX}")) + sorted(
            self.rounds.glob(f"*{ENVELOPE_SUFFIX}")
        )

    def files(self) -> list[Path]:
        """Every visible file (what ``merge`` considers; hidden files are bookkeeping).

        Raises:
            InputError: the inbox is not a folder.
        """
        if not self.root.is_dir():
            raise InputError(f"{self.root}: inbox is not a folder")
        return sorted(p for p in self.root.iterdir() if p.is_file() and not p.name.startswith("."))

    def leftovers(self) -> list[Path]:
        """Half-written temporary files of a process that was killed."""
        return sorted(self.root.glob(".*.tmp")) + sorted(self.rounds.glob(".*.tmp"))


def log_folder(inbox: str | Path) -> Path:
    """Where an inbox keeps its transparency log."""
    return InboxLayout(inbox).log
