"""The runner's Argo features for sharded, cached runs, on small hand-written Workflows and a toy
step (``tests.local.toy``): ``withParam`` fan-out run in parallel, key-only ``s3`` artifacts in a
local repository (prefix inputs, ``optional``, artifactGC), ``memoize`` with ``maxAge``, projected
ConfigMap volumes, ``{{workflow.uid}}`` and ``ARGO_PROGRESS_FILE``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo.local import (
    LocalStore,
    StepWorkers,
    TaskRun,
    WorkflowRun,
    child_node_name,
    default_cache_dir,
    parse_duration,
    run_workflow,
)
from tests.local import faults, toy

IMAGE = "test/toy:1"
OUT = "/tmp/out"
RUN_PARTS = "{{workflow.namespace}}/{{workflow.name}}/{{workflow.uid}}/parts"


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[StepWorkers]:
    monkeypatch.setenv("PYTHONPATH", faults.pythonpath_with_tests())
    with StepWorkers({IMAGE: (toy.MODULE,)}) as workers:
        yield workers


def _toy(name: str, args: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "container": {
            "image": IMAGE,
            "command": ["qiskit-argo-step"],
            "args": ["toy", *args, "--out", OUT],
            "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
        },
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        **extra,
    }


def _part(key: str, **extra: Any) -> dict[str, Any]:
    return {"name": "part", "path": f"{OUT}/part.json", "archive": {"none": {}}, "s3": {"key": key}, **extra}


def _workflow(tasks: list[dict[str, Any]], templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "wf", "namespace": "ns"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}}, *templates], **spec},
    }


def _shard_template(**extra: Any) -> dict[str, Any]:
    """One shard: sleeps, reports progress 1/1, writes its part under the run's prefix (GC'd)."""
    template = _toy(
        "shard",
        ["--value", "{{inputs.parameters.shard}}", "--sleep", "{{inputs.parameters.sleep}}", "--progress", "5/5"],
        inputs={"parameters": [{"name": "shard"}, {"name": "sleep", "default": "0"}]},
        outputs={
            "artifacts": [
                _part(
                    f"{RUN_PARTS}/{{{{inputs.parameters.shard}}}}.json", artifactGC={"strategy": "OnWorkflowDeletion"}
                )
            ]
        },
    )
    template.update(extra)
    return template


def _gather_template() -> dict[str, Any]:
    """Reads every part under the run's prefix (a directory input, optional)."""
    return _toy(
        "gather",
        ["--inputs", "/tmp/in/parts"],
        inputs={"artifacts": [{"name": "parts", "path": "/tmp/in/parts", "optional": True, "s3": {"key": RUN_PARTS}}]},
        outputs={"artifacts": [{"name": "result", "path": f"{OUT}/part.json"}]},
    )


def _fan_out(shards: list[str], sleep: str = "0", **task: Any) -> dict[str, Any]:
    tasks = [
        {
            "name": "execute",
            "template": "shard",
            "withParam": "{{workflow.parameters.shards}}",
            "arguments": {"parameters": [{"name": "shard", "value": "{{item}}"}, {"name": "sleep", "value": sleep}]},
            **task,
        },
        {"name": "gather", "template": "gather", "depends": "execute"},
    ]
    return _workflow(
        tasks,
        [_shard_template(), _gather_template()],
        arguments={"parameters": [{"name": "shards", "value": json.dumps(shards)}]},
    )


def _result(run: WorkflowRun) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(run.tasks["gather"].artifacts["result"].read_text())
    return loaded


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("168h", 168 * 3600.0), ("90s", 90.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("250ms", 0.25), ("0", 0.0)],
)
def test_durations_read_as_go_reads_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "h", "10d", "1h 2m"])
def test_a_duration_go_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("item", "name"),
    [
        ("0-of-4", "execute-aer(0:0-of-4)"),
        (7, "execute-aer(0:7)"),
        ("f(x)", "execute-aer(0:fx)"),
        ({"b": 2, "a": "x"}, "execute-aer(0:a:x,b:2)"),
    ],
)
def test_children_are_named_as_argo_names_them(item: Any, name: str) -> None:
    assert child_node_name("execute-aer", 0, item) == name


def test_the_default_cache_directory_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "qiskit-argo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "qiskit-argo"


# --------------------------------------------------------------------------- fan-out


