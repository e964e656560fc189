"""Regional reports with a secure round, built in memory as the coordinator builds them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.unit.secure.test_regional import national, secure_report

from vanfed.schema import RegionalReport, Summary
from vanfed.testing import NOW, Member, Trust, members

COUNTRIES = ("KHM", "LAO", "MMR", "THA", "VNM")


@dataclass(frozen=True)
class Secure:
    """The five members, their national-path report, and the same report with a round among
    all five (``report``) and among four, KHM having dropped out (``partial``)."""

    group: dict[str, Member]
    plain: RegionalReport
    report: RegionalReport
    partial: RegionalReport

    @property
    def summaries(self) -> list[Summary]:
        return [m.summary for m in self.group.values()]


@pytest.fixture(scope="session")
def secure(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Secure:
    group = members(tmp_path_factory.mktemp("secure-report"), trust, COUNTRIES, period="2024",
                    now=NOW)  # fmt: skip
    return Secure(
        group,
        national(group),
        secure_report(trust, group, "report"),
        secure_report(trust, group, "partial", only=COUNTRIES[1:]),
    )
