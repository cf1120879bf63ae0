"""The execute-aer step: counting, circuit preparation, shards and their parts, merged and summarized."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives.containers import BitArray

from qiskit_argo import circuits, execution, results, sharding, sweeps
from qiskit_argo.api import AerOptions, BackendStatus, Observable, ResultSummary
from qiskit_argo.errors import (
    ExecutionError,
    InvalidCircuitError,
    InvalidJobError,
    LimitExceededError,
    PermanentError,
)
from qiskit_argo.request import ExecutionRequest, PubRequest

AER = BackendStatus(name="aer", method="automatic", reason="test")


def _bits(num_bits: int, bindings: int | None, shots: int, distinct: int, seed: int) -> BitArray:
    """Random samples with repeats: ``distinct`` outcomes drawn ``shots`` times per binding."""
    rng = np.random.default_rng(seed)
    shape = (bindings,) if bindings is not None else ()
    num_bytes = (num_bits + 7) // 8
    pool = rng.integers(0, 256, size=(distinct, num_bytes), dtype=np.uint8)
    if num_bits % 8:
        pool[:, 0] &= (1 << (num_bits % 8)) - 1
    picks = rng.integers(0, distinct, size=(*shape, shots))
    return BitArray(pool[picks], num_bits)


@pytest.mark.parametrize(
    ("num_bits", "bindings", "shots", "distinct"),
    [
        (1, None, 100, 2),
        (2, 1, 1024, 4),
        (3, 7, 50, 8),
        (8, 300, 200, 200),  # histogram path
        (12, 3, 400, 300),
        (17, 4, 500, 400),  # sort path (more than 16 bits)
        (20, 2, 1000, 900),
        (33, 3, 100, 20),
        (64, 2, 100, 30),
        (65, 2, 100, 30),  # wider than one integer key
        (127, 2, 50, 10),
    ],
)
def test_counts_per_binding_equals_get_counts(num_bits: int, bindings: int | None, shots: int, distinct: int) -> None:
    bits = _bits(num_bits, bindings, shots, distinct, seed=num_bits)
    expected = [bits.get_counts()] if bindings is None else [bits.get_counts(i) for i in range(bindings)]
    assert execution.counts_per_binding(bits) == expected


def test_counts_per_binding_for_a_2d_shape() -> None:
    bits = _bits(5, None, 64, 10, seed=3)
    grid = BitArray(np.stack([bits.array] * 6).reshape(2, 3, 64, 1), 5)
    assert execution.counts_per_binding(grid) == [bits.get_counts()] * 6


# --------------------------------------------------------------------------- circuit preparation


def _custom_gate_circuit() -> QuantumCircuit:
    source = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ngate entangle a, b { h a; cx a, b; }\n'
        "gate twice a, b { entangle a, b; x b; }\nqubit[2] q;\nbit[2] c;\ntwice q[0], q[1];\nc = measure q;\n"
    )
    return circuits.parse_openqasm(source)


def test_supported_circuit_runs_as_written() -> None:
    circuit = circuits.parse_openqasm(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nu3(0.1,0.2,0.3) q[0];\ncu1(0.4) q[0],q[1];\n'
        "barrier q;\nmeasure q -> c;\n"
    )
    prepared = execution.prepare_circuit(
        circuit, execution.simulator("automatic", None), noisy=False, optimization_level=3, seed=1
    )
    assert prepared.circuit is circuit and not prepared.transpiled and prepared.layout is None


def test_custom_gates_are_unrolled_from_their_definitions() -> None:
    prepared = execution.prepare_circuit(
        _custom_gate_circuit(), execution.simulator("automatic", None), noisy=False, optimization_level=1, seed=1
    )
    assert set(prepared.circuit.count_ops()) == {"h", "cx", "x", "measure"}
    assert not prepared.transpiled


def test_stabilizer_method_transpiles_what_it_cannot_run() -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.u(np.pi / 2, 0, np.pi, 0)  # a Hadamard written as U
    circuit.measure(0, 0)
    prepared = execution.prepare_circuit(
        circuit, execution.simulator("stabilizer", None), noisy=False, optimization_level=1, seed=1
    )
    assert prepared.transpiled and "u" not in prepared.circuit.count_ops()


def test_noisy_simulation_transpiles_for_the_device_and_keeps_swept_parameters() -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.rz(theta, 0)  # removed by level 2+ (diagonal before measure) unless we fall back
    circuit.measure([0, 1], [0, 1])
    backend = execution.simulator("automatic", "FakeManilaV2")
    prepared = execution.prepare_circuit(circuit, backend, noisy=True, optimization_level=3, seed=5)
    assert prepared.transpiled and prepared.layout is not None
    assert prepared.circuit.num_qubits == 5 and [p.name for p in prepared.circuit.parameters] == ["theta"]
    assert prepared.optimization_level == 0
    with pytest.raises(InvalidCircuitError) as caught:
        execution.prepare_circuit(QuantumCircuit(7, 7), backend, noisy=True, optimization_level=1, seed=5)
    assert "spec.backend.aer.noiseModel" in str(caught.value) and "5 qubits" in str(caught.value)


@pytest.mark.parametrize(("name", "needle"), [("FakeNowhereV2", "unknown fake backend 'FakeNowhereV2'")])
def test_unknown_fake_backend(name: str, needle: str) -> None:
    with pytest.raises(InvalidJobError) as caught:
        execution.fake_backend(name)
    message = str(caught.value)
    assert caught.value.reason == "InvalidSpec" and "spec.backend.aer.noiseModel" in message and needle in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("Insufficient memory to run circuit", LimitExceededError),
        ("invalid parameters for stabilizer simulation method", InvalidCircuitError),
        ("connection reset by peer", ExecutionError),
    ],
)
def test_aer_errors_are_classified(message: str, cls: type) -> None:
    error = execution._classify(RuntimeError(message), "automatic")
    assert type(error) is cls and "\n" not in str(error)


# --------------------------------------------------------------------------- run, part, merge, summary


def _request(tmp: Path | None = None, *, rows: list[list[float]] | None = None, **fields: Any) -> ExecutionRequest:
    """A request of one PUB (circuit 0) with ``rows`` written to ``tmp/bindings``."""
    fields.setdefault("aer", AerOptions(seed=7))
    pub: dict[str, Any] = {"circuit": 0}
    for name in ("shots", "precision", "observables", "parameter_names"):
        if name in fields:
            pub[name] = fields.pop(name)
    if rows:
        assert tmp is not None
        names = sweeps.write_bindings(tmp / "bindings", [rows])
        pub.update(num_bindings=len(rows), values=names[0], values_from={"inline": True})
    return ExecutionRequest(job_name="job", pubs=[PubRequest(**pub)], **fields)


def execute(
    circuit: QuantumCircuit, request: ExecutionRequest, status: BackendStatus, tmp: Path | None = None
) -> tuple[dict[str, Any], ResultSummary]:
    """Every shard's part, merged as store-results does: the result document and its summary."""
    bindings = tmp / "bindings" if tmp is not None else None
    parts = [
        execution.execute_shard([circuit], request, bindings, shard, status)
        for shard in sharding.shard_ids(request.shards)
    ]
    document = results.merge_parts(parts, request, backend=status, bindings_dir=bindings)
    return document, results.summarize_document(document)


