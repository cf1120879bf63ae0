"""The execute-aer step: counting, circuit preparation, the result document and its summary."""

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

from qiskit_argo import circuits, execution
from qiskit_argo.api import AerOptions, BackendStatus, Observable, ResultSummary
from qiskit_argo.errors import ExecutionError, InvalidCircuitError, InvalidJobError, LimitExceededError
from qiskit_argo.request import ExecutionRequest

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


# --------------------------------------------------------------------------- run, document, summary


def _request(**fields: Any) -> ExecutionRequest:
    fields.setdefault("aer", AerOptions(seed=7))
    return ExecutionRequest(job_name="job", **fields)


def _sweep_circuit(qubits: int = 1) -> QuantumCircuit:
    theta = Parameter("theta")
    circuit = QuantumCircuit(qubits, qubits)
    for q in range(qubits):
        circuit.ry(theta * (q + 1), q)
    circuit.measure(range(qubits), range(qubits))
    return circuit


def test_sweep_result_has_every_binding_and_a_bounded_summary() -> None:
    rows = [[float(v)] for v in np.linspace(0, np.pi, 40)]
    request = _request(primitive="sampler", shots=200, parameter_names=["theta"], parameter_values=rows)
    document, summary = execution.execute(_sweep_circuit(4), request, AER)
    data = document["pub_results"][0]["data"]["c"]
    assert data["num_bits"] == 4 and data["num_shots"] == 200 and len(data["counts"]) == 40
    assert all(sum(counts.values()) == 200 for counts in data["counts"])
    assert data["counts"][0] == {"0000": 200}
    assert document["pubs"][0]["num_bindings"] == 40 and document["pubs"][0]["parameter_values"] == rows
    assert summary.top_counts == {"0000": 200} and summary.truncated and summary.shots == 200
    json.dumps(document, allow_nan=False)


def test_summary_keeps_the_top_counts_of_the_first_binding() -> None:
    circuit = QuantumCircuit(6, 6)
    circuit.h(range(6))
    circuit.measure(range(6), range(6))
    document, summary = execution.execute(circuit, _request(primitive="sampler", shots=500), AER)
    counts = document["pub_results"][0]["data"]["c"]["counts"][0]
    assert len(counts) > execution.TOP_COUNTS and summary.truncated
    assert summary.top_counts is not None and len(summary.top_counts) == execution.TOP_COUNTS
    assert list(summary.top_counts.values()) == sorted(counts.values(), reverse=True)[: execution.TOP_COUNTS]


def test_summary_joins_several_registers() -> None:
    from qiskit import ClassicalRegister, QuantumRegister

    q, a, b = QuantumRegister(2, "q"), ClassicalRegister(1, "a"), ClassicalRegister(1, "b")
    circuit = QuantumCircuit(q, a, b)
    circuit.x(1)
    circuit.measure(0, a[0])
    circuit.measure(1, b[0])
    document, summary = execution.execute(circuit, _request(primitive="sampler", shots=10), AER)
    assert document["pub_results"][0]["data"] == {
        "a": {"num_bits": 1, "num_shots": 10, "counts": [{"0": 10}]},
        "b": {"num_bits": 1, "num_shots": 10, "counts": [{"1": 10}]},
    }
    assert summary.top_counts == {"10": 10} and not summary.truncated


def test_estimator_sweep_is_bindings_by_observables_and_summary_is_bounded() -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    rows = [[float(v)] for v in np.linspace(0, np.pi, 9)]
    observables = [Observable(paulis={"ZZ": 1.0}), Observable(paulis={"ZI": 1.0}), Observable(paulis={"XX": 0.5})]
    request = _request(primitive="estimator", observables=observables, parameter_names=["theta"], parameter_values=rows)
    document, summary = execution.execute(circuit, request, AER)
    data = document["pub_results"][0]["data"]
    evs = np.array(data["evs"])
    assert evs.shape == (9, 3) and np.array(data["stds"]).shape == (9, 3)
    np.testing.assert_allclose(evs[:, 0], 1.0, atol=1e-9)
    np.testing.assert_allclose(evs[:, 1], np.cos(np.linspace(0, np.pi, 9)), atol=1e-9)
    assert summary.expectation_values is not None and len(summary.expectation_values) == 16
    assert summary.truncated and summary.shots is None
    assert summary.expectation_values[:3] == pytest.approx(list(evs[0]))


