"""A budget's period: the first instant of the current month in its time zone, or the epoch.

A ``monthly`` budget's period starts on the first instant of the month in ``spec.timeZone`` (an
IANA name, read with ``zoneinfo``), returned in UTC. It is computed as local midnight on the 1st
with ``fold=0``: when a DST change skips midnight (the clocks jump from 00:00 to 01:00), that is
the instant of the jump, the first instant of the day; when midnight occurs twice (the clocks go
back from 01:00 to 00:00), it is the earlier one. A ``total`` budget has one period that never
ends: it starts at the Unix epoch (not the budget's creation, which the spec does not know and
which would change nothing: nothing is spent before a budget exists).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qiskit_argo.api import QiskitBudgetSpec
from qiskit_argo.errors import quote

__all__ = ["EPOCH", "InvalidTimeZone", "zone", "period_start", "utc", "describe_period"]

#: Where a ``total`` budget's one period starts.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidTimeZone(ValueError):
    """``spec.timeZone`` names no time zone known here; the message is one line."""


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``InvalidTimeZone`` (one line) when there is none."""
    try:
        if not name or name.startswith("/") or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTimeZone(
            f"spec.timeZone {quote(name)} is not an IANA time zone known here; use one such as UTC or Europe/Paris"
        ) from None


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def period_start(spec: QiskitBudgetSpec, now: datetime) -> datetime:
    """The first instant (UTC) of the period holding ``now``; raises ``InvalidTimeZone``."""
    if spec.period == "total":
        return EPOCH
    tz = zone(spec.time_zone)
    local = utc(now).astimezone(tz)
    return datetime(local.year, local.month, 1, tzinfo=tz).astimezone(UTC)


def describe_period(spec: QiskitBudgetSpec, start: datetime | None) -> str:
    """The period in a few words: ``monthly since 2026-11-01 00:00 Europe/Paris`` or ``in total``."""
    if spec.period == "total" or start is None:
        return "in total" if spec.period == "total" else f"monthly ({spec.time_zone})"
    try:
        local = utc(start).astimezone(zone(spec.time_zone))
    except InvalidTimeZone:
        return f"monthly ({quote(spec.time_zone)})"
    return f"monthly since {local:%Y-%m-%d %H:%M} {spec.time_zone}"
