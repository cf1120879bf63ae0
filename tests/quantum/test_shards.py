"""Sharded and multi-PUB runs give exactly what bare Qiskit Aer gives, shard by shard.

A shard runs all its slices (one PUB per slice of the job's bindings) in one primitive call seeded
with ``sharding.shard_seed(job seed, shard index)``, so its counts (expectation values) equal bare
Aer's ``SamplerV2(seed=shard_seed).run(pubs of that shard)`` (``EstimatorV2`` with that
``seed_simulator``). Shard 0's seed is the job's, so one shard is exactly a bare run of every PUB.
The direct tests call ``execution.execute_shard``; the end-to-end ones run the job's Workflow with
the local runner, as ``qiskit-argo run`` does, and read ``results/result.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer.primitives import EstimatorV2, SamplerV2

from qiskit_argo import execution, results, sharding, sweeps, workflows
from qiskit_argo.api import AerOptions, BackendStatus, Observable
from qiskit_argo.local import run_workflow
from qiskit_argo.manifests import parse_job
from qiskit_argo.request import ExecutionRequest, PubRequest

AER = BackendStatus(name="aer", method="automatic", reason="test")
SEED = 2024


# --------------------------------------------------------------------------- direct: one shard at a time


def _circuits(measure: bool) -> list[QuantumCircuit]:
    a, b = Parameter("a"), Parameter("b")
    first = QuantumCircuit(3, 3 if measure else 0)
    first.ry(a, 0)
    first.rx(b, 1)
    first.cx(0, 2)
    first.rz(a, 2)
    first.h(2)
    second = QuantumCircuit(2, 2 if measure else 0)
    second.h(0)
    second.cx(0, 1)
    theta = Parameter("theta")
    third = QuantumCircuit(1, 1 if measure else 0)
    third.ry(theta, 0)
    if measure:
        for circuit in (first, second, third):
            circuit.measure(range(circuit.num_qubits), range(circuit.num_qubits))
    return [first, second, third]


ROWS = [
    np.array([[math.sin(0.1 * i) * math.pi, math.cos(0.07 * i)] for i in range(23)]),
    None,
    np.linspace(0, math.pi, 9).reshape(9, 1),
]
NAMES = [["a", "b"], [], ["theta"]]
OBSERVABLES = [[{"ZZI": 1.0}, {"XIX": 0.5, "IZI": -1.0}], [{"ZZ": 1.0}, {"XX": 1.0}], [{"Z": 1.0}]]


def _request(primitive: str, shards: int, bindings: Path) -> ExecutionRequest:
    files = sweeps.write_bindings(bindings, ROWS)
    pubs = []
    for i, rows in enumerate(ROWS):
        pub: dict[str, Any] = {"circuit": i, "parameter_names": NAMES[i]}
        if rows is not None:
            pub.update(num_bindings=len(rows), values=files[i], values_from={"inline": True})
        if primitive == "sampler":
            pub["shots"] = [100, 300, 64][i]
        else:
            pub.update(precision=0.02, observables=[Observable(paulis=o) for o in OBSERVABLES[i]])
        pubs.append(PubRequest(**pub))
    return ExecutionRequest(job_name="shards", primitive=primitive, pubs=pubs, shards=shards, aer=AerOptions(seed=SEED))


def _bare_sampler(circuits: list[QuantumCircuit], slices: list[list[int]], request: ExecutionRequest, seed: int) -> Any:
    pubs = []
    for pub, start, stop in slices:
        rows = ROWS[pub]
        pubs.append((circuits[pub], None if rows is None else rows[start:stop], request.pubs[pub].shots))
    return SamplerV2(seed=seed).run(pubs).result()


def _bare_estimator(
    circuits: list[QuantumCircuit], slices: list[list[int]], request: ExecutionRequest, seed: int
) -> Any:
    pubs = []
    for pub, start, stop in slices:
        rows = ROWS[pub]
        observables = [SparsePauliOp.from_list(list(o.items())) for o in OBSERVABLES[pub]]
        values = None if rows is None else rows[start:stop].reshape(stop - start, 1, -1)
        pubs.append((circuits[pub], observables, values, 0.02))
    return EstimatorV2(options={"run_options": {"seed_simulator": seed}}).run(pubs).result()


@pytest.mark.parametrize("shards", [1, 4, 7])
def test_each_sampler_shard_equals_bare_aer_of_its_pubs(shards: int, tmp_path: Path) -> None:
    circuits = _circuits(measure=True)
    request = _request("sampler", shards, tmp_path / "bindings")
    parts = []
    for index, shard in enumerate(sharding.shard_ids(shards)):
        part = execution.execute_shard(circuits, request, tmp_path / "bindings", shard, AER)
        seed = sharding.shard_seed(SEED, index)
        assert part["seed"] == seed and (index > 0 or seed == SEED)
        slices = [[e["pub"], e["start"], e["stop"]] for e in part["pub_results"]]
        assert slices == [list(s) for s in sharding.plan(request.bindings_per_pub, shards)[index]]
        assert seed is not None
        bare = _bare_sampler(circuits, slices, request, seed)
        for entry, expected in zip(part["pub_results"], bare, strict=True):
            size = entry["stop"] - entry["start"]
            counts = [expected.data.c.get_counts(i) for i in range(size)] if ROWS[entry["pub"]] is not None else None
            assert entry["data"]["c"]["counts"] == (counts or [expected.data.c.get_counts()])
        parts.append(part)
    document = results.merge_parts(parts, request, backend=AER, bindings_dir=tmp_path / "bindings")
    assert document["pubs"][2]["parameter_values"] == ROWS[2].tolist() and document["pubs"][1]["parameter_values"] == []
    assert [pub["num_bindings"] for pub in document["pubs"]] == [23, 1, 9]
    assert [len(r["data"]["c"]["counts"]) for r in document["pub_results"]] == [23, 1, 9]
    assert [r["data"]["c"]["num_shots"] for r in document["pub_results"]] == [100, 300, 64]
    assert [s["seed"] for s in document["shards"]] == [sharding.shard_seed(SEED, i) for i in range(shards)]


@pytest.mark.parametrize("shards", [1, 5])
def test_each_estimator_shard_equals_bare_aer_of_its_pubs(shards: int, tmp_path: Path) -> None:
    circuits = _circuits(measure=False)
    request = _request("estimator", shards, tmp_path / "bindings")
    parts = []
    for index, shard in enumerate(sharding.shard_ids(shards)):
        part = execution.execute_shard(circuits, request, tmp_path / "bindings", shard, AER)
        seed = sharding.shard_seed(SEED, index)
        assert seed is not None
        slices = [[e["pub"], e["start"], e["stop"]] for e in part["pub_results"]]
        bare = _bare_estimator(circuits, slices, request, seed)
        for entry, expected in zip(part["pub_results"], bare, strict=True):
            size = entry["stop"] - entry["start"]
            assert entry["data"]["evs"] == np.asarray(expected.data.evs).reshape(size, -1).tolist()
            assert entry["data"]["stds"] == np.asarray(expected.data.stds).reshape(size, -1).tolist()
        parts.append(part)
    document = results.merge_parts(parts, request)
    assert [np.shape(r["data"]["evs"]) for r in document["pub_results"]] == [(23, 2), (1, 2), (9, 1)]
    # Exact where the circuit says so, whatever the shard: <ZZ> of a Bell pair is 1 up to the precision.
    assert document["pub_results"][1]["data"]["evs"][0][0] == pytest.approx(1.0, abs=0.1)


def test_a_sharded_run_is_reproducible_and_shards_differ(tmp_path: Path) -> None:
    circuits = _circuits(measure=True)
    request = _request("sampler", 3, tmp_path / "bindings")
    first = [execution.execute_shard(circuits, request, tmp_path / "bindings", s, AER) for s in sharding.shard_ids(3)]
    again = [execution.execute_shard(circuits, request, tmp_path / "bindings", s, AER) for s in sharding.shard_ids(3)]
    assert [p["pub_results"][0]["data"] for p in first] == [p["pub_results"][0]["data"] for p in again]
    assert len({p["seed"] for p in first}) == 3


# --------------------------------------------------------------------------- end to end, with the local runner


def run_job(job: dict[str, Any], tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the job's Workflow with the local runner; ``result.json`` and the summary."""
    workflow = workflows.build(parse_job(job))
    template = workflows.cluster_workflow_template()
    run = run_workflow(workflow, {template["metadata"]["name"]: template}, tmp)
    assert run.phase == "Succeeded", run.message
    folder = run.tasks["store-results"].artifacts["results"]
    return json.loads((folder / "result.json").read_text()), json.loads(
        run.tasks["store-results"].parameters["summary"]
    )


