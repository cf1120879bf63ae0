"""``qiskit_argo.cache_pruning``: which entries of Argo's memoization ConfigMap stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from qiskit_argo.cache_pruning import DEFAULT_MAX_BYTES, data_size, parse_entry, parse_max_age, prune
from qiskit_argo.steps import CACHE_MAX_AGE

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
WEEK = timedelta(hours=168)


def _stamp(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry(created_hours_ago: float, hit_hours_ago: float | None = None, *, pad: int = 0) -> str:
    """One entry as Argo's configmap_cache.go writes it (json.Marshal of cache.Entry)."""
    return json.dumps(
        {
            "nodeID": "job-abc-1234567890",
            "outputs": {
                "parameters": [{"name": "summary", "value": "x" * pad}],
                "artifacts": [{"name": "part", "s3": {"key": "qiskit-argo-cache/k/0.json"}}],
            },
            "creationTimestamp": _stamp(created_hours_ago),
            "lastHitTimestamp": _stamp(created_hours_ago if hit_hours_ago is None else hit_hours_ago),
        },
        separators=(",", ":"),
    )


FRESH = entry(1)
OLD = entry(169)
# Three entries of the same size; "b" was hit most recently, then "c", then "a".
A, B, C = entry(10, 9, pad=100), entry(10, 1, pad=100), entry(10, 5, pad=100)
ONE = len("k-a") + len(A)


@pytest.mark.parametrize(
    ("data", "max_bytes", "kept"),
    [
        pytest.param({}, DEFAULT_MAX_BYTES, None, id="empty"),
        pytest.param({"k-1": FRESH}, DEFAULT_MAX_BYTES, None, id="small-and-fresh"),
        pytest.param({"k-1": FRESH, "k-2": OLD}, DEFAULT_MAX_BYTES, {"k-1"}, id="older-than-max-age"),
        pytest.param({"k-1": entry(167.9)}, DEFAULT_MAX_BYTES, None, id="just-inside-max-age"),
        pytest.param({"k-1": entry(168)}, DEFAULT_MAX_BYTES, None, id="exactly-max-age-still-served"),
        pytest.param({"k-1": OLD, "k-2": entry(200, 0)}, DEFAULT_MAX_BYTES, set(), id="recent-hit-does-not-save-age"),
        pytest.param({"k-1": FRESH, "k-2": "not json"}, DEFAULT_MAX_BYTES, {"k-1"}, id="unparseable"),
        pytest.param({"k-1": FRESH, "k-2": "[1, 2]"}, DEFAULT_MAX_BYTES, {"k-1"}, id="not-an-object"),
        pytest.param({"k-1": FRESH, "k-2": '{"nodeID": "n"}'}, DEFAULT_MAX_BYTES, {"k-1"}, id="no-creation"),
        pytest.param(
            {"k-1": FRESH, "k-2": json.dumps({"creationTimestamp": "yesterday"})},
            DEFAULT_MAX_BYTES,
            {"k-1"},
            id="bad-timestamp",
        ),
        pytest.param({"k-a": A, "k-b": B, "k-c": C}, 3 * ONE, None, id="at-the-limit"),
        pytest.param({"k-a": A, "k-b": B, "k-c": C}, 3 * ONE - 1, {"k-b", "k-c"}, id="one-byte-over"),
        pytest.param({"k-a": A, "k-b": B, "k-c": C}, ONE, {"k-b"}, id="keeps-most-recently-hit"),
        pytest.param({"k-a": A, "k-b": B, "k-c": C}, ONE - 1, set(), id="nothing-fits"),
        pytest.param(
            {"k-a": A, "k-b": B, "k-old": OLD, "k-bad": "{"},
            2 * ONE,
            {"k-a", "k-b"},
            id="expired-and-unparseable-go-first",
        ),
        pytest.param(
            {"k-2": entry(10, 3, pad=100), "k-1": entry(20, 3, pad=100)},
            ONE,
            {"k-2"},
            id="tie-on-hit-older-creation-goes",
        ),
        pytest.param(
            {"k-b": entry(10, 3, pad=100), "k-a": entry(10, 3, pad=100)},
            ONE,
            {"k-b"},
            id="full-tie-by-key",
        ),
    ],
)
def test_prune(data: dict[str, str], max_bytes: int, kept: set[str] | None) -> None:
    result = prune(data, NOW, max_age=WEEK, max_bytes=max_bytes)
    if kept is None:
        assert result is None
    else:
        assert result is not None
        assert set(result) == kept
        assert all(result[key] == data[key] for key in result), "kept entries are unchanged"
        assert data_size(result) <= max_bytes


@pytest.mark.parametrize(
    ("value", "created", "last_hit"),
    [
        pytest.param(entry(2, 1), NOW - timedelta(hours=2), NOW - timedelta(hours=1), id="both"),
        pytest.param(
            json.dumps({"creationTimestamp": _stamp(2), "lastHitTimestamp": None}),
            NOW - timedelta(hours=2),
            NOW - timedelta(hours=2),
            id="null-hit-is-creation",
        ),
        pytest.param(
            json.dumps({"creationTimestamp": "2025-06-01T10:00:00.123456+02:00"}),
            datetime(2025, 6, 1, 8, 0, 0, 123456, tzinfo=UTC),
            datetime(2025, 6, 1, 8, 0, 0, 123456, tzinfo=UTC),
            id="offset-and-fraction",
        ),
    ],
)
def test_parse_entry(value: str, created: datetime, last_hit: datetime) -> None:
    parsed = parse_entry(value)
    assert parsed is not None
    assert (parsed.created, parsed.last_hit) == (created, last_hit)


@pytest.mark.parametrize(
    ("data", "size"),
    [
        ({}, 0),
        ({"ab": "cde"}, 5),
        ({"k": "é"}, 3),  # bytes, not characters
        ({"a": "1", "b": "22"}, 5),
    ],
)
def test_data_size(data: dict[str, str], size: int) -> None:
    assert data_size(data) == size


@pytest.mark.parametrize(
    ("text", "age"),
    [
        (CACHE_MAX_AGE, WEEK),
        ("1h30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_parse_max_age(text: str, age: timedelta) -> None:
    assert parse_max_age(text) == age


@pytest.mark.parametrize("text", ["", "7d", "168", "h", "1h-2m"])
def test_parse_max_age_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_max_age(text)


def test_prunes_a_nearly_full_cache_to_half_the_limit() -> None:
    """Thousands of shards, as Argo leaves them: brought under the default, most recent hits kept."""
    data = {f"k{i:04d}-{i % 8}": entry(100, 100 - i * 0.02, pad=200) for i in range(3000)}
    assert data_size(data) > 900 * 1024
    result = prune(data, NOW, max_age=WEEK)
    assert result is not None
    assert DEFAULT_MAX_BYTES - 1024 < data_size(result) <= DEFAULT_MAX_BYTES
    newest = sorted(data, key=lambda key: int(key[1:5]))[-len(result) :]
    assert set(result) == set(newest)


def test_naive_now_is_utc() -> None:
    assert prune({"k": OLD}, NOW.replace(tzinfo=None), max_age=WEEK) == {}
