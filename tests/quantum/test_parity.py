"""Parity: the four steps give exactly what a bare Qiskit Aer script gives for the same circuit.

Each case renders the job's Workflow and runs its DAG (validate → schedule → execute-aer →
store-results) with the local runner — what ``qiskit-argo run`` does, through the entry point the
pods run — then runs
the bare script a researcher would write with the same circuit, shots, seed and method, and
compares every count (or expectation value) for equality. It also checks what a user receives:
``results/histogram.png`` is a PNG, ``result.json`` holds every binding (one PUB run in one shard
with the job's seed), ``summary.json`` is bounded. ``test_shards.py`` does the same for several
PUBs and shards.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from qiskit import QuantumCircuit, qasm3
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2, SamplerV2

from qiskit_argo import workflows
from qiskit_argo.execution import MAX_SUMMARY_VALUES, TOP_COUNTS
from qiskit_argo.local import run_workflow
from qiskit_argo.manifests import parse_job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- running the steps


@dataclass
class Outputs:
    result: dict[str, Any]
    summary: dict[str, Any]
    backend: dict[str, Any]
    results_dir: Path
    tasks: dict[str, Any]


def _load_example(name: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    documents = [d for d in yaml.safe_load_all((EXAMPLES / f"{name}.yaml").read_text()) if d]
    jobs = [d for d in documents if d["kind"] == "QiskitJob"]
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in documents if d["kind"] == "ConfigMap"}
    assert len(jobs) == 1
    return jobs[0], config_maps


def run_steps(job: dict[str, Any], tmp: Path, config_maps: dict[str, dict[str, str]] | None = None) -> Outputs:
    """Render the job's Workflow and run its DAG with the local runner, as ``qiskit-argo run`` does."""
    workflow = workflows.build(parse_job(job))
    template = workflows.cluster_workflow_template()
    files = {name: {key: value.encode() for key, value in data.items()} for name, data in (config_maps or {}).items()}
    run = run_workflow(workflow, {template["metadata"]["name"]: template}, tmp, config_maps=files)
    assert run.phase == "Succeeded", run.message
    tasks = run.tasks
    results_dir = tasks["store-results"].artifacts["results"]
    return Outputs(
        result=json.loads((results_dir / "result.json").read_text()),
        summary=json.loads(tasks["store-results"].parameters["summary"]),
        backend=json.loads(tasks["schedule"].parameters["backend"]),
        results_dir=results_dir,
        tasks=tasks,
    )


# --------------------------------------------------------------------------- the bare scripts


def bare_counts(
    circuit: QuantumCircuit,
    *,
    shots: int,
    seed: int,
    method: str = "automatic",
    values: list[list[float]] | None = None,
    register: str = "c",
) -> list[dict[str, int]]:
    sampler = SamplerV2(seed=seed, options={"backend_options": {"method": method}})
    data = sampler.run([(circuit, values, shots)]).result()[0].data
    bits = getattr(data, register)
    return [bits.get_counts(i) for i in range(len(values))] if values else [bits.get_counts()]


def bare_evs(
    circuit: QuantumCircuit,
    observables: list[SparsePauliOp],
    *,
    seed: int,
    precision: float,
    values: list[list[float]] | None = None,
) -> list[list[float]]:
    estimator = EstimatorV2(options={"run_options": {"seed_simulator": seed}})
    if values is None:
        return [estimator.run([(circuit, observables, None, precision)]).result()[0].data.evs.tolist()]
    import numpy as np

    array = np.asarray(values, dtype=float).reshape(len(values), 1, -1)
    return estimator.run([(circuit, observables, array, precision)]).result()[0].data.evs.tolist()


def _observables(spec: dict[str, Any]) -> list[SparsePauliOp]:
    ops = []
    for terms in spec["observables"]:
        ops.append(SparsePauliOp.from_list(list(terms.items())))
    return ops


# --------------------------------------------------------------------------- what a user receives


def _counts(outputs: Outputs, register: str = "c") -> list[dict[str, int]]:
    return outputs.result["pub_results"][0]["data"][register]["counts"]