def _sweep_circuit(qubits: int = 1) -> QuantumCircuit:
    theta = Parameter("theta")
    circuit = QuantumCircuit(qubits, qubits)
    for q in range(qubits):
        circuit.ry(theta * (q + 1), q)
    circuit.measure(range(qubits), range(qubits))
    return circuit


def test_sweep_result_has_every_binding_and_a_bounded_summary(tmp_path: Path) -> None:
    rows = [[float(v)] for v in np.linspace(0, np.pi, 40)]
    request = _request(tmp_path, rows=rows, primitive="sampler", shots=200, parameter_names=["theta"])
    document, summary = execute(_sweep_circuit(4), request, AER, tmp_path)
    data = document["pub_results"][0]["data"]["c"]
    assert data["num_bits"] == 4 and data["num_shots"] == 200 and len(data["counts"]) == 40
    assert all(sum(counts.values()) == 200 for counts in data["counts"])
    assert data["counts"][0] == {"0000": 200}
    assert document["pubs"][0]["num_bindings"] == 40 and document["pubs"][0]["parameter_values"] == rows
    assert summary.top_counts == {"0000": 200} and summary.truncated and summary.shots == 200
    assert document["metadata"]["version"] == 3 and document["shards"] == [
        {"id": "0-of-1", "seed": 7, "slices": [[0, 0, 40]]}
    ]
    json.dumps(document, allow_nan=False)


