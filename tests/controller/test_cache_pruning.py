"""The controller keeps Argo's simulator cache ConfigMap under its size budget.

Argo memoizes the cached execute steps in ConfigMap ``qiskit-argo-result-cache`` of the job's
namespace and never deletes an entry: past 1 MiB every save fails. The test plays Argo (it
writes entries as ``configmap_cache.go`` does) and a user whose job finishes; the controller
prunes when the job finishes and again on its slow timer.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qiskit_argo.cache_pruning import data_size, parse_entry, prune
from qiskit_argo.steps import CACHE_CONFIGMAP
from tests.controller.cluster import Argo, Cluster, eventually
from tests.controller.emulator import conflict

pytestmark = pytest.mark.timeout(60)

MAX_BYTES = 512 * 1024
WEEK = timedelta(hours=168)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def argo_entry(key: str, shard: str, created: datetime, hit: datetime) -> str:
    """One entry as Argo v4 saves it: ``json.Marshal(cache.Entry{...})``."""
    outputs = {
        "parameters": [
            {
                "name": "summary",
                "value": json.dumps({"counts": {"00": 517, "11": 507}, "shots": 1024, "shard": shard}),
            }
        ],
        "artifacts": [
            {
                "name": "part",
                "path": "/tmp/outputs/part.json",
                "s3": {"key": f"qiskit-argo-cache/{key}/{shard}.json"},
                "archive": {"none": {}},
            }
        ],
        "exitCode": "0",
    }
    entry = {
        "nodeID": f"cached-{key[-10:]}-{shard}",
        "outputs": outputs,
        "creationTimestamp": _stamp(created),
        "lastHitTimestamp": _stamp(hit),
    }
    return json.dumps(entry, separators=(",", ":"))


def big_cache(now: datetime, *, entries: int) -> dict[str, str]:
    """Many shards of many cached jobs, hit at different times, plus a few Argo no longer serves."""
    data: dict[str, str] = {}
    for i in range(entries):
        key = f"{i // 16:064x}"
        shard = f"{i % 16}-of-16"
        created = now - timedelta(hours=100)
        hit = created + timedelta(seconds=97 * i % (90 * 3600))  # spread, never the same order as i
        data[f"{key}-{shard}"] = argo_entry(key, shard, created, hit)
    for i in range(20):
        key = f"{10**9 + i:064x}"
        old = now - timedelta(hours=200)
        data[f"{key}-0-of-1"] = argo_entry(key, "0-of-1", old, now - timedelta(hours=1))
    return data


def cache_configmap(cluster: Cluster, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CACHE_CONFIGMAP,
            "namespace": cluster.namespace,
            "labels": {"workflows.argoproj.io/configmap-type": "Cache"},
        },
        "data": data,
    }


async def cache(cluster: Cluster) -> dict[str, Any]:
    found = await cluster.api.get(cluster.configmap_path(CACHE_CONFIGMAP))
    assert found is not None
    return found


async def finish_a_job(cluster: Cluster, name: str) -> None:
    await cluster.create_job(name)
    workflow = await cluster.workflow_of(name)
    await Argo(cluster, workflow["metadata"]["name"])(lambda a: a.succeed_all())
    await cluster.phase(name, "Succeeded")


async def test_a_nearly_full_cache_is_pruned_keeping_the_most_recent_hits(cluster: Cluster) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    data = big_cache(now, entries=1650)
    assert 850 * 1024 < data_size(data) < 1024 * 1024
    await cluster.api.ok("POST", cluster.configmap_path(), cache_configmap(cluster, data))
    wanted = prune(data, now, max_age=WEEK, max_bytes=MAX_BYTES)
    assert wanted is not None

    await cluster.controller(cache_prune_interval_seconds=600.0).start()
    await finish_a_job(cluster, "bell")

    async def pruned() -> dict[str, Any] | None:
        found = await cache(cluster)
        return found if data_size(found.get("data") or {}) <= MAX_BYTES else None

    found = await eventually(pruned, timeout=15, what="the cache ConfigMap under 512 KiB")
    kept = found["data"]
    assert set(kept) == set(wanted)
    assert all(kept[key] == data[key] for key in kept), "kept entries are Argo's, unchanged"
    expired = {key for key, value in data.items() if now - parse_entry(value).created > WEEK}  # type: ignore[union-attr]
    assert len(expired) == 20 and not expired & set(kept), "entries Argo no longer serves are gone"
    assert data_size(kept) > MAX_BYTES - 1024, "no more than needed was dropped"
    hits = {key: parse_entry(value).last_hit for key, value in data.items()}  # type: ignore[union-attr]
    dropped_live = [key for key in data if key not in kept and now - parse_entry(data[key]).created <= WEEK]  # type: ignore[union-attr]
    assert dropped_live and min(hits[key] for key in kept) >= max(hits[key] for key in dropped_live)
    assert found["metadata"]["labels"] == {"workflows.argoproj.io/configmap-type": "Cache"}

    events = await eventually(lambda: _events(cluster, "CachePruned"), what="a CachePruned Event")
    assert f"Pruned {len(data) - len(kept)} of {len(data)}" in events[0]["message"]

    if cluster.emulator is not None:
        writes = [w for w in cluster.emulator.writes_by("controller") if w.name == CACHE_CONFIGMAP]
        assert len(writes) == 1 and writes[0].method == "PATCH"
        body = writes[0].body
        assert body["metadata"]["resourceVersion"], "a guarded write, never a blind one"
        assert set(body["data"]) == set(data) - set(kept) and set(body["data"].values()) == {None}


async def test_the_slow_timer_prunes_again_and_a_conflict_is_read_again(cluster: Cluster) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await cluster.api.ok("POST", cluster.configmap_path(), cache_configmap(cluster, big_cache(now, entries=100)))
    raced: list[Any] = []
    if cluster.emulator is not None:

        async def argo_saved_meanwhile(request: Any) -> None:
            resource = request.resource
            if (
                str(request.method.value).upper() == "PATCH"
                and resource is not None
                and resource.plural == "configmaps"
                and request.name == CACHE_CONFIGMAP
                and not raced
            ):
                raced.append(request)
                raise conflict()

        cluster.emulator.interceptors.append(argo_saved_meanwhile)

    await cluster.controller(cache_prune_interval_seconds=0.5, cache_prune_gap_seconds=0.2).start()
    await finish_a_job(cluster, "bell")

    async def no_expired() -> dict[str, Any] | None:
        found = await cache(cluster)
        return found if len(found.get("data") or {}) == 100 else None

    await eventually(no_expired, timeout=15, what="the expired entries pruned")
    assert len(raced) == (1 if cluster.emulator is not None else 0)

    # Argo keeps saving; no job finishes; the timer alone brings it back under the budget.
    found = await cache(cluster)
    grown = dict(found["data"])
    for key, value in big_cache(now, entries=1650).items():
        if len(grown) < 1650 and key not in grown and parse_entry(value).created > now - WEEK:  # type: ignore[union-attr]
            grown[key] = value
    found["data"] = grown
    await cluster.api.ok("PUT", cluster.configmap_path(CACHE_CONFIGMAP), found)

    async def small() -> dict[str, Any] | None:
        found = await cache(cluster)
        return found if data_size(found.get("data") or {}) <= MAX_BYTES else None

    await eventually(small, timeout=15, what="the grown cache pruned by the timer")


async def test_a_small_cache_is_left_alone(cluster: Cluster) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    data = big_cache(now, entries=50)
    data = {key: value for key, value in data.items() if parse_entry(value).created > now - WEEK}  # type: ignore[union-attr]
    created = await cluster.api.ok("POST", cluster.configmap_path(), cache_configmap(cluster, data))

    await cluster.controller(cache_prune_interval_seconds=0.3, cache_prune_gap_seconds=0.1).start()
    await finish_a_job(cluster, "bell")
    await asyncio.sleep(1.5)  # the point is that nothing happens: several prunes looked and wrote nothing

    found = await cache(cluster)
    assert found["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert found["data"] == data
    assert await _events(cluster, "CachePruned") is None
    if cluster.emulator is not None:
        assert not [w for w in cluster.emulator.writes_by("controller") if w.name == CACHE_CONFIGMAP]


async def test_no_cache_configmap_is_never_created(cluster: Cluster) -> None:
    await cluster.controller(cache_prune_interval_seconds=0.3, cache_prune_gap_seconds=0.1).start()
    await finish_a_job(cluster, "bell")
    await asyncio.sleep(0.8)
    assert await cluster.api.get(cluster.configmap_path(CACHE_CONFIGMAP)) is None


async def _events(cluster: Cluster, reason: str) -> list[dict[str, Any]] | None:
    found = [event for event in await cluster.events(CACHE_CONFIGMAP) if event.get("reason") == reason]
    return found or None
