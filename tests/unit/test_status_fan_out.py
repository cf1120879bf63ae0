"""Fanned-out and memoized execute steps in the status: Argo's TaskGroup nodes, their expanded
tasks, ``progress`` and ``memoizationStatus`` (shapes as tests/argo_fake.py documents them, from
argo-workflows v4.1.2 workflow/controller/dag.go and operator.go)."""

from __future__ import annotations

from typing import Any

import pytest

from qiskit_argo.status._argo import (
    Progress,
    fan_out_children,
    item_of,
    memoization,
    node_progress,
    parse_progress,
    step_failure,
    step_message,
)
from qiskit_argo.status._workflow import cache_status, job_progress

WF = "job-abc"
MEMO = {"key": "f00d-0-of-2", "cacheName": "qiskit-argo-result-cache"}


def _node(name: str, kind: str, phase: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"id:{name}",
        "name": name,
        "displayName": name.split(".", 1)[-1],
        "type": kind,
        "phase": phase,
        **extra,
    }


def tree(
    *shards: tuple[str, str | None, dict[str, Any] | None], step: str = "execute-aer"
) -> dict[str, dict[str, Any]]:
    """A TaskGroup of ``step`` with one expanded task per (phase, pod progress, memoizationStatus)."""
    group = _node(f"{WF}(0).{step}", "TaskGroup", "Running", children=[])
    nodes = {group["id"]: group}
    count = len(shards)
    for index, (phase, progress, memo) in enumerate(shards):
        name = f"{group['name']}({index}:{index}-of-{count})"
        if memo is not None and memo.get("hit"):
            child = _node(name, "Pod", "Succeeded", memoizationStatus=memo, progress="1/1")
        else:
            child = _node(name, "Retry", phase, children=[f"id:{name}(0)"])
            pod = _node(f"{name}(0)", "Pod", phase)
            if progress is not None:
                pod["progress"] = progress
            if memo is not None:
                child["memoizationStatus"] = memo
            if phase == "Failed":
                pod["message"] = "main: Error (exit code 2): GpuUnavailable: no GPU"
                child["message"] = "retryStrategy.expression evaluated to false"
            nodes[pod["id"]] = pod
        nodes[child["id"]] = child
        group["children"].append(child["id"])
    return nodes


def by_step(nodes: dict[str, dict[str, Any]], step: str = "execute-aer") -> dict[str, dict[str, Any]]:
    return {step: next(node for node in nodes.values() if node["type"] == "TaskGroup")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3/4", Progress(3, 4)), ("0/1", Progress(0, 1)), ("5/4", None), ("0/0", None), ("", None), (None, None)],
)
def test_progress_is_valid_as_argo_reads_it(text: Any, expected: Progress | None) -> None:
    assert parse_progress(text) == expected


def test_a_fanned_out_step_sums_its_shards_latest_attempts() -> None:
    nodes = tree(("Running", "100/250", None), ("Succeeded", "250/250", None), ("Pending", None, None))
    group = by_step(nodes)["execute-aer"]
    assert [item_of(child) for child in fan_out_children(group, nodes)] == ["0-of-3", "1-of-3", "2-of-3"]
    assert node_progress(group, nodes) == Progress(350, 500)
    assert job_progress(by_step(nodes), nodes, part_steps=("execute-aer",)) == "350/500"


def test_cache_hits_count_as_the_bindings_the_other_shards_do_not_hold() -> None:
    hit = {**MEMO, "hit": True}
    nodes = tree(("Succeeded", None, hit), ("Running", "100/500", {**MEMO, "hit": False}))
    steps = by_step(nodes)
    assert job_progress(steps, nodes, total=1000, part_steps=("execute-aer",)) == "600/1000"
    assert job_progress(steps, nodes, part_steps=("execute-aer",)) == "101/501"
    cache = cache_status(steps, nodes, part_steps=("execute-aer",))
    assert cache == {"hit": False, "key": "f00d", "shards": 2, "shardsHit": 1}


def test_every_shard_from_the_cache_is_a_hit() -> None:
    hit = {**MEMO, "hit": True}
    nodes = tree(("Succeeded", None, hit), ("Succeeded", None, hit))
    assert cache_status(by_step(nodes), nodes, part_steps=("execute-aer",)) == {
        "hit": True,
        "key": "f00d",
        "shards": 2,
        "shardsHit": 2,
    }
    assert memoization(fan_out_children(by_step(nodes)["execute-aer"], nodes)[0], nodes) == hit


def test_no_memoized_step_no_cache_status() -> None:
    nodes = tree(("Succeeded", "1/1", None))
    assert cache_status(by_step(nodes), nodes, part_steps=("execute-aer",)) is None


def test_a_failed_shard_says_why_and_which() -> None:
    nodes = tree(("Succeeded", "5/5", None), ("Failed", "0/5", None))
    group = by_step(nodes)["execute-aer"]
    group["phase"] = "Failed"
    failure = step_failure(group, nodes)
    assert failure.reason == "GpuUnavailable"
    assert failure.detail == "1-of-2: no GPU"
    assert step_message(group, nodes) == "GpuUnavailable: 1-of-2: no GPU"


def test_a_skipped_fan_out_has_no_progress() -> None:
    node = _node(f"{WF}(0).execute-aer-gpu", "Skipped", "Skipped", message="Skipped, empty params")
    assert node_progress(node, {node["id"]: node}) is None
    assert fan_out_children(node, {node["id"]: node}) == []