def test_the_single_pub_document_keeps_todays_keys(tmp_path: Path) -> None:
    rows = [[0.0], [np.pi]]
    request = _request(tmp_path, rows=rows, primitive="sampler", shots=100, parameter_names=["theta"])
    document, _ = execute(_sweep_circuit(), request, AER, tmp_path)
    assert list(document["pubs"][0]) == ["parameter_names", "parameter_values", "num_bindings", "shots"]
    assert list(document["pub_results"][0]) == ["data", "metadata"]
    assert set(document["pub_results"][0]["metadata"]) == {"shots", "circuit_metadata", "simulator_metadata"}
    assert document["backend"] == {
        "name": "aer",
        "method": "automatic",
        "noise_model": None,
        "seed": 7,
        "device": "CPU",
    }


def test_summary_keeps_the_top_counts_of_the_first_binding() -> None:
    circuit = QuantumCircuit(6, 6)
    circuit.h(range(6))
    circuit.measure(range(6), range(6))
    document, summary = execute(circuit, _request(primitive="sampler", shots=500), AER)
    counts = document["pub_results"][0]["data"]["c"]["counts"][0]
    assert len(counts) > execution.TOP_COUNTS and summary.truncated
    assert summary.top_counts is not None and len(summary.top_counts) == execution.TOP_COUNTS
    assert list(summary.top_counts.values()) == sorted(counts.values(), reverse=True)[: execution.TOP_COUNTS]
    assert summary.pubs[0].top_counts == summary.top_counts and summary.num_pubs == 1


def test_summary_joins_several_registers() -> None:
    from qiskit import ClassicalRegister, QuantumRegister

    q, a, b = QuantumRegister(2, "q"), ClassicalRegister(1, "a"), ClassicalRegister(1, "b")
    circuit = QuantumCircuit(q, a, b)
    circuit.x(1)
    circuit.measure(0, a[0])
    circuit.measure(1, b[0])
    document, summary = execute(circuit, _request(primitive="sampler", shots=10), AER)
    assert document["pub_results"][0]["data"] == {
        "a": {"num_bits": 1, "num_shots": 10, "counts": [{"0": 10}]},
        "b": {"num_bits": 1, "num_shots": 10, "counts": [{"1": 10}]},
    }
    assert summary.top_counts == {"10": 10} and not summary.truncated
    assert document["metadata"]["joined_counts"] == {"0": {"10": 10}}


def test_estimator_sweep_is_bindings_by_observables_and_summary_is_bounded(tmp_path: Path) -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    rows = [[float(v)] for v in np.linspace(0, np.pi, 9)]
    observables = [Observable(paulis={"ZZ": 1.0}), Observable(paulis={"ZI": 1.0}), Observable(paulis={"XX": 0.5})]
    request = _request(
        tmp_path, rows=rows, primitive="estimator", observables=observables, parameter_names=["theta"], shards=3
    )
    document, summary = execute(circuit, request, AER, tmp_path)
    data = document["pub_results"][0]["data"]
    evs = np.array(data["evs"])
    assert evs.shape == (9, 3) and np.array(data["stds"]).shape == (9, 3)
    np.testing.assert_allclose(evs[:, 0], 1.0, atol=1e-9)
    np.testing.assert_allclose(evs[:, 1], np.cos(np.linspace(0, np.pi, 9)), atol=1e-9)
    assert summary.expectation_values is not None and len(summary.expectation_values) == 16
    assert summary.truncated and summary.shots is None
    assert summary.expectation_values[:3] == pytest.approx(list(evs[0]))
    assert [shard["slices"] for shard in document["shards"]] == [[[0, 0, 3]], [[0, 3, 6]], [[0, 6, 9]]]


