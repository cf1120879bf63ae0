"""Sharding: how bindings are cut into shards, shard names, and per-shard seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qiskit_argo import sharding
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.sharding import Slice


@pytest.mark.parametrize(
    ("total", "shards"),
    [(0, 1), (1, 1), (999, 1), (1000, 1), (1001, 2), (4000, 4), (15_001, 16), (16_000, 16), (100_000, 16)],
)
def test_auto_shards(total: int, shards: int) -> None:
    assert sharding.auto_shards(total) == shards


@pytest.mark.parametrize(
    ("count", "ids"),
    [(1, ["0-of-1"]), (3, ["0-of-3", "1-of-3", "2-of-3"])],
)
def test_shard_ids(count: int, ids: list[str]) -> None:
    assert sharding.shard_ids(count) == ids
    assert [sharding.parse_shard_id(text) for text in ids] == [(i, count) for i in range(count)]


def test_shard_ids_are_bounded() -> None:
    assert len(sharding.shard_ids(sharding.MAX_SHARDS)) == sharding.MAX_SHARDS
    for count in (0, sharding.MAX_SHARDS + 1):
        with pytest.raises(ValueError):
            sharding.shard_ids(count)


@pytest.mark.parametrize(
    "text",
    ["", "0", "4-of-4", "0-of-0", "-1-of-4", "01-of-4", "0-of-65", "0 of 4", "0-of-4\n", "x" * 500, "1-OF-4"],
)
def test_parse_shard_id_refuses(text: str) -> None:
    with pytest.raises(InvalidJobError) as caught:
        sharding.parse_shard_id(text)
    message = str(caught.value)
    assert message.startswith("shard parameter:") and "\n" not in message and len(message) <= 300
    assert "0-of-4" in message


@pytest.mark.parametrize(
    ("bindings", "count", "expected"),
    [
        ([1], 1, [[(0, 0, 1)]]),
        ([10], 1, [[(0, 0, 10)]]),
        ([10], 3, [[(0, 0, 4)], [(0, 4, 7)], [(0, 7, 10)]]),
        ([3, 1, 4], 1, [[(0, 0, 3), (1, 0, 1), (2, 0, 4)]]),
        ([3, 1, 4], 2, [[(0, 0, 3), (1, 0, 1)], [(2, 0, 4)]]),
        ([3, 1, 4], 3, [[(0, 0, 3)], [(1, 0, 1), (2, 0, 2)], [(2, 2, 4)]]),
        ([1, 1, 1], 3, [[(0, 0, 1)], [(1, 0, 1)], [(2, 0, 1)]]),
        ([5, 5], 4, [[(0, 0, 3)], [(0, 3, 5), (1, 0, 1)], [(1, 1, 3)], [(1, 3, 5)]]),
    ],
)
def test_plan(bindings: list[int], count: int, expected: list[list[tuple[int, int, int]]]) -> None:
    assert sharding.plan(bindings, count) == [[Slice(*s) for s in shard] for shard in expected]


@pytest.mark.parametrize(("bindings", "count"), [([7], 7), ([1000], 16), ([1, 999, 3, 2], 5), ([100_000], 64)])
def test_plan_covers_every_binding_once_in_order(bindings: list[int], count: int) -> None:
    shards = sharding.plan(bindings, count)
    assert len(shards) == count
    flat = [(s.pub, row) for shard in shards for s in shard for row in range(s.start, s.stop)]
    assert flat == [(pub, row) for pub, size in enumerate(bindings) for row in range(size)]
    sizes = [sum(s.size for s in shard) for shard in shards]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
    assert all(s.size > 0 for shard in shards for s in shard)


@pytest.mark.parametrize(("bindings", "count"), [([], 1), ([0], 1), ([2], 0), ([2], 3), ([1, -1], 1)])
def test_plan_refuses(bindings: list[int], count: int) -> None:
    with pytest.raises(ValueError):
        sharding.plan(bindings, count)


def test_slices_are_json_triples() -> None:
    assert json.loads(json.dumps(sharding.plan([2, 2], 2))) == [[[0, 0, 2]], [[1, 0, 2]]]


def test_shard_slices() -> None:
    assert sharding.shard_slices([3, 1, 4], "1-of-3") == [Slice(1, 0, 1), Slice(2, 0, 2)]
    with pytest.raises(InvalidJobError, match="8 bindings"):
        sharding.shard_slices([3, 1, 4], "0-of-9")


def test_shard_seed() -> None:
    assert sharding.shard_seed(None, 0) is None and sharding.shard_seed(None, 3) is None
    assert sharding.shard_seed(1234, 0) == 1234
    seeds = [sharding.shard_seed(1234, index) for index in range(64)]
    assert len(set(seeds)) == 64
    assert all(isinstance(seed, int) and 0 <= seed < 2**63 for seed in seeds)
    # Deterministic, and exactly the contract's formula.
    assert seeds == [sharding.shard_seed(1234, index) for index in range(64)]
    expected = int(np.random.SeedSequence(1234, spawn_key=(5,)).generate_state(1, np.uint64)[0]) >> 1
    assert seeds[5] == expected
    assert sharding.shard_seed(1235, 1) != seeds[1]
