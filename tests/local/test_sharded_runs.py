"""`qiskit-argo run` of sharded, cached jobs end to end: shards in parallel processes whose counts
are bare Aer's per shard, the simulator cache (a hit skips execution; never without a seed), the
run's parts collected while cached ones stay, sweeps from --artifacts and from a ConfigMap."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from qiskit_argo import local, sharding
from qiskit_argo.cli import _spare_executors, app
from qiskit_argo.local import LocalStore, StepWorkers, render, run_workflow, step_preloads
from qiskit_argo.manifests import load_job

SOURCE = """\
OPENQASM 3.0;
include "stdgates.inc";
input float[64] a;
input float[64] b;
qubit[2] q;
bit[2] c;
rx(a) q[0];
ry(b) q[1];
cx q[0], q[1];
c = measure q;
"""
ROWS = [[0.1 * i, 0.3 * i] for i in range(8)]


def _job(tmp_path: Path, name: str, *, seed: int | None = 11, values: str | None = None, shards: int = 4) -> Path:
    """A 2-parameter sweep of 8 bindings in ``shards`` shards; its rows inline, or from ``values``
    (an artifact key)."""
    sweep = f"parameterValuesFrom:\n  artifact:\n    key: {values}\n" if values else f"parameterValues: {ROWS}\n"
    aer = f"method: statevector\n    seed: {seed}" if seed is not None else "method: statevector"
    spec = (
        "circuit:\n  openqasm: |\n"
        + textwrap.indent(SOURCE, "    ")
        + sweep
        + f"shots: 100\nexecution:\n  shards: {shards}\nbackend:\n  aer:\n    {aer}\n"
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitJob\nmetadata:\n  name: {name}\nspec:\n"
        + textwrap.indent(spec, "  ")
    )
    return path


def _counts(document: dict[str, Any]) -> list[dict[str, int]]:
    counts: list[dict[str, int]] = document["pub_results"][0]["data"]["c"]["counts"]
    return counts


def _run(*args: str) -> Any:
    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 0, result.output
    return result


def test_four_shards_run_in_parallel_processes_and_count_as_bare_aer_per_shard(tmp_path: Path) -> None:
    from qiskit import qasm3
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    job, config_maps = load_job(_job(tmp_path, "sharded"))
    rendered = render(job)
    with StepWorkers.for_steps() as pool:
        run = run_workflow(
            rendered.workflow,
            rendered.cluster_templates,
            tmp_path / "work",
            config_maps=config_maps,
            workers=pool,
            store=LocalStore(tmp_path / "cache"),
            parallel=4,
        )
        executors = {name for name in pool.pids() if name.split("#")[0] == "executor"}
    assert run.phase == "Succeeded", {name: (t.phase, t.message) for name, t in run.tasks.items()}
    group = run.tasks["execute-aer-cached"]
    assert [child.name for child in group.children] == [f"execute-aer-cached({i}:{i}-of-4)" for i in range(4)]
    assert group.progress == "8/8", "each shard reports its bindings; Argo sums them"
    # A worker is added only while every other one is busy: four of them ran four shards at once.
    assert executors == {"executor", "executor#1", "executor#2", "executor#3"}

    document = json.loads((run.tasks["store-results"].artifacts["results"] / "result.json").read_text())
    counts = _counts(document)
    assert len(counts) == len(ROWS)
    circuit = qasm3.loads(SOURCE)
    for index, shard in enumerate(document["shards"]):
        assert shard["id"] == f"{index}-of-4" and shard["seed"] == sharding.shard_seed(11, index)
        ((pub, start, stop),) = shard["slices"]
        sampler = SamplerV2.from_backend(AerSimulator(method="statevector"), seed=shard["seed"])
        bare = sampler.run([(circuit, np.array(ROWS[start:stop]), 100)]).result()[0]
        assert counts[start:stop] == [bare.data.c.get_counts(i) for i in range(stop - start)], shard["id"]


def _pools(monkeypatch: pytest.MonkeyPatch) -> list[StepWorkers]:
    """The pools `qiskit-argo run` makes from now on (and the spares it asked for, beside each)."""
    made: list[StepWorkers] = []
    original = StepWorkers.for_steps

    def for_steps(cls: type[StepWorkers], spares: int = 0) -> StepWorkers:
        made.append(original(spares=spares))
        made[-1].asked = spares  # type: ignore[attr-defined]
        return made[-1]

    monkeypatch.setattr(StepWorkers, "for_steps", classmethod(for_steps))
    return made


def test_shards_run_at_once_get_their_executors_forked_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 shards, 2 at once: one spare executor is planned with the others (forked by the zygote
    where workers are forked), and no fresh interpreter is spawned for a shard."""
    pools = _pools(monkeypatch)
    _run(str(_job(tmp_path, "spares")), "--out", str(tmp_path / "out"), "--parallel", "2")
    (pool,) = pools
    assert pool.asked == 1  # type: ignore[attr-defined]
    how = "forked" if local._can_fork_workers() else "spawned"
    assert pool.starts() == [(name, how) for name in (*step_preloads(), "executor#1")]
    assert (tmp_path / "out" / "steps" / "execute-aer-cached" / "3-of-4" / "stderr.log").is_file()


