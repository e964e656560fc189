"""One owner of the inbox's layout: the inbox writes where InboxLayout says, and what it
lists is what the inbox accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from vanfed.errors import InputError
from vanfed.schema import InboxLayout
from vanfed.signing import sign_summary
from vanfed.testing import NOW, Trust, small_summary
from vanfed.tlog import TransparencyLog, log_keys
from vanfed.transport import Inbox


def test_inbox_writes_where_the_layout_says(trust: Trust, tmp_path: Path) -> None:
    layout = InboxLayout(tmp_path / "inbox")
    with pytest.raises(InputError, match="not a folder"):
        layout.files()
    inbox = Inbox(
        layout.root, trust.registry, coordinator=trust.coordinator, log_key=trust.log,
        now=lambda: NOW,
    )  # fmt: skip
    try:
        accepted = [
            inbox.accept(sign_summary(small_summary(c, "2024"), trust.nodes[c]))
            for c in ("KHM", "LAO")
        ]
    finally:
        inbox.close()
    assert {layout.digest_of(p) for p in layout.envelopes()} == {a.digest for a in accepted}
    assert layout.files() == layout.envelopes()  # the log's folder is hidden bookkeeping
    for a in accepted:
        assert layout.envelope(a.digest).is_file()
    log = TransparencyLog.read(layout.log, log_keys(trust.registry))
    assert set(log.by_digest) == {a.digest for a in accepted}
    assert layout.digest_of(layout.log) is None
