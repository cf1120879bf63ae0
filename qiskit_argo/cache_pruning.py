"""Which entries of Argo's memoization ConfigMap to keep: the pure half of pruning the simulator cache.

Argo memoizes the cached Aer execute steps in the ConfigMap ``CACHE_CONFIGMAP`` of each job
namespace, one ``data`` entry per memoized node: the key is the memo key, the value Argo's
``cache.Entry`` as JSON (``{"nodeID", "outputs", "creationTimestamp", "lastHitTimestamp"}``,
``workflow/controller/cache/cache.go``). Argo never deletes an entry, and once the ConfigMap
would pass the API server's 1 MiB limit every save fails and marks its node Error. ``prune``
says what to keep:

1. entries whose ``creationTimestamp`` is older than ``max_age`` go (Argo ignores them anyway:
   ``time.Since(creation) > maxAge`` is a miss), and so do entries it cannot read;
2. then, while the data (keys plus values, in UTF-8 bytes, as the API server counts a
   ConfigMap's size) is above ``max_bytes``, the entries hit least recently go first (oldest
   ``lastHitTimestamp``, then oldest ``creationTimestamp``, then by key, so the answer is the
   same every time).

``max_bytes`` defaults to half the limit, so a burst of saves between two prunes has room.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "CONFIGMAP_LIMIT_BYTES",
    "DEFAULT_MAX_BYTES",
    "Entry",
    "data_size",
    "parse_entry",
    "parse_max_age",
    "prune",
]

#: What the API server accepts in one ConfigMap's data (``corev1.MaxSecretSize``, 1 MiB).
CONFIGMAP_LIMIT_BYTES = 1024 * 1024
#: How large the cache may stay after a prune: half the limit.
DEFAULT_MAX_BYTES = CONFIGMAP_LIMIT_BYTES // 2


@dataclass(frozen=True)
class Entry:
    """The two timestamps of one Argo cache entry that pruning needs (timezone-aware, UTC)."""

    created: datetime
    last_hit: datetime


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_entry(value: str) -> Entry | None:
    """Argo's entry JSON, or None when it is not one (no object, no readable creationTimestamp).

    A missing or null ``lastHitTimestamp`` (Go's zero ``metav1.Time``) counts as the creation time.
    """
    try:
        raw = json.loads(value)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    created = _timestamp(raw.get("creationTimestamp"))
    if created is None:
        return None
    last_hit = _timestamp(raw.get("lastHitTimestamp")) or created
    return Entry(created=created, last_hit=max(last_hit, created))


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_max_age(text: str) -> timedelta:
    """A Go duration of hours, minutes and seconds as ``CACHE_MAX_AGE`` spells it (``168h``, ``1h30m``)."""
    seconds, number = 0.0, ""
    for char in text.strip():
        if char.isdigit() or char == ".":
            number += char
        elif char in _UNITS and number:
            seconds += float(number) * _UNITS[char]
            number = ""
        else:
            raise ValueError(f"not a duration of h, m and s: {text!r}")
    if number or not text.strip():
        raise ValueError(f"not a duration of h, m and s: {text!r}")
    return timedelta(seconds=seconds)


def _size(key: str, value: str) -> int:
    return len(key.encode()) + len(value.encode())


def data_size(data: Mapping[str, str]) -> int:
    """The size of a ConfigMap's ``data`` as the API server counts it: every key and value, in bytes."""
    return sum(_size(key, value) for key, value in data.items())


def prune(
    data: Mapping[str, str],
    now: datetime,
    *,
    max_age: timedelta,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, str] | None:
    """The entries of the cache ConfigMap's ``data`` to keep, or None when all of them stay.

    Drops the entries created more than ``max_age`` before ``now`` and those that are not Argo
    entries, then the least recently hit until the rest is at most ``max_bytes``.
    """
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    live: list[tuple[str, str, Entry]] = []
    for key, value in data.items():
        entry = parse_entry(value) if isinstance(value, str) else None
        if entry is not None and now - entry.created <= max_age:
            live.append((key, value, entry))
    total = sum(_size(key, value) for key, value, _ in live)
    if total > max_bytes:
        live.sort(key=lambda item: (item[2].last_hit, item[2].created, item[0]))
        dropped = 0
        while total > max_bytes and dropped < len(live):
            key, value, _ = live[dropped]
            total -= _size(key, value)
            dropped += 1
        live = live[dropped:]
    if len(live) == len(data):
        return None
    return {key: value for key, value, _ in live}