def _step_files(tmp_path: Path, request: ExecutionRequest, circuit: QuantumCircuit) -> tuple[Path, Path]:
    circuit_file, request_file = tmp_path / "circuit.qpy", tmp_path / "request.json"
    circuit_file.write_bytes(circuits.circuits_to_qpy([circuit]))
    request_file.write_text(json.dumps(request.dump()))
    return circuit_file, request_file


def test_run_step_writes_the_part_and_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = _request(
        tmp_path, rows=[[0.0], [np.pi], [0.0]], primitive="sampler", shots=100, parameter_names=["theta"], shards=2
    )
    circuit_file, request_file = _step_files(tmp_path, request, _sweep_circuit())
    progress = tmp_path / "progress" / "file"
    monkeypatch.setenv("ARGO_PROGRESS_FILE", str(progress))
    path = execution.run_step(
        circuit_file, request_file, tmp_path / "bindings", json.dumps(AER.dump()), "1-of-2", tmp_path / "out"
    )
    assert path == tmp_path / "out" / "part.json"
    part = json.loads(path.read_text())
    assert part["version"] == 3 and part["shard"] == "1-of-2" and part["seed"] == sharding.shard_seed(7, 1)
    assert [(e["pub"], e["start"], e["stop"]) for e in part["pub_results"]] == [(0, 2, 3)]
    assert part["pub_results"][0]["data"]["c"]["counts"] == [{"0": 100}]
    assert set(part["pub_results"][0]) == {"pub", "start", "stop", "data", "metadata"}
    assert progress.read_text() == "1/1\n" and sorted(p.name for p in progress.parent.iterdir()) == ["file"]


@pytest.mark.parametrize(
    ("backend", "needle"),
    [
        ("{", "backend parameter"),
        ('{"name": "torino", "type": "ibm"}', "cannot run on backend 'torino' of type ibm"),
    ],
)
def test_run_step_rejects_a_bad_backend(tmp_path: Path, backend: str, needle: str) -> None:
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(_request(primitive="sampler", shots=1).dump()))
    with pytest.raises(InvalidJobError) as caught:
        execution.run_step(tmp_path / "circuit.qpy", request_file, None, backend, "0-of-1", tmp_path / "out")
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    ("shard", "needle"),
    [("2-of-4", "is a shard of 4, but the request has 2 shards"), ("one", "not a shard id like 0-of-4")],
)
def test_a_shard_that_is_not_the_requests(tmp_path: Path, shard: str, needle: str) -> None:
    request = _request(tmp_path, rows=[[0.1], [0.2]], primitive="sampler", shots=1, parameter_names=["theta"], shards=2)
    with pytest.raises(InvalidJobError) as caught:
        execution.execute_shard([_sweep_circuit()], request, tmp_path / "bindings", shard, AER)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_an_aer_backend_of_the_catalogue_runs_with_the_options_the_schedule_settled_on(tmp_path: Path) -> None:
    """target.json's ``aer`` (a QiskitBackend's defaults under the job's own) is what runs."""
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit_file, request_file = _step_files(tmp_path, _request(primitive="sampler", shots=200), circuit)
    backend = json.dumps({"name": "simulator", "type": "aer", "method": "automatic"})
    counts = []
    for seed in (11, 11, 12):
        target = json.dumps({"aer": {"method": "statevector", "seed": seed}})
        execution.run_step(circuit_file, request_file, None, backend, "0-of-1", tmp_path / f"out{seed}", target)
        part = json.loads((tmp_path / f"out{seed}" / "part.json").read_text())
        counts.append(part["pub_results"][0]["data"]["c"]["counts"])
        assert part["backend"]["seed"] == seed == part["seed"], part["backend"]
    assert counts[0] == counts[1] and counts[0] != counts[2]
    with pytest.raises(InvalidJobError, match="target parameter"):
        execution.run_step(circuit_file, request_file, None, backend, "0-of-1", tmp_path / "bad", "{")