SWEEP = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] a;\ninput float[64] b;\nqubit[3] q;\nbit[3] c;\n'
    "ry(a) q[0];\nrx(b) q[1];\ncx q[0], q[2];\nrz(a) q[2];\nh q[2];\nc = measure q;\n"
)
BELL = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n'
ANGLE = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] phi;\nqubit[1] q;\nbit[1] c;\nry(phi) q[0];\n'
    "c = measure q;\n"
)


def _pubs_job(shards: int) -> dict[str, Any]:
    sweep = [[math.sin(0.1 * i) * math.pi, math.cos(0.07 * i)] for i in range(30)]
    angles = [[0.2 * i] for i in range(6)]
    return {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitJob",
        "metadata": {"name": f"pubs-{shards}"},
        "spec": {
            "primitive": "sampler",
            "shots": 200,
            "pubs": [
                {"circuit": {"openqasm": SWEEP}, "parameterValues": sweep, "shots": 50},
                {"circuit": {"openqasm": BELL}},
                {"circuit": {"openqasm": ANGLE}, "parameterValues": angles, "shots": 120},
            ],
            "execution": {"shards": shards},
            "backend": {"aer": {"seed": SEED}},
        },
    }


@pytest.mark.parametrize("shards", [1, 4])
def test_a_job_of_several_pubs_in_shards_equals_bare_aer_shard_by_shard(shards: int, tmp_path: Path) -> None:
    job = _pubs_job(shards)
    result, summary = run_job(job, tmp_path)
    spec_pubs = job["spec"]["pubs"]
    circuits = [qasm3.loads(pub["circuit"]["openqasm"]) for pub in spec_pubs]
    rows = [np.asarray(pub["parameterValues"], dtype=float) if "parameterValues" in pub else None for pub in spec_pubs]
    shots = [50, 200, 120]  # a PUB's own, else the job's

    # PUB order, every binding, what ran.
    assert [pub["num_bindings"] for pub in result["pubs"]] == [30, 1, 6]
    assert [pub["shots"] for pub in result["pubs"]] == shots
    assert result["pubs"][0]["parameter_values"] == spec_pubs[0]["parameterValues"]
    assert result["pubs"][1]["parameter_values"] == []
    assert [len(r["data"]["c"]["counts"]) for r in result["pub_results"]] == [30, 1, 6]
    assert [s["id"] for s in result["shards"]] == sharding.shard_ids(shards)
    assert result["metadata"]["version"] == 3

    # Each shard is bare Aer's run of its slices with the shard's seed.
    for index, shard in enumerate(result["shards"]):
        assert shard["seed"] == sharding.shard_seed(SEED, index)
        pubs = [
            (circuits[pub], None if rows[pub] is None else rows[pub][start:stop], shots[pub])
            for pub, start, stop in shard["slices"]
        ]
        bare = SamplerV2(seed=shard["seed"]).run(pubs).result()
        for (pub, start, stop), expected in zip(shard["slices"], bare, strict=True):
            got = result["pub_results"][pub]["data"]["c"]["counts"][start:stop]
            want = [expected.data.c.get_counts(i) for i in range(stop - start)] if rows[pub] is not None else None
            assert got == (want or [expected.data.c.get_counts()])
    if shards == 1:  # one shard: exactly one bare run of every PUB with the job's seed
        bare = SamplerV2(seed=SEED).run([(c, r, s) for c, r, s in zip(circuits, rows, shots, strict=True)]).result()
        assert result["pub_results"][1]["data"]["c"]["counts"] == [bare[1].data.c.get_counts()]

    # The summary: PUB 0 on top, one digest per PUB.
    assert summary["numPubs"] == 3 and summary["numBindings"] == 37
    assert [pub["index"] for pub in summary["pubs"]] == [0, 1, 2]
    assert summary["pubs"][1]["topCounts"] == result["pub_results"][1]["data"]["c"]["counts"][0]
    assert set(summary["pubs"][1]["topCounts"]) == {"00", "11"}