def summary_pubs(summary: dict[str, Any]) -> list[dict[str, Any]]:
    pubs: list[dict[str, Any]] = summary["pubs"]
    return pubs


def _assert_delivered(outputs: Outputs, bindings: int) -> None:
    folder = outputs.results_dir
    assert (folder / "histogram.png").read_bytes().startswith(PNG)
    assert json.loads((folder / "metrics.json").read_text())["summary"] == outputs.summary
    assert outputs.result["pubs"][0]["num_bindings"] == bindings
    assert outputs.result["metadata"]["version"] == 3
    seed = outputs.result["backend"]["seed"]
    assert outputs.result["shards"] == [{"id": "0-of-1", "seed": seed, "slices": [[0, 0, bindings]]}]
    assert [pub["index"] for pub in summary_pubs(outputs.summary)] == [0]
    data = outputs.result["pub_results"][0]["data"]
    summary = outputs.summary
    if outputs.result["primitive"] == "sampler":
        for register in data.values():
            assert len(register["counts"]) == bindings
            assert all(sum(c.values()) == register["num_shots"] for c in register["counts"])
        assert 0 < len(summary["topCounts"]) <= TOP_COUNTS
        first = next(iter(data.values()))["counts"][0]
        assert summary["truncated"] == (len(first) > TOP_COUNTS or bindings > 1)
    else:
        assert len(data["evs"]) == len(data["stds"]) == bindings
        total = sum(len(row) for row in data["evs"])
        assert len(summary["expectationValues"]) == min(total, MAX_SUMMARY_VALUES)
        assert summary["truncated"] == (total > MAX_SUMMARY_VALUES)


# --------------------------------------------------------------------------- the examples


@pytest.mark.parametrize("name", ["bell", "ghz", "configmap"])
def test_openqasm2_examples(name: str, tmp_path: Path) -> None:
    job, config_maps = _load_example(name)
    spec = job["spec"]
    ref = spec["circuit"].get("configMapKeyRef")
    source = config_maps[ref["name"]][ref["key"]] if ref else spec["circuit"]["openqasm"]
    outputs = run_steps(job, tmp_path, config_maps)
    expected = bare_counts(
        QuantumCircuit.from_qasm_str(source), shots=spec["shots"], seed=spec["backend"]["aer"]["seed"]
    )
    assert _counts(outputs) == expected
    _assert_delivered(outputs, 1)


def test_openqasm3_example(tmp_path: Path) -> None:
    from qiskit.transpiler import generate_preset_pass_manager

    job, _ = _load_example("qasm3")
    spec = job["spec"]
    seed = spec["backend"]["aer"]["seed"]
    outputs = run_steps(job, tmp_path)
    # The circuit defines its own gate, which Aer cannot run as is: a researcher transpiles it.
    manager = generate_preset_pass_manager(
        optimization_level=spec.get("optimizationLevel", 1), backend=AerSimulator(), seed_transpiler=seed
    )
    circuit = manager.run(qasm3.loads(spec["circuit"]["openqasm"]))
    assert _counts(outputs) == bare_counts(circuit, shots=spec["shots"], seed=seed)
    _assert_delivered(outputs, 1)


def test_sweep_example(tmp_path: Path) -> None:
    job, _ = _load_example("sweep")
    spec = job["spec"]
    circuit = qasm3.loads(spec["circuit"]["openqasm"])
    values = spec["parameterValues"]
    outputs = run_steps(job, tmp_path)
    expected = bare_counts(circuit, shots=spec["shots"], seed=spec["backend"]["aer"]["seed"], values=values)
    assert _counts(outputs) == expected
    assert expected[0] == {"0": spec["shots"]} and expected[-1] == {"1": spec["shots"]}
    _assert_delivered(outputs, len(values))


def test_estimator_example(tmp_path: Path) -> None:
    job, _ = _load_example("estimator")
    spec = job["spec"]
    outputs = run_steps(job, tmp_path)
    expected = bare_evs(
        qasm3.loads(spec["circuit"]["openqasm"]),
        _observables(spec),
        seed=spec["backend"]["aer"]["seed"],
        precision=spec["precision"],
    )
    data = outputs.result["pub_results"][0]["data"]
    assert data["evs"] == expected
    assert data["stds"] == [[spec["precision"]] * len(spec["observables"])]
    assert expected[0] == pytest.approx([1.0, 1.0, 0.5], abs=5 * spec["precision"])
    _assert_delivered(outputs, 1)