def test_method_missing_from_this_aer_build() -> None:
    with pytest.raises(InvalidJobError) as caught:
        execution.simulator("tensor_network", None)  # GPU-only
    message = str(caught.value)
    assert "spec.backend.aer.method=tensor_network" in message and "statevector" in message and "\n" not in message


@pytest.mark.skipif("GPU" in __import__("qiskit_aer").AerSimulator().available_devices(), reason="this Aer has a GPU")
def test_a_gpu_job_without_a_gpu_fails_permanently_in_one_line() -> None:
    request = _request(primitive="sampler", shots=10, aer=AerOptions(seed=1, device="GPU"))
    with pytest.raises(PermanentError) as caught:
        execute(_wide(2), request, AER)
    error = caught.value
    assert error.reason == "GpuUnavailable" and error.permanent
    assert str(error) == (
        "spec.backend.aer.device=GPU: this executor has no GPU Qiskit Aer can use (available: CPU); run on a node "
        "with an NVIDIA GPU and the executor-gpu image, or set device: CPU"
    )
    assert not execution.gpu_available()


def test_a_gpu_job_asks_aer_for_the_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Aer reports a GPU, the simulator is built with ``device="GPU"`` (checked without one)."""
    from qiskit_aer import AerSimulator

    built: list[dict[str, Any]] = []
    monkeypatch.setattr(execution, "_available_devices", lambda: ("CPU", "GPU"))
    monkeypatch.setattr(AerSimulator, "__init__", lambda self, **options: built.append(options))
    execution.simulator("statevector", None, "GPU")
    assert built == [{"method": "statevector", "device": "GPU"}]


def test_step_failure_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A circuit the chosen method cannot run: permanent, and only the reason reaches stderr."""
    from qiskit_argo import steps

    request = _request(
        tmp_path,
        rows=[[0.3]],
        primitive="sampler",
        shots=10,
        parameter_names=["theta"],
        aer=AerOptions(seed=1, method="stabilizer"),
    )
    circuit_file, request_file = _step_files(tmp_path, request, _sweep_circuit())
    backend = BackendStatus(name="aer", method="stabilizer", reason="set in the job")
    argv = ["execute-aer", "--circuit", str(circuit_file), "--request", str(request_file)]
    argv += ["--bindings", str(tmp_path / "bindings"), "--backend", json.dumps(backend.dump()), "--target", "{}"]
    argv += ["--semaphore", "_builtin", "--shard", "0-of-1"]
    code = steps.main([*argv, "--out", str(tmp_path / "out")])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("InvalidCircuit: spec.backend.aer.method=stabilizer"), lines


# --------------------------------------------------------------------------- what Aer refuses, in our words


def test_aer_native_instructions_match_the_installed_aer() -> None:
    from qiskit_aer import AerSimulator

    installed = set(AerSimulator().configuration().basis_gates) | {"measure"}
    assert circuits.AER_NATIVE_INSTRUCTIONS == installed


def _measured(circuit: QuantumCircuit) -> QuantumCircuit:
    circuit.measure(range(circuit.num_qubits), range(circuit.num_qubits))
    return circuit


def _t_gate() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    circuit.t(0)
    return _measured(circuit)