def test_a_fan_out_runs_its_children_at_once_and_gathers_their_parts(tmp_path: Path, pool: StepWorkers) -> None:
    shards = ["0-of-3", "1-of-3", "2-of-3"]
    store = LocalStore(tmp_path / "cache")
    seen: list[str | None] = []
    run = run_workflow(
        _fan_out(shards, sleep="1"),
        {},
        tmp_path / "work",
        workers=pool,
        store=store,
        parallel=3,
        listener=lambda task: seen.append(task.progress) if task.name == "execute" else None,
    )
    assert run.phase == "Succeeded", {name: (t.phase, t.message) for name, t in run.tasks.items()}
    group = run.tasks["execute"]
    assert [child.name for child in group.children] == [f"execute({i}:{shard})" for i, shard in enumerate(shards)]
    assert {child.phase for child in group.children} == {"Succeeded"}
    assert group.progress == "15/15" and "15/15" in seen, "Argo sums the children's N/M"
    parts = {name: json.loads(text) for name, text in _result(run)["inputs"].items()}
    assert sorted(parts) == [f"{shard}.json" for shard in shards]
    assert [parts[f"{shard}.json"]["value"] for shard in shards] == shards
    # In parallel: each child in its own process, all started before any ended.
    assert len({part["pid"] for part in parts.values()}) == 3
    assert max(part["started"] for part in parts.values()) < min(part["ended"] for part in parts.values())
    for shard in shards:
        assert (tmp_path / "work" / "steps" / "execute" / shard / "stderr.log").is_file()
    # The run's parts were under its own uid; artifactGC removed them when the run ended.
    assert run.uid and not any(store.repository.rglob("*.json")), "run-scoped parts are collected"


def test_parallel_bounds_how_many_children_run_at_once(tmp_path: Path, pool: StepWorkers) -> None:
    run = run_workflow(_fan_out(["a", "b", "c"], sleep="0.3"), {}, tmp_path, workers=pool, parallel=1)
    assert run.phase == "Succeeded"
    parts = [json.loads(text) for text in _result(run)["inputs"].values()]
    windows = sorted((part["started"], part["ended"]) for part in parts)
    assert all(earlier[1] <= later[0] for earlier, later in zip(windows, windows[1:], strict=False)), "one at a time"


def test_a_failed_child_fails_the_task_and_omits_its_dependents(tmp_path: Path, pool: StepWorkers) -> None:
    workflow = _fan_out(["ok", "bad"])
    shard = workflow["spec"]["templates"][1]
    shard["container"]["args"] = ["toy", "--value", "{{inputs.parameters.shard}}", "--fail", "--out", OUT]
    run = run_workflow(workflow, {}, tmp_path, workers=pool)
    group = run.tasks["execute"]
    assert [child.phase for child in group.children] == ["Failed", "Failed"]
    assert (group.phase, run.tasks["gather"].phase, run.phase) == ("Failed", "Omitted", "Failed")
    assert group.message == "execute(0:ok): ToyFailure: shard ok failed" and group.exit_code == 2
    assert run.message.startswith("step execute failed: execute(0:ok): ToyFailure")


@pytest.mark.parametrize(
    ("shards", "when", "phases", "group"),
    [
        ([], None, [], "Skipped"),  # Argo: "Skipped, empty params"
        (["a", "b"], "{{item}} == b", ["Skipped", "Succeeded"], "Succeeded"),
        (["a", "b"], "no == yes", ["Skipped", "Skipped"], "Succeeded"),  # a TaskGroup of skipped children
    ],
)
def test_a_fan_out_phase_follows_argo(
    tmp_path: Path, pool: StepWorkers, shards: list[str], when: str | None, phases: list[str], group: str
) -> None:
    run = run_workflow(_fan_out(shards, **({"when": when} if when else {})), {}, tmp_path, workers=pool)
    assert [child.phase for child in run.tasks["execute"].children] == phases
    assert run.tasks["execute"].phase == group
    assert run.tasks["gather"].phase == "Succeeded", "bare depends: Succeeded or Skipped"


def test_with_param_that_is_not_a_json_list_is_an_error(tmp_path: Path, pool: StepWorkers) -> None:
    workflow = _fan_out([])
    workflow["spec"]["arguments"]["parameters"][0]["value"] = "0-of-2"
    run = run_workflow(workflow, {}, tmp_path, workers=pool)
    assert run.tasks["execute"].phase == "Error"
    assert "withParam value could not be parsed as a JSON list" in run.tasks["execute"].message