def test_noisy_example(tmp_path: Path) -> None:
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    job, _ = _load_example("noisy")
    spec = job["spec"]
    seed = spec["backend"]["aer"]["seed"]
    outputs = run_steps(job, tmp_path)
    simulator = AerSimulator.from_backend(FakeManilaV2())
    manager = generate_preset_pass_manager(
        optimization_level=spec["optimizationLevel"], backend=simulator, seed_transpiler=seed
    )
    isa = manager.run(QuantumCircuit.from_qasm_str(spec["circuit"]["openqasm"]))
    sampler = SamplerV2.from_backend(simulator, seed=seed)
    expected = sampler.run([(isa, None, spec["shots"])]).result()[0].data.c.get_counts()
    assert _counts(outputs) == [expected]
    assert len(expected) > 2  # the noise is really there
    assert "FakeManilaV2" in outputs.backend["reason"]
    _assert_delivered(outputs, 1)


# --------------------------------------------------------------------------- beyond the examples


def _job(name: str, source: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitJob",
        "metadata": {"name": name},
        "spec": {"circuit": {"openqasm": source}, **spec},
    }


def test_thousand_binding_sweep(tmp_path: Path) -> None:
    source = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] a;\ninput float[64] b;\nqubit[3] q;\nbit[3] c;\n'
        "ry(a) q[0];\nry(b) q[1];\ncx q[0], q[2];\nrz(a) q[2];\nh q[2];\nc = measure q;\n"
    )
    values = [[math.sin(0.01 * i) * math.pi, math.cos(0.013 * i) * math.pi] for i in range(1000)]
    job = _job("sweep1000", source, shots=64, parameterValues=values, backend={"aer": {"seed": 99}})
    outputs = run_steps(job, tmp_path)
    assert _counts(outputs) == bare_counts(qasm3.loads(source), shots=64, seed=99, values=values)
    _assert_delivered(outputs, 1000)


def test_twenty_qubit_circuit(tmp_path: Path) -> None:
    lines = ['OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[20] q;\nbit[20] c;']
    for layer in range(2):
        lines += [f"h q[{i}];\nrz({0.1 * (layer + 1) + 0.01 * i}) q[{i}];" for i in range(20)]
        lines += [f"cx q[{i}], q[{i + 1}];" for i in range(layer % 2, 19, 2)]
        lines += [f"t q[{i}];" for i in range(0, 20, 3)]
    source = "\n".join([*lines, "c = measure q;\n"])
    job = _job("wide", source, shots=500, backend={"aer": {"seed": 17, "method": "statevector"}})
    outputs = run_steps(job, tmp_path)
    expected = bare_counts(qasm3.loads(source), shots=500, seed=17, method="statevector")
    assert _counts(outputs) == expected and len(expected[0]) > TOP_COUNTS
    reason = outputs.backend["reason"]
    assert outputs.backend == {"name": "aer", "method": "statevector", "reason": reason, "rejected": []}
    _assert_delivered(outputs, 1)


def test_estimator_sweep(tmp_path: Path) -> None:
    source = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[2] q;\nry(theta) q[0];\ncx q[0], q[1];\n'
    )
    values = [[0.3 * i] for i in range(7)]
    observables = [{"ZZ": 1}, {"ZI": 1}, {"XX": 1}, {"IZ": 0.5, "XX": -0.5}]
    job = _job(
        "est-sweep",
        source,
        primitive="estimator",
        observables=observables,
        precision=0.02,
        parameterValues=values,
        backend={"aer": {"seed": 4}},
    )
    outputs = run_steps(job, tmp_path)
    expected = bare_evs(qasm3.loads(source), _observables(job["spec"]), seed=4, precision=0.02, values=values)
    assert outputs.result["pub_results"][0]["data"]["evs"] == expected
    _assert_delivered(outputs, len(values))