def _wide(qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(qubits, qubits)
    circuit.h(range(qubits))
    return _measured(circuit)


#: Aer's own words that must never reach a user.
_AER_TEXT = ("Aer simulation failed", "ERROR:", "circuit-", "Required memory", "Traceback", "retrying may help")


def _assert_ours(error: Exception, cls: type[Exception], permanent: bool, *needles: str) -> None:
    assert type(error) is cls, repr(error)
    message = str(error)
    assert getattr(error, "permanent", None) is permanent and len(message) <= 300 and message.isprintable(), message
    for needle in needles:
        assert needle in message, message
    if permanent:
        assert not any(text in message for text in _AER_TEXT), message


@pytest.mark.parametrize(
    ("circuit", "method", "shots", "cls", "needles"),
    [
        (_t_gate(), "stabilizer", 10, InvalidCircuitError, ["spec.backend.aer.method=stabilizer:", "Clifford"]),
        (_wide(2), "unitary", 10, InvalidCircuitError, ["method=unitary:", "instructions measure", "automatic"]),
        (_wide(40), "statevector", 10, LimitExceededError, ["16,777,216 MiB", "spec.resources.limits.memory"]),
    ],
    ids=["stabilizer-t", "unitary-measure", "memory-estimate"],
)
def test_aer_refusals_are_permanent(
    circuit: QuantumCircuit, method: str, shots: int, cls: type, needles: list[str]
) -> None:
    request = _request(primitive="sampler", shots=shots, aer=AerOptions(seed=1, method=method))
    with pytest.raises(cls) as caught:
        execute(circuit, request, BackendStatus(name="aer", method=method, reason="test"))
    _assert_ours(caught.value, cls, True, *needles)


def test_an_allocation_failing_at_run_time_is_transient() -> None:
    """Aer raises std::bad_alloc when it cannot allocate the shots' memory: the node may have more later."""
    request = _request(primitive="sampler", shots=2**40)
    with pytest.raises(ExecutionError) as caught:
        execute(_wide(2), request, AER)
    _assert_ours(caught.value, ExecutionError, False, "retrying may help", "spec.resources.limits.memory")


def _aer_failure(circuit: QuantumCircuit) -> Exception:
    """What Aer itself raises for ``circuit`` (the executor checks these before Aer sees them)."""
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    try:
        SamplerV2.from_backend(AerSimulator(), seed=1).run([(circuit, None, 4)]).result()
    except Exception as error:  # noqa: BLE001 - the point is to collect it
        return error
    raise AssertionError("Aer ran it")


def _opaque() -> QuantumCircuit:
    from qiskit.circuit import Gate

    circuit = QuantumCircuit(1, 1)
    circuit.append(Gate("mystery", 1, []), [0])
    return _measured(circuit)


def _shift() -> QuantumCircuit:
    from qiskit import ClassicalRegister, QuantumRegister
    from qiskit.circuit.classical import expr

    register = ClassicalRegister(2, "c")
    circuit = QuantumCircuit(QuantumRegister(1), register)
    circuit.measure(0, register[0])
    with circuit.if_test(expr.equal(expr.shift_left(register, 1), 2)):
        circuit.x(0)
    return circuit


def _var() -> QuantumCircuit:
    from qiskit.circuit.classical import expr

    circuit = QuantumCircuit(1, 1)
    circuit.add_var("flag", expr.lift(True))
    return _measured(circuit)


def _stretch() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    circuit.delay(circuit.add_stretch("s"), 0)
    return _measured(circuit)


def _box() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    with circuit.box():
        circuit.h(0)
    return _measured(circuit)


@pytest.mark.parametrize(
    ("circuit", "needles"),
    [
        (_opaque(), ["Qiskit Aer has no instruction mystery", "define it"]),
        (_box(), ["Qiskit Aer has no instruction box"]),
        (_shift(), ["condition", "Qiskit Aer cannot evaluate", "=="]),
        (_var(), ["Qiskit Aer cannot run this circuit", "AttributeError"]),  # Aer's own AttributeError
        (_stretch(), ["Qiskit Aer cannot run this circuit", "TypeError"]),
    ],
    ids=["opaque", "box", "shift", "var", "stretch"],
)
def test_aer_exceptions_are_classified_in_our_words(circuit: QuantumCircuit, needles: list[str]) -> None:
    error = execution._classify(_aer_failure(circuit), "automatic")
    _assert_ours(error, InvalidCircuitError, True, "spec.", *needles)


@pytest.mark.parametrize(
    ("circuit", "needles"),
    [
        (_opaque(), ["gate mystery has no definition"]),
        (_shift(), ["operator shift_left"]),
        (_var(), ["real-time classical variables (flag)"]),
        (_stretch(), ["stretch durations (s)"]),
    ],
    ids=["opaque", "shift", "var", "stretch"],
)
def test_the_executor_refuses_what_aer_cannot_run_before_running(circuit: QuantumCircuit, needles: list[str]) -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        execute(circuit, _request(primitive="sampler", shots=4), AER)
    _assert_ours(caught.value, InvalidCircuitError, True, "spec.circuit:", *needles)


def test_a_box_runs_opened() -> None:
    document, _ = execute(_box(), _request(primitive="sampler", shots=4), AER)
    assert sum(document["pub_results"][0]["data"]["c"]["counts"][0].values()) == 4


def test_a_nested_gate_definition_is_unrolled_once_per_definition() -> None:
    """2^16 instructions behind 16 nested definitions: before, 8 rounds of decompose, then the
    transpiler on the original (30 s for 2^14); now one memoised expansion."""
    levels = 16
    gates = ["gate g0 a { h a; }"] + [f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}" for i in range(1, levels + 1)]
    source = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\n' + "\n".join(gates) + f"\nqreg q[1];\ncreg c[1];\ng{levels} q[0];\n"
    )
    started = time.perf_counter()
    prepared = execution.prepare_circuit(
        circuits.parse_openqasm(source + "measure q -> c;\n"),
        execution.simulator("automatic", None),
        noisy=False,
        optimization_level=1,
        seed=1,
    )
    assert time.perf_counter() - started < 1
    assert not prepared.transpiled and prepared.circuit.count_ops() == {"h": 2**levels, "measure": 1}


