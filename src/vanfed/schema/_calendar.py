"""The revision calendar: when a period may be published, and how often it may be revised.

Every revision publishes a change, and small changes cost suppression or a refusal
(issue 21): batching late records into few revisions is what makes revisions publishable.
A region therefore agrees on *windows*, in months after a period ends: a period may be
published once in each window, from the moment the window opens until the next one does;
the last window never closes, and a publication in it is final. The default calendar
publishes quarters once (provisional, never revised) and a year twice: from the day after
it ends, and a final revision a year later::

    [policy.revisions]          # in the registry draft (vanfed registry init --calendar)
    quarter = [0]               # months after the quarter ends: one window
    year = [0, 12]              # r1 from January 1st of Y+1, the final revision from Y+2

A publication's time is its ``created_at`` (the snapshot its records were counted at).
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from vanfed.schema._base import Model
from vanfed.schema._summary import period_years

__all__ = ["RevisionCalendar", "instant", "period_end", "period_start"]

Offsets = tuple[int, ...]


def _months_later(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def instant(stamp: str) -> dt.datetime:
    """A summary's ``created_at`` (``YYYY-MM-DDTHH:MM:SSZ``) as an aware datetime."""
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def period_start(period: str) -> dt.datetime:
    """The first instant of a period (UTC midnight of its first day).

    Raises:
        ValueError: not a period.
    """
    year, quarter = period_years(period)
    return dt.datetime(year, 1 if quarter is None else 3 * quarter - 2, 1, tzinfo=dt.UTC)


def period_end(period: str) -> dt.datetime:
    """The first instant after a period (UTC midnight of the next quarter or year).

    Raises:
        ValueError: not a period.
    """
    _, quarter = period_years(period)
    end = _months_later(period_start(period).date(), 12 if quarter is None else 3)
    return dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC)


class RevisionCalendar(Model):
    """Windows, in whole months after a period ends, at which it may be published again."""

    quarter: Offsets = Field(default=(0,), min_length=1, max_length=12)
    year: Offsets = Field(default=(0, 12), min_length=1, max_length=12)

    @field_validator("quarter", "year")
    @classmethod
    def _increasing(cls, v: Offsets) -> Offsets:
        if any(m < 0 or m > 240 for m in v) or list(v) != sorted(set(v)):
            raise ValueError("window offsets are increasing whole months, 0 to 240")
        return v

    def offsets(self, period: str) -> Offsets:
        """The windows of a period (a quarter's or a year's)."""
        return self.quarter if period_years(period)[1] is not None else self.year

    def opens(self, period: str, window: int) -> dt.datetime:
        """When window ``window`` (0-based) of ``period`` opens."""
        end = period_end(period)
        day = _months_later(end.date(), self.offsets(period)[window])
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)

    def window(self, period: str, at: dt.datetime) -> int | None:
        """The window of ``period`` open at ``at`` (None: the first has not opened yet)."""
        n = len(self.offsets(period))
        open_ = [i for i in range(n) if self.opens(period, i) <= at]
        return open_[-1] if open_ else None

    def is_final(self, period: str, window: int) -> bool:
        """Whether ``window`` is the period's last (a publication in it is final)."""
        return window == len(self.offsets(period)) - 1
