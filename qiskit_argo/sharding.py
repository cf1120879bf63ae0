"""How a job's bindings are cut into shards, what the shards are called, and their seeds.

Pure (numpy only, imported on first use): the validate step resolves ``spec.execution.shards``
(``auto_shards``), the schedule step names the shards (``shard_ids``), each execute task finds its
slices (``parse_shard_id``, ``plan``) and its seed (``shard_seed``), and store-results checks that
the parts cover every binding exactly once.

The bindings of all PUBs, in PUB order (an unparameterized PUB counts one binding), are cut into
``count`` contiguous ranges whose sizes differ by at most one, the larger ones first; a range that
crosses a PUB boundary becomes one ``Slice`` per PUB it touches.

Shard 0's seed is the job's seed itself, so a one-shard run is exactly today's unsharded run; the
other shards get independent seeds from numpy's ``SeedSequence`` with the shard index as spawn key
(reproducible: the same job seed always gives the same shard seeds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import NamedTuple

from qiskit_argo.errors import InvalidJobError, quote

__all__ = [
    "MAX_SHARDS",
    "AUTO_BINDINGS_PER_SHARD",
    "AUTO_MAX_SHARDS",
    "Slice",
    "auto_shards",
    "shard_id",
    "shard_ids",
    "parse_shard_id",
    "plan",
    "shard_slices",
    "shard_seed",
]

#: Most shards one job may ask for (``spec.execution.shards``).
MAX_SHARDS = 64
#: ``shards: auto`` gives one shard per this many bindings ...
AUTO_BINDINGS_PER_SHARD = 1000
#: ... and at most this many shards.
AUTO_MAX_SHARDS = 16

_SHARD_ID = re.compile(r"(0|[1-9][0-9]{0,5})-of-([1-9][0-9]{0,5})")


class Slice(NamedTuple):
    """Bindings ``start`` (inclusive) to ``stop`` (exclusive) of PUB ``pub``.

    A tuple, so it reads and writes as ``[pub, start, stop]`` in JSON.
    """

    pub: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def auto_shards(total: int) -> int:
    """The shards ``shards: auto`` means for ``total`` bindings: one per ``AUTO_BINDINGS_PER_SHARD``
    (rounded up), at least 1 and at most ``AUTO_MAX_SHARDS``."""
    return max(1, min(AUTO_MAX_SHARDS, math.ceil(total / AUTO_BINDINGS_PER_SHARD)))


def shard_id(index: int, count: int) -> str:
    """The name of shard ``index`` of ``count``: ``"1-of-4"``."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} is not in 0..{count - 1}")
    return f"{index}-of-{count}"


def shard_ids(count: int) -> list[str]:
    """Every shard's name, in order: ``["0-of-4", "1-of-4", "2-of-4", "3-of-4"]``."""
    if not 1 <= count <= MAX_SHARDS:
        raise ValueError(f"{count} shards: expected 1..{MAX_SHARDS}")
    return [shard_id(index, count) for index in range(count)]


def parse_shard_id(text: str) -> tuple[int, int]:
    """``"1-of-4"`` as ``(1, 4)``; anything else is a one-line ``InvalidJobError``."""
    found = _SHARD_ID.fullmatch(text) if isinstance(text, str) else None
    if found is not None:
        index, count = int(found.group(1)), int(found.group(2))
        if index < count <= MAX_SHARDS:
            return index, count
    raise InvalidJobError(
        f"shard parameter: {quote(text)} is not a shard id like 0-of-4 (index below the count, at most "
        f"{MAX_SHARDS} shards); pass one of the schedule step's shards"
    )


def plan(bindings_per_pub: Sequence[int], count: int) -> list[list[Slice]]:
    """The slices of each of ``count`` shards: every binding of every PUB exactly once, in order,
    cut into contiguous ranges whose sizes differ by at most one (the larger ones first).

    ``bindings_per_pub[i]`` is PUB ``i``'s bindings (1 for an unparameterized PUB); ``count``
    must be between 1 and the total.
    """
    sizes = list(bindings_per_pub)
    if not sizes or any(size < 1 for size in sizes):
        raise ValueError(f"every PUB has at least one binding (an unparameterized PUB counts one), got {sizes}")
    total = sum(sizes)
    if not 1 <= count <= total:
        raise ValueError(f"{count} shards for {total} bindings: expected 1..{total}")
    base, extra = divmod(total, count)
    shards: list[list[Slice]] = []
    pub, offset = 0, 0  # the next binding: PUB ``pub``, row ``offset``
    for index in range(count):
        need = base + (1 if index < extra else 0)
        slices: list[Slice] = []
        while need:
            take = min(need, sizes[pub] - offset)
            slices.append(Slice(pub, offset, offset + take))
            need -= take
            offset += take
            if offset == sizes[pub]:
                pub, offset = pub + 1, 0
        shards.append(slices)
    return shards


def shard_slices(bindings_per_pub: Sequence[int], shard: str) -> list[Slice]:
    """The slices of the shard named ``shard`` (``"1-of-4"``)."""
    index, count = parse_shard_id(shard)
    total = sum(bindings_per_pub)
    if count > total:
        raise InvalidJobError(
            f"shard parameter: {quote(shard)} asks for {count} shards but the job has {total} bindings; "
            "pass one of the schedule step's shards"
        )
    return plan(bindings_per_pub, count)[index]


def shard_seed(seed: int | None, index: int) -> int | None:
    """The simulator seed of shard ``index``: None without a job seed; the job's seed for shard 0;
    else a 63-bit seed drawn from ``SeedSequence(seed, spawn_key=(index,))``."""
    if seed is None:
        return None
    if index == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)[0] >> np.uint64(1))