def test_a_worker_started_on_a_shard_thread_outlives_that_thread(tmp_path: Path, monkeypatch: Any) -> None:
    """On Linux a worker dies with the *thread* that started it (PR_SET_PDEATHSIG): workers a shard's
    thread needs are started by the pool's own thread, so they serve later steps too."""
    from tests.local.test_step_workers import _call

    with StepWorkers() as workers:
        ended: list[Any] = []
        thread = threading.Thread(target=lambda: ended.append(workers.run("lazy", _call(tmp_path / "a"))))
        thread.start()
        thread.join()
        first = workers.pids()["lazy"]
        time.sleep(0.5)
        assert workers.run("lazy", _call(tmp_path / "b")).code == 0
        assert workers.pids()["lazy"] == first, "the same worker: it did not die with its thread"
    assert ended[0].code == 0


def test_steps_run_from_several_threads_at_once_get_workers_of_their_own(tmp_path: Path) -> None:
    from tests.local.test_step_workers import _call

    with StepWorkers() as workers:
        workers.reserve("lazy", 3)
        assert set(workers.pids()) == {"lazy", "lazy#1", "lazy#2"}
        codes: list[int | None] = []
        threads = [
            threading.Thread(target=lambda i=i: codes.append(workers.run("lazy", _call(tmp_path / str(i))).code))
            for i in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert codes == [0, 0, 0] and len(workers.pids()) == 3


# --------------------------------------------------------------------------- key-only artifacts


def test_a_cached_part_stays_while_the_run_scoped_one_is_collected(tmp_path: Path, pool: StepWorkers) -> None:
    template = _toy(
        "both",
        ["--value", "x"],
        outputs={
            "artifacts": [
                _part(f"{RUN_PARTS}/0-of-1.json"),  # the Workflow's strategy applies: collected
                {**_part("cache/abc/0-of-1.json", artifactGC={"strategy": "Never"}), "name": "kept"},
            ]
        },
    )
    store = LocalStore(tmp_path / "cache")
    run = run_workflow(
        _workflow([{"name": "both", "template": "both"}], [template], artifactGC={"strategy": "OnWorkflowCompletion"}),
        {},
        tmp_path / "work",
        workers=pool,
        store=store,
    )
    assert run.phase == "Succeeded"
    assert json.loads((store.repository / "cache" / "abc" / "0-of-1.json").read_text())["value"] == "x"
    assert [p.relative_to(store.repository).as_posix() for p in store.repository.rglob("*")] == [
        "cache",
        "cache/abc",
        "cache/abc/0-of-1.json",
    ], "the run's folders went with its part"


def _reads_source(optional: bool) -> dict[str, Any]:
    template = _toy(
        "read",
        ["--inputs", "/tmp/in/source-0"],
        inputs={"artifacts": [{"name": "source-0", "path": "/tmp/in/source-0", "optional": optional}]},
    )
    task = {
        "name": "read",
        "template": "read",
        "arguments": {"artifacts": [{"name": "source-0", "s3": {"key": "sweeps/values.json"}}]},
    }
    template["outputs"] = {"artifacts": [{"name": "result", "path": f"{OUT}/part.json"}]}
    return _workflow([task], [template])


def test_a_task_argument_key_is_read_from_the_sources_directory(tmp_path: Path, pool: StepWorkers) -> None:
    (tmp_path / "files" / "sweeps").mkdir(parents=True)
    (tmp_path / "files" / "sweeps" / "values.json").write_text("[[0.1]]")
    run = run_workflow(_reads_source(False), {}, tmp_path / "work", workers=pool, sources=tmp_path / "files")
    assert run.phase == "Succeeded", run.tasks["read"].message
    assert json.loads(run.tasks["read"].artifacts["result"].read_text())["inputs"] == {"source-0": "[[0.1]]"}


@pytest.mark.parametrize(("optional", "phase"), [(False, "Error"), (True, "Succeeded")])
def test_a_missing_key_fails_unless_optional(tmp_path: Path, pool: StepWorkers, optional: bool, phase: str) -> None:
    (tmp_path / "files").mkdir()
    run = run_workflow(_reads_source(optional), {}, tmp_path / "work", workers=pool, sources=tmp_path / "files")
    assert run.tasks["read"].phase == phase
    if not optional:
        assert "key 'sweeps/values.json' is not in the artifacts directory" in run.tasks["read"].message


@pytest.mark.parametrize("key", ["../escape.json", "a/../../b", "/abs", "a//b"])
def test_a_key_never_leaves_the_repository(tmp_path: Path, pool: StepWorkers, key: str) -> None:
    template = _toy("s", [], outputs={"artifacts": [_part(key)]})
    run = run_workflow(_workflow([{"name": "s", "template": "s"}], [template]), {}, tmp_path / "w", workers=pool)
    assert run.tasks["s"].phase == "Error" and "s3 key" in run.tasks["s"].message
    assert not (tmp_path / "escape.json").exists()


# --------------------------------------------------------------------------- memoize


def _memoized(max_age: str = "1h", key: str = "k{{inputs.parameters.shard}}") -> dict[str, Any]:
    shard = _shard_template(memoize={"key": key, "maxAge": max_age, "cache": {"configMap": {"name": "results-cache"}}})
    shard["outputs"]["artifacts"] = [_part("cache/{{inputs.parameters.shard}}.json", artifactGC={"strategy": "Never"})]
    shard["outputs"]["parameters"] = [{"name": "value", "valueFrom": {"path": f"{OUT}/value.txt"}}]
    return _workflow(
        [
            {
                "name": "execute",
                "template": "shard",
                "withParam": '["0-of-2", "1-of-2"]',
                "arguments": {"parameters": [{"name": "shard", "value": "{{item}}"}]},
            }
        ],
        [shard],
    )


def _pids(run: WorkflowRun, store: LocalStore) -> list[int]:
    return [json.loads((store.repository / "cache" / f"{s}.json").read_text())["pid"] for s in ("0-of-2", "1-of-2")]


def test_a_second_identical_run_is_a_cache_hit_and_skips_the_step(tmp_path: Path, pool: StepWorkers) -> None:
    store = LocalStore(tmp_path / "cache")
    first = run_workflow(_memoized(), {}, tmp_path / "1", workers=pool, store=store)
    assert first.phase == "Succeeded"
    assert [c.memoization for c in first.tasks["execute"].children] == [
        {"hit": False, "key": "k0-of-2", "cacheName": "results-cache"},
        {"hit": False, "key": "k1-of-2", "cacheName": "results-cache"},
    ]
    entries = json.loads((store.memo / "results-cache.json").read_text())
    assert set(entries) == {"k0-of-2", "k1-of-2"}
    entry = entries["k0-of-2"]
    assert set(entry) == {"nodeID", "outputs", "creationTimestamp", "lastHitTimestamp"}, "Argo's cache.Entry"
    assert entry["outputs"]["artifacts"] == [{"name": "part", "s3": {"key": "cache/0-of-2.json"}}]
    written = _pids(first, store)

    second = run_workflow(_memoized(), {}, tmp_path / "2", workers=pool, store=store)
    group = second.tasks["execute"]
    assert (second.phase, group.memoization) == (
        "Succeeded",
        {"hit": True, "key": "k0-of-2", "cacheName": "results-cache"},
    )
    assert [c.memoization["hit"] for c in group.children if c.memoization] == [True, True]
    assert [c.parameters["value"] for c in group.children] == ["0-of-2", "1-of-2"], "outputs from the entry"
    assert not (tmp_path / "2" / "steps" / "execute" / "0-of-2" / "stderr.log").exists(), "the step never ran"
    assert _pids(second, store) == written


def test_an_entry_older_than_max_age_is_a_miss(tmp_path: Path, pool: StepWorkers) -> None:
    store = LocalStore(tmp_path / "cache")
    run_workflow(_memoized(), {}, tmp_path / "1", workers=pool, store=store)
    path = store.memo / "results-cache.json"
    entries = json.loads(path.read_text())
    for entry in entries.values():
        entry["creationTimestamp"] = "2020-01-01T00:00:00Z"
    path.write_text(json.dumps(entries))
    run = run_workflow(_memoized(), {}, tmp_path / "2", workers=pool, store=store)
    assert [c.memoization["hit"] for c in run.tasks["execute"].children if c.memoization] == [False, False]
    assert json.loads(path.read_text())["k0-of-2"]["creationTimestamp"] != "2020-01-01T00:00:00Z", "saved again"


def test_an_entry_whose_part_is_gone_is_a_miss(tmp_path: Path, pool: StepWorkers) -> None:
    store = LocalStore(tmp_path / "cache")
    run_workflow(_memoized(), {}, tmp_path / "1", workers=pool, store=store)
    (store.repository / "cache" / "1-of-2.json").unlink()
    run = run_workflow(_memoized(), {}, tmp_path / "2", workers=pool, store=store)
    assert [c.memoization["hit"] for c in run.tasks["execute"].children if c.memoization] == [True, False]
    assert (store.repository / "cache" / "1-of-2.json").is_file()


def test_an_invalid_cache_key_is_an_error_as_in_argo(tmp_path: Path, pool: StepWorkers) -> None:
    run = run_workflow(_memoized(key="-{{inputs.parameters.shard}}"), {}, tmp_path, workers=pool)
    assert run.tasks["execute"].phase == "Error"
    assert "invalid cache key: -0-of-2" in run.tasks["execute"].children[0].message


# --------------------------------------------------------------------------- volumes, progress


def _projected(optional: bool, items: list[dict[str, str]]) -> dict[str, Any]:
    template = _toy(
        "read", ["--inputs", "/etc/src"], outputs={"artifacts": [{"name": "result", "path": f"{OUT}/part.json"}]}
    )
    template["container"]["volumeMounts"].append({"name": "circuit-source", "mountPath": "/etc/src"})
    volume = {
        "name": "circuit-source",
        "projected": {"sources": [{"configMap": {"name": "circuits", "optional": optional, "items": items}}]},
    }
    return _workflow([{"name": "read", "template": "read"}], [template], volumes=[volume])


def test_a_projected_volume_mounts_each_item_at_its_path(tmp_path: Path, pool: StepWorkers) -> None:
    items = [{"key": "bell.qasm", "path": "circuits/bell.qasm"}, {"key": "v.json", "path": "circuits/v.json"}]
    config_maps = {"circuits": {"bell.qasm": b"OPENQASM 2.0;", "v.json": b"[1]", "other": b"not mounted"}}
    run = run_workflow(_projected(True, items), {}, tmp_path, workers=pool, config_maps=config_maps)
    assert run.phase == "Succeeded", run.tasks["read"].message
    found = json.loads(run.tasks["read"].artifacts["result"].read_text())["inputs"]
    assert found == {"circuits/bell.qasm": "OPENQASM 2.0;", "circuits/v.json": "[1]"}


@pytest.mark.parametrize(("optional", "phase"), [(True, "Succeeded"), (False, "Error")])
def test_a_missing_projected_key_fails_unless_optional(
    tmp_path: Path, pool: StepWorkers, optional: bool, phase: str
) -> None:
    items = [{"key": "missing.qasm", "path": "circuits/missing.qasm"}]
    run = run_workflow(_projected(optional, items), {}, tmp_path, workers=pool, config_maps={"circuits": {}})
    assert run.tasks["read"].phase == phase
    if not optional:
        assert "ConfigMap 'circuits' has no key 'missing.qasm'" in run.tasks["read"].message


def test_a_step_gets_a_progress_file_of_its_own(tmp_path: Path, pool: StepWorkers) -> None:
    template = _toy("s", ["--progress", "3/4"])
    run = run_workflow(_workflow([{"name": "s", "template": "s"}], [template]), {}, tmp_path, workers=pool)
    assert run.tasks["s"].progress == "3/4"
    assert (tmp_path / "steps" / "s" / "progress").read_text() == "3/4"


def test_every_run_has_a_uid_of_its_own(tmp_path: Path, pool: StepWorkers) -> None:
    template = _toy(
        "s",
        ["--value", "{{workflow.uid}}"],
        outputs={"parameters": [{"name": "value", "valueFrom": {"path": f"{OUT}/value.txt"}}]},
    )
    workflow = _workflow([{"name": "s", "template": "s"}], [template])
    runs = [run_workflow(workflow, {}, tmp_path / str(i), workers=pool) for i in range(2)]
    values = [run.tasks["s"].parameters["value"] for run in runs]
    assert values == [run.uid for run in runs] and values[0] != values[1]


def test_task_runs_default_to_no_children() -> None:
    assert TaskRun("a", "t").children == [] and TaskRun("a", "t").memoization is None