def test_a_job_that_is_not_sharded_plans_no_spare(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools = _pools(monkeypatch)
    _run(str(examples / "bell.yaml"), "--out", str(tmp_path / "out"), "--parallel", "2")
    (pool,) = pools
    assert pool.asked == 0  # type: ignore[attr-defined]
    assert [name for name, _ in pool.starts()] == list(step_preloads()), "the workers of every run, no other"


@pytest.mark.parametrize(
    ("execution", "parallel", "spares"),
    [
        ("shards: 4", 2, 1),
        ("shards: 4", 8, 3),
        ("{shards: 3, cache: false}", None, min(3, os.cpu_count() or 1) - 1),
        ("shards: 1", 8, 0),
        ("shards: auto", 4, 3),
        ("shards: auto", 64, sharding.AUTO_MAX_SHARDS - 1),
        ("shards: '4'", 8, 0),  # not a job's (a string): its check fails later, not this
        ("cache: false", 8, 0),
    ],
)
def test_the_spares_come_from_a_cheap_look_at_the_job_file(
    tmp_path: Path, execution: str, parallel: int | None, spares: int
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(
        "kind: ConfigMap\ndata:\n  shards: '9'\n---\nkind: QiskitJob\nspec:\n"
        f"  parameterValues: [[1, 2]]\n  execution:\n    {execution.replace(', ', chr(10) + '    ').strip('{}')}\n"
    )
    assert _spare_executors(path, parallel) == spares
    path.write_text(f"kind: QiskitJob\nspec:\n  execution: {{{execution.strip('{}')}}}\n")
    assert _spare_executors(path, parallel) == spares, "flow style"


def test_a_file_that_cannot_say_plans_no_spare(tmp_path: Path) -> None:
    assert _spare_executors(tmp_path / "missing.yaml", 4) == 0
    broken = tmp_path / "broken.yaml"
    broken.write_bytes(b"spec: [\n  execution: {shards: 4\n\xff")
    assert _spare_executors(broken, 4) == 0
    nested = tmp_path / "nested.yaml"
    nested.write_text("spec:\n  other:\n    execution: {shards: 4}\n  list:\n  - execution: {shards: 4}\n")
    assert _spare_executors(nested, 4) == 0


def test_a_second_identical_seeded_run_is_a_cache_hit_and_skips_execution(tmp_path: Path) -> None:
    """Its sweep from --artifacts (a .npy under its key); the cache and repository in --cache-dir."""
    files = tmp_path / "files"
    (files / "sweeps").mkdir(parents=True)
    np.save(files / "sweeps" / "rows.npy", np.array(ROWS))
    job = _job(tmp_path, "cached", values="sweeps/rows.npy")
    cache = tmp_path / "cache"
    options = ["--artifacts", str(files), "--cache-dir", str(cache), "--parallel", "2"]
    first = _run(str(job), "--out", str(tmp_path / "1"), *options)
    assert "miss: simulated, and kept for an identical run" in first.stdout
    assert (tmp_path / "1" / "steps" / "execute-aer-cached" / "3-of-4" / "stderr.log").is_file()
    second = _run(str(job), "--out", str(tmp_path / "2"), *options)
    assert "hit: the result of an identical earlier run" in " ".join(second.stdout.split()).replace("│ ", "")
    assert "cached" in second.stderr, "the progress row says the shards came from the cache"
    assert not (tmp_path / "2" / "steps" / "execute-aer-cached").exists(), "no shard ran"
    results = [json.loads((tmp_path / out / "result.json").read_text()) for out in ("1", "2")]
    assert _counts(results[0]) == _counts(results[1])
    entries = json.loads((cache / "memo" / "qiskit-argo-result-cache.json").read_text())
    assert len(entries) == 4 and all(
        entry["lastHitTimestamp"] >= entry["creationTimestamp"] for entry in entries.values()
    )


def test_an_unseeded_run_never_hits_and_leaves_no_part_behind(tmp_path: Path) -> None:
    job = _job(tmp_path, "unseeded", seed=None, shards=2)
    cache = tmp_path / "cache"
    for out in ("1", "2"):
        result = _run(str(job), "--out", str(tmp_path / out), "--cache-dir", str(cache))
        assert "│ cache" not in result.stdout, "no cache row: an unseeded run is never cached"
        assert (tmp_path / out / "steps" / "execute-aer" / "1-of-2" / "stderr.log").is_file(), "it ran again"
    assert not (cache / "memo").exists()
    assert [p for p in (cache / "repository").rglob("*")] == [], "the run's parts were collected, folders too"


def test_a_run_scoped_part_is_deleted_while_cached_parts_stay(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _run(str(_job(tmp_path, "seeded", shards=2)), "--out", str(tmp_path / "s"), "--cache-dir", str(cache))
    _run(str(_job(tmp_path, "plain", seed=None, shards=2)), "--out", str(tmp_path / "p"), "--cache-dir", str(cache))
    kept = sorted(p.relative_to(cache / "repository").parts for p in (cache / "repository").rglob("*.json"))
    assert [(parts[0], parts[2]) for parts in kept] == [
        ("qiskit-argo-cache", "0-of-2.json"),
        ("qiskit-argo-cache", "1-of-2.json"),
    ]
    assert sorted(p.name for p in (cache / "repository").iterdir()) == ["qiskit-argo-cache"]


def test_a_sweep_from_a_projected_config_map(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(str(examples / "sweep-configmap.yaml"), "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
    mounted = out / "steps" / "validate" / "volumes" / "circuit-source" / "sweeps" / "rx-ry.json"
    assert json.loads(mounted.read_text())[1] == [0.5, 0.25]
    assert len(_counts(json.loads((out / "result.json").read_text()))) == 7