# --------------------------------------------------------------------------- the four declarations


@pytest.mark.parametrize(
    ("gpu", "cached", "name", "word"),
    [
        (False, False, "execute-aer", "aer"),
        (False, True, "execute-aer-cached", "aer_cached"),
        (True, False, "execute-aer-gpu", "aer_gpu"),
        (True, True, "execute-aer-gpu-cached", "aer_gpu_cached"),
    ],
)
def test_one_function_declares_the_four_aer_steps(gpu: bool, cached: bool, name: str, word: str) -> None:
    from qiskit_argo.steps import _execute_aer
    from qiskit_argo.steps._contract import GPU_RESOURCE, Condition, FanOut, Part, shards_parameter

    spec = _execute_aer.aer_step(gpu, cached)
    assert spec.name == name and spec.when == Condition("executor", word) and spec.function is _execute_aer.execute_aer
    assert spec.component == ("executor-gpu" if gpu else "executor")
    assert dict(spec.input_artifacts) == {"circuit": "circuit.qpy", "request": "request.json", "bindings": "bindings"}
    assert spec.input_parameters == ("backend", "target", "semaphore", "shard", *(["cache-key"] if cached else []))
    # Each variant fans out over its own list (steps._contract.shards_parameter: why).
    assert spec.fan_out == FanOut(shards_parameter(word), "shard") and spec.part == Part(cached=cached)
    assert spec.memoize is cached
    assert not spec.output_artifacts and not spec.output_parameters
    cpu = _execute_aer.aer_step(False, cached).resources
    assert (spec.resources.requests.get(GPU_RESOURCE), spec.resources.limits.get(GPU_RESOURCE)) == (
        ("1", "1") if gpu else (None, None)
    )
    assert {k: v for k, v in spec.resources.requests.items() if k != GPU_RESOURCE} == dict(cpu.requests)
    assert spec in _execute_aer.STEPS