def test_run_step_writes_result_and_summary(tmp_path: Path) -> None:
    circuit_file, request_file = tmp_path / "circuit.qpy", tmp_path / "request.json"
    circuit_file.write_bytes(circuits.circuit_to_qpy(_sweep_circuit()))
    request = _request(primitive="sampler", shots=100, parameter_names=["theta"], parameter_values=[[0.0], [np.pi]])
    request_file.write_text(json.dumps(request.dump()))
    execution.run_step(circuit_file, request_file, json.dumps(AER.dump()), tmp_path / "out")
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["pub_results"][0]["data"]["c"]["counts"] == [{"0": 100}, {"1": 100}]
    summary = ResultSummary.model_validate_json((tmp_path / "out" / "summary.json").read_text())
    assert summary.top_counts == {"0": 100} and summary.truncated


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
        execution.run_step(tmp_path / "circuit.qpy", request_file, backend, tmp_path / "out")
    assert needle in str(caught.value)


def test_an_aer_backend_of_the_catalogue_runs_with_the_options_the_schedule_settled_on(tmp_path: Path) -> None:
    """target.json's ``aer`` (a QiskitBackend's defaults under the job's own) is what runs."""
    from qiskit import QuantumCircuit, qpy

    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit_file = tmp_path / "circuit.qpy"
    with circuit_file.open("wb") as handle:
        qpy.dump(circuit, handle)
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(_request(primitive="sampler", shots=200).dump()))
    backend = json.dumps({"name": "simulator", "type": "aer", "method": "automatic"})
    counts = []
    for seed in (11, 11, 12):
        target = json.dumps({"aer": {"method": "statevector", "seed": seed}})
        execution.run_step(circuit_file, request_file, backend, tmp_path / f"out{seed}", target)
        result = json.loads((tmp_path / f"out{seed}" / "result.json").read_text())
        counts.append(result["pub_results"][0]["data"]["c"]["counts"])
        assert result["backend"]["seed"] == seed, result["backend"]
    assert counts[0] == counts[1] and counts[0] != counts[2]
    with pytest.raises(InvalidJobError, match="target parameter"):
        execution.run_step(circuit_file, request_file, backend, tmp_path / "bad", "{")


def test_method_missing_from_this_aer_build() -> None:
    with pytest.raises(InvalidJobError) as caught:
        execution.simulator("tensor_network", None)  # GPU-only
    message = str(caught.value)
    assert "spec.backend.aer.method=tensor_network" in message and "statevector" in message and "\n" not in message


def test_step_failure_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A circuit the chosen method cannot run: permanent, and only the reason reaches stderr."""
    from qiskit_argo import steps

    circuit_file, request_file = tmp_path / "circuit.qpy", tmp_path / "request.json"
    circuit_file.write_bytes(circuits.circuit_to_qpy(_sweep_circuit()))
    request = _request(
        primitive="sampler",
        shots=10,
        parameter_names=["theta"],
        parameter_values=[[0.3]],
        aer=AerOptions(seed=1, method="stabilizer"),
    )
    request_file.write_text(json.dumps(request.dump()))
    backend = BackendStatus(name="aer", method="stabilizer", reason="set in the job")
    argv = ["execute-aer", "--circuit", str(circuit_file), "--request", str(request_file)]
    argv += ["--backend", json.dumps(backend.dump()), "--target", "{}", "--semaphore", "_builtin"]
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
        execution.execute(circuit, request, BackendStatus(name="aer", method=method, reason="test"))
    _assert_ours(caught.value, cls, True, *needles)


def test_an_allocation_failing_at_run_time_is_transient() -> None:
    """Aer raises std::bad_alloc when it cannot allocate the shots' memory: the node may have more later."""
    request = _request(primitive="sampler", shots=2**40)
    with pytest.raises(ExecutionError) as caught:
        execution.execute(_wide(2), request, AER)
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
        execution.execute(circuit, _request(primitive="sampler", shots=4), AER)
    _assert_ours(caught.value, InvalidCircuitError, True, "spec.circuit:", *needles)


def test_a_box_runs_opened() -> None:
    document, _ = execution.execute(_box(), _request(primitive="sampler", shots=4), AER)
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