def test_an_estimator_job_of_several_pubs_in_shards(tmp_path: Path) -> None:
    ansatz = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[2] q;\nry(theta) q[0];\ncx q[0], q[1];\n'
    )
    plus = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nh q[0];\n'
    values = [[0.3 * i] for i in range(10)]
    job = {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitJob",
        "metadata": {"name": "est-pubs"},
        "spec": {
            "primitive": "estimator",
            "precision": 0.01,
            "pubs": [
                {"circuit": {"openqasm": ansatz}, "parameterValues": values, "observables": [{"ZZ": 1}, {"XX": 1}]},
                {"circuit": {"openqasm": plus}, "observables": [{"X": 1}], "precision": 0.05},
            ],
            "execution": {"shards": 3},
            "backend": {"aer": {"seed": 7}},
        },
    }
    result, summary = run_job(job, tmp_path)
    circuits = [qasm3.loads(ansatz), qasm3.loads(plus)]
    rows = [np.asarray(values, dtype=float), None]
    observables = [[SparsePauliOp("ZZ"), SparsePauliOp("XX")], [SparsePauliOp("X")]]
    precisions = [0.01, 0.05]
    assert [pub["precision"] for pub in result["pubs"]] == precisions
    for shard in result["shards"]:
        pubs = []
        for pub, start, stop in shard["slices"]:
            value = None if rows[pub] is None else rows[pub][start:stop].reshape(stop - start, 1, -1)
            pubs.append((circuits[pub], observables[pub], value, precisions[pub]))
        bare = EstimatorV2(options={"run_options": {"seed_simulator": shard["seed"]}}).run(pubs).result()
        for (pub, start, stop), expected in zip(shard["slices"], bare, strict=True):
            got = result["pub_results"][pub]["data"]["evs"][start:stop]
            assert got == np.asarray(expected.data.evs).reshape(stop - start, -1).tolist()
    assert summary["numPubs"] == 2 and summary["pubs"][1]["expectationValues"][0] == pytest.approx(1.0, abs=0.25)