def test_the_step_entry_point_runs_a_shard_and_store_results_merges(tmp_path: Path) -> None:
    """``qiskit-argo-step execute-aer-cached ... --shard`` then ``store-results --parts``, as the pods run them."""
    from qiskit_argo import steps

    rows = [[0.0], [np.pi], [np.pi / 2]]
    request = _request(tmp_path, rows=rows, primitive="sampler", shots=50, parameter_names=["theta"], shards=2)
    circuit_file, request_file = _step_files(tmp_path, request, _sweep_circuit())
    backend = json.dumps(AER.dump())
    for shard in ("0-of-2", "1-of-2"):
        argv = ["execute-aer-cached", "--circuit", str(circuit_file), "--request", str(request_file)]
        argv += ["--bindings", str(tmp_path / "bindings"), "--backend", backend, "--target", "{}"]
        argv += ["--semaphore", "_builtin", "--shard", shard, "--cache-key", "abc", "--out", str(tmp_path / shard)]
        assert steps.main(argv) == 0
        (tmp_path / "cached").mkdir(exist_ok=True)
        (tmp_path / shard / "part.json").rename(tmp_path / "cached" / f"{shard}.json")
    metrics = json.dumps({"numQubits": 1, "numClbits": 1, "depth": 2, "size": 2, "countOps": {}})
    argv = ["store-results", "--request", str(request_file), "--bindings", str(tmp_path / "bindings")]
    argv += ["--metrics", metrics, "--backend", backend]
    argv += ["--shards", '["0-of-2", "1-of-2"]', "--cache-key", "abc", "--parts", str(tmp_path / "absent")]
    argv += ["--cached-parts", str(tmp_path / "cached"), "--out", str(tmp_path / "out")]
    assert steps.main(argv) == 0
    result = json.loads((tmp_path / "out" / "results" / "result.json").read_text())
    counts = result["pub_results"][0]["data"]["c"]["counts"]
    assert counts[:2] == [{"0": 50}, {"1": 50}] and sum(counts[2].values()) == 50
    assert result["pubs"][0]["parameter_values"] == rows
    assert [s["id"] for s in result["shards"]] == ["0-of-2", "1-of-2"]


# --------------------------------------------------------------------------- threads


@pytest.mark.parametrize(
    ("env", "files", "expected"),
    [
        ({"QISKIT_ARGO_CPUS": "3"}, {"cpu.max": "400000 100000\n"}, 3),  # the runner's share wins
        ({}, {"cpu.max": "200000 100000\n"}, 2),  # cgroup v2: a 2-CPU limit
        ({}, {"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: rounded up
        ({}, {"cpu.max": "max 100000\n"}, None),  # no limit: Aer's own choice
        ({}, {"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # cgroup v1
        ({}, {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"QISKIT_ARGO_CPUS": "zero"}, {}, None),  # not a count: ignored
        ({"QISKIT_ARGO_CPUS": "0"}, {}, None),
        ({}, {}, None),
    ],
)
def test_aer_threads_follow_the_runner_then_the_cgroup(
    env: dict[str, str], files: dict[str, str], expected: int | None, tmp_path: Path
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert execution.aer_threads(env, cgroup=tmp_path) == expected


def test_fewer_threads_give_the_same_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Limiting Aer's threads (shards side by side, a pod's CPU limit) changes no count."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter
    from qiskit_aer.primitives import SamplerV2

    theta = Parameter("t")
    circuit = QuantumCircuit(3)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure_all()
    values = np.linspace(0, np.pi, 40).reshape(-1, 1)
    counts = []
    for threads in ("1", "2"):
        monkeypatch.setenv("QISKIT_ARGO_CPUS", threads)
        backend = execution.simulator("statevector", None)
        assert backend.options.max_parallel_threads == int(threads)
        bits = SamplerV2.from_backend(backend, seed=11).run([(circuit, values, 500)]).result()[0].data.meas
        counts.append([bits.get_counts(i) for i in range(len(values))])
    assert counts[0] == counts[1]
