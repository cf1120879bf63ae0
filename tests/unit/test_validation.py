"""The validate step: analysis, limits, bindings, observables, primitives, job errors, ConfigMaps."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Clbit, Gate, Qubit
from qiskit.circuit.classical import expr, types
from qiskit.circuit.library import RXGate

from qiskit_argo import circuits, validation
from qiskit_argo.api import ConfigMapKeyRef, Observable, QiskitJob
from qiskit_argo.errors import InvalidCircuitError, InvalidJobError, LimitExceededError, QiskitArgoError
from qiskit_argo.request import ExecutionRequest, Limits

BELL2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
BELL3_NO_MEASURE = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n'
SWEEP3 = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\ninput float[64] alpha;\n'
    "qubit[1] q;\nbit[1] c;\nry(theta) q[0];\nrz(alpha) q[0];\nc[0] = measure q[0];\n"
)


def _job(**spec: Any) -> dict[str, Any]:
    spec.setdefault("circuit", {"openqasm": BELL2})
    return {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitJob", "metadata": {"name": "t"}, "spec": spec}


def _model(**spec: Any) -> QiskitJob:
    return validation.parse_job_document(_job(**spec))


def _assert_error(error: QiskitArgoError, cls: type[QiskitArgoError], reason: str, *needles: str) -> None:
    assert type(error) is cls, repr(error)
    assert error.reason == reason and error.permanent and error.exit_code == 2
    message = str(error)
    assert "\n" not in message and message.strip() == message, message
    for needle in needles:
        assert needle in message, message


# --------------------------------------------------------------------------- analysis


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            BELL2,
            {"num_qubits": 2, "num_clbits": 2, "depth": 3, "size": 4, "num_parameters": 0, "has_measurements": True},
        ),
        (
            BELL3_NO_MEASURE,
            {"num_qubits": 2, "num_clbits": 0, "depth": 2, "size": 2, "num_parameters": 0, "has_measurements": False},
        ),
        (
            SWEEP3,
            {"num_qubits": 1, "num_clbits": 1, "depth": 3, "size": 3, "num_parameters": 2, "has_measurements": True},
        ),
    ],
)
def test_analyse(source: str, expected: dict[str, Any]) -> None:
    metrics = validation.analyse(circuits.parse_openqasm(source), num_bindings=3)
    assert metrics.model_dump(include=set(expected)) == expected
    assert metrics.num_bindings == 3
    assert sum(metrics.count_ops.values()) == metrics.size


def test_measurement_inside_control_flow_counts() -> None:
    source = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nbit[1] c;\nbit[1] d;\nh q[0];\n'
        "c[0] = measure q[0];\nif (c[0]) { d[0] = measure q[0]; }\n"
    )
    assert validation.has_measurements(circuits.parse_openqasm(source))


# --------------------------------------------------------------------------- bindings


@pytest.mark.parametrize(
    ("names", "values", "rows"),
    [
        ([], None, []),
        (["theta"], [[0.5]], [[0.5]]),
        (["alpha", "theta"], [[1, 2], [3, 4]], [[1.0, 2.0], [3.0, 4.0]]),
        (["a"], [[-1.5]] * 3, [[-1.5]] * 3),
    ],
)
def test_normalize_bindings(names: list[str], values: Any, rows: list[list[float]]) -> None:
    assert validation.normalize_bindings(names, values) == rows


@pytest.mark.parametrize(
    ("names", "values", "needles"),
    [
        (["theta"], None, ["spec.parameterValues:", "1 parameter (theta)", "no values"]),
        ([], [[0.1]], ["spec.parameterValues:", "no parameters", "remove"]),
        (["alpha", "theta"], [[0.1, 0.2], [0.1]], ["spec.parameterValues[1]:", "1 values given", "2 parameters"]),
        (["alpha", "theta"], [[0.1, 0.2, 0.3]], ["spec.parameterValues[0]:", "3 values given"]),
        (["a"], [[0.0], [float("nan")]], ["spec.parameterValues[1]:", "finite"]),
    ],
)
def test_bad_bindings(names: list[str], values: Any, needles: list[str]) -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        validation.normalize_bindings(names, values)
    _assert_error(caught.value, InvalidCircuitError, "InvalidCircuit", *needles)


# --------------------------------------------------------------------------- observables and primitives


def test_observables_must_match_the_width() -> None:
    good = [Observable(paulis={"ZZ": 1.0}), Observable(paulis={"XI": 0.5, "IX": 0.5})]
    validation.check_observables(good, 2)
    bad = [*good, Observable(paulis={"ZZ": 1.0, "ZZZ": 1.0})]
    with pytest.raises(InvalidCircuitError) as caught:
        validation.check_observables(bad, 2)
    _assert_error(caught.value, InvalidCircuitError, "InvalidCircuit", "spec.observables[2]", "'ZZZ'", "3 qubits", "2")


def test_sampler_needs_measurements() -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        validation.prepare_for_primitive(circuits.parse_openqasm(BELL3_NO_MEASURE), "sampler")
    _assert_error(caught.value, InvalidCircuitError, "InvalidCircuit", "spec.circuit", "no measurements", "add")


def test_estimator_strips_final_measurements() -> None:
    prepared = validation.prepare_for_primitive(circuits.parse_openqasm(BELL2), "estimator")
    assert not validation.has_measurements(prepared) and prepared.num_clbits == 0
    assert prepared.count_ops() == {"h": 1, "cx": 1}


# --------------------------------------------------------------------------- limits


def _wide(qubits: int) -> str:
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\ncreg c[{qubits}];\nmeasure q -> c;\n'


@pytest.mark.parametrize(
    ("spec", "limits", "needles"),
    [
        ({"circuit": {"openqasm": _wide(40)}}, {}, ["spec.circuit.openqasm: line 3:", "40 qubits", "limit of 32"]),
        ({"circuit": {"openqasm": _wide(5)}}, {"maxQubits": 4}, ["line 3:", "5 qubits", "limit of 4", "maxQubits"]),
        ({"shots": 2_000_000}, {}, ["spec.shots:", "2000000 shots", "limit of 1000000"]),
        ({"shots": 101}, {"maxShots": 100}, ["spec.shots:", "101", "limit of 100"]),
        ({}, {"maxShots": 1000}, ["spec.shots:", "1024"]),  # the default shots count too
        (
            {"circuit": {"openqasm": SWEEP3}, "parameterValues": [[0.0, 0.0]] * 11},
            {"maxBindings": 10},
            ["spec.parameterValues:", "11 bindings", "limit of 10"],
        ),
        ({}, {"maxCircuitSize": 3}, ["spec.circuit.openqasm:", "4 instructions", "limit of 3", "maxCircuitSize"]),
    ],
)
def test_limits(spec: dict[str, Any], limits: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(LimitExceededError) as caught:
        validation.validate_job(_model(**spec), validation.parse_limits(json.dumps(limits)))
    _assert_error(caught.value, LimitExceededError, "LimitExceeded", *needles)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[1]", "JSON object"),
        ("{", "not JSON"),
        ('{"maxQubits": 0}', "limits.maxQubits"),
        ('{"maxQbits": 3}', "maxQbits"),
    ],
)
def test_bad_limits(text: str, needle: str) -> None:
    with pytest.raises(InvalidJobError) as caught:
        validation.parse_limits(text)
    _assert_error(caught.value, InvalidJobError, "InvalidSpec", "limits", needle)


def test_empty_limits_are_the_defaults() -> None:
    assert validation.parse_limits("") == validation.parse_limits("{}") == Limits()


# --------------------------------------------------------------------------- the job itself


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        ({"shots": 0}, ["spec.shots"]),
        ({"backend": {"aer": {"noiseModel": "manila"}}}, ["spec.backend.aer.noiseModel"]),
        ({"backend": {"aer": {"sed": 1}}}, ["spec.backend.aer.sed", "unknown field"]),
        ({"parameterValues": [[0.1], "x"]}, ["spec.parameterValues[1]"]),
        ({"circuit": {"qpy": "this is not base64!"}}, ["spec.circuit.qpy", "base64"]),
        ({"primitive": "estimator"}, ["spec", "observables"]),
    ],
)
def test_invalid_job_names_the_field(spec: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(InvalidJobError) as caught:
        _model(**spec)
    _assert_error(caught.value, InvalidJobError, "InvalidSpec", *needles)


def test_bad_qpy_payload_is_an_invalid_circuit() -> None:
    payload = base64.b64encode(b"definitely not a qpy file").decode()
    with pytest.raises(InvalidCircuitError) as caught:
        validation.validate_job(_model(circuit={"qpy": payload}), Limits())
    _assert_error(caught.value, InvalidCircuitError, "InvalidCircuit", "spec.circuit.qpy", "not QPY")


def test_invalid_openqasm_in_a_job_names_the_line() -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        validation.validate_job(_model(circuit={"openqasm": BELL2.replace("cx q[0], q[1]", "cx q[0] q[1]")}), Limits())
    _assert_error(caught.value, InvalidCircuitError, "InvalidCircuit", "spec.circuit.openqasm", "line 6:")


# --------------------------------------------------------------------------- requests


def test_request_for_a_sweep() -> None:
    job = _model(circuit={"openqasm": SWEEP3}, parameterValues=[[0.1, 0.2], [0.3, 0.4]], shots=10)
    validated = validation.validate_job(job, Limits())
    request = validated.request
    [pub] = request.pubs
    assert pub.circuit == 0 and pub.parameter_names == ["alpha", "theta"] and pub.num_bindings == 2
    assert pub.values == "pub-0.npy" and pub.values_from is not None and pub.values_from["inline"] is True
    assert [rows.tolist() if rows is not None else None for rows in validated.values] == [[[0.1, 0.2], [0.3, 0.4]]]
    assert pub.shots == 10 and pub.precision is None and pub.observables is None
    assert request.total_bindings == 2 and request.shards == 1 and request.cache is True
    assert validated.metrics.num_bindings == 2 and validated.metrics.num_parameters == 2


def test_request_for_the_estimator() -> None:
    job = _model(primitive="estimator", observables=[{"ZZ": 1}, {"XX": 0.5}], precision=0.02)
    validated = validation.validate_job(job, Limits())
    [pub] = validated.request.pubs
    assert pub.shots is None and pub.precision == 0.02 and pub.values is None and pub.values_from is None
    assert [o.paulis for o in pub.observables or []] == [{"ZZ": 1.0}, {"XX": 0.5}]
    assert validated.values == [None] and validated.request.total_bindings == 1
    assert not validated.metrics.has_measurements


def test_estimator_observable_width_through_the_job() -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        validation.validate_job(_model(primitive="estimator", observables=[{"ZZ": 1}, {"ZZZ": 1}]), Limits())
    _assert_error(caught.value, InvalidCircuitError, "InvalidCircuit", "spec.observables[1]")


# --------------------------------------------------------------------------- ConfigMaps and the step


def test_config_map_key_is_read(tmp_path: Path) -> None:
    (tmp_path / "circuits").mkdir()
    (tmp_path / "circuits" / "bell.qasm").write_text(BELL2)
    ref = ConfigMapKeyRef(name="circuits", key="bell.qasm")
    assert validation.read_config_map_key(tmp_path, ref) == BELL2.encode()


@pytest.mark.parametrize("mounted", [True, False])
def test_missing_config_map_key(tmp_path: Path, mounted: bool) -> None:
    (tmp_path / "circuits").mkdir()
    (tmp_path / "circuits" / "other.qasm").write_text(BELL2)
    ref = ConfigMapKeyRef(name="circuits", key="bell.qasm")
    with pytest.raises(InvalidCircuitError) as caught:
        validation.read_config_map_key(tmp_path if mounted else tmp_path / "absent", ref)
    _assert_error(
        caught.value, InvalidCircuitError, "InvalidCircuit", "spec.circuit.configMapKeyRef", "'circuits'", "'bell.qasm'"
    )
    if mounted:
        assert "other.qasm" in str(caught.value)


def test_config_map_key_cannot_escape_the_mount(tmp_path: Path) -> None:
    with pytest.raises(InvalidJobError) as caught:
        # The model refuses such a key; the reader must refuse it too (defence in depth).
        validation.read_config_map_key(tmp_path, ConfigMapKeyRef.model_construct(name="c", key="../etc/passwd"))
    _assert_error(caught.value, InvalidJobError, "InvalidSpec", "configMapKeyRef.key")


def _run(tmp_path: Path, job: dict[str, Any], limits: str = "{}", circuit_dir: Path | None = None) -> Path:
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job))
    out = tmp_path / "out"
    validation.run_step(job_file, limits, circuit_dir, out)
    return out


def test_run_step_writes_the_four_outputs(tmp_path: Path) -> None:
    out = _run(tmp_path, _job(circuit={"openqasm": SWEEP3}, parameterValues=[[0.0, 1.0]]))
    assert circuits.circuit_from_qpy((out / "circuit.qpy").read_bytes()).num_parameters == 2
    request = ExecutionRequest.model_validate_json((out / "request.json").read_text())
    assert request.job_name == "t" and request.pubs[0].values == "pub-0.npy"
    assert np.load(out / "bindings" / "pub-0.npy").tolist() == [[0.0, 1.0]]
    assert json.loads((out / "bindings" / "index.json").read_text()) == {"pubs": ["pub-0.npy"]}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["numQubits"] == 1 and metrics["numParameters"] == 2 and metrics["hasMeasurements"] is True


def test_run_step_reads_a_config_map(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    (mount / "circuits").mkdir(parents=True)
    (mount / "circuits" / "bell.qasm").write_text(BELL2)
    job = _job(circuit={"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}})
    out = _run(tmp_path, job, circuit_dir=mount)
    assert json.loads((out / "metrics.json").read_text())["countOps"] == {"h": 1, "cx": 1, "measure": 2}


def test_run_step_without_the_config_map_mounted(tmp_path: Path) -> None:
    job = _job(circuit={"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}})
    with pytest.raises(InvalidCircuitError) as caught:
        _run(tmp_path, job, circuit_dir=None)
    _assert_error(caught.value, InvalidCircuitError, "InvalidCircuit", "ConfigMap 'circuits'", "'bell.qasm'")


def test_run_step_rejects_a_job_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text("apiVersion: [")
    with pytest.raises(InvalidJobError) as caught:
        validation.run_step(tmp_path / "job.json", "{}", None, tmp_path / "out")
    _assert_error(caught.value, InvalidJobError, "InvalidSpec", "not JSON")


# --------------------------------------------------------------------------- hostile circuits


def _assert_bounded(error: QiskitArgoError, cls: type[QiskitArgoError], *needles: str) -> None:
    _assert_error(error, cls, cls.reason, *needles)
    assert len(str(error)) <= 300 and str(error).isprintable(), str(error)


def _with_var() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    circuit.add_var("flag", expr.lift(True))
    circuit.h(0)
    circuit.measure(0, 0)
    return circuit


def _with_input() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1, inputs=[expr.Var.new("b", types.Bool())])
    circuit.h(0)
    circuit.measure(0, 0)
    return circuit


def _with_stretch() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    circuit.delay(circuit.add_stretch("s"), 0)
    circuit.measure(0, 0)
    return circuit


def _with(operation: Any, *params: float) -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    circuit.append(operation, [0])
    circuit.measure(0, 0)
    return circuit


def _with_shift_condition() -> QuantumCircuit:
    register = ClassicalRegister(3, "c")
    circuit = QuantumCircuit(QuantumRegister(1, "q"), register)
    circuit.measure(0, register[0])
    with circuit.if_test(expr.equal(expr.shift_left(register, 1), 2)):
        circuit.x(0)
    circuit.measure(0, register[1])
    return circuit


def _with_loose_clbits() -> QuantumCircuit:
    circuit = QuantumCircuit([Qubit()], [Clbit()])
    circuit.h(0)
    circuit.measure(0, 0)
    return circuit


def _with_long_loop() -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1)
    with circuit.for_loop(range(10**12)):
        circuit.h(0)
    circuit.measure(0, 0)
    return circuit


@pytest.mark.parametrize(
    ("circuit", "cls", "needles"),
    [
        (_with_var(), InvalidCircuitError, ["real-time classical variables (flag)", "Qiskit Aer cannot run", "bit["]),
        (_with_input(), InvalidCircuitError, ["real-time classical variables (b)", "input float[64]"]),
        (_with_stretch(), InvalidCircuitError, ["stretch durations (s)", "fixed duration"]),
        (_with(Gate("mystery", 1, [])), InvalidCircuitError, ["gate mystery has no definition", "opaque"]),
        (_with(RXGate(float("inf"))), InvalidCircuitError, ["gate rx has the parameter inf", "finite"]),
        (_with(RXGate(float("nan"))), InvalidCircuitError, ["gate rx has the parameter nan", "finite"]),
        (_with_shift_condition(), InvalidCircuitError, ["operator shift_left", "cannot evaluate", "=="]),
        (_with_loose_clbits(), InvalidCircuitError, ["no classical register", "sampler"]),
        (_with_long_loop(), LimitExceededError, ["1000000000001 instructions", "maxCircuitSize"]),
        (QuantumCircuit(40, 40), LimitExceededError, ["40 qubits", "maxQubits"]),
    ],
    ids=["var", "input", "stretch", "opaque", "inf-angle", "nan-angle", "shift", "loose-clbits", "loop", "wide"],
)
def test_what_aer_cannot_run_is_refused_at_validate(circuit: QuantumCircuit, cls: type, needles: list[str]) -> None:
    job = _model(circuit={"qpy": circuits.circuit_to_qpy_base64(circuit)})
    with pytest.raises(cls) as caught:
        validation.validate_job(job, Limits())
    _assert_bounded(caught.value, cls, "spec.circuit", *needles)


def test_a_box_is_opened_rather_than_refused() -> None:
    circuit = QuantumCircuit(1, 1)
    with circuit.box():
        circuit.h(0)
    circuit.measure(0, 0)
    validated = validation.validate_job(_model(circuit={"qpy": circuits.circuit_to_qpy_base64(circuit)}), Limits())
    assert validated.metrics.count_ops == {"h": 1, "measure": 1}


def _bomb(levels: int) -> str:
    gates = ["gate g0 a { h a; }"] + [f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}" for i in range(1, levels + 1)]
    return (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
        + "\n".join(gates)
        + f"\nqubit[1] q;\nbit[1] c;\ng{levels} q[0];\nc = measure q;\n"
    )


def test_validate_refuses_a_gate_bomb_at_once(tmp_path: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(LimitExceededError) as caught:
        _run(tmp_path, _job(circuit={"openqasm": _bomb(39)}))
    assert time.perf_counter() - started < 1
    _assert_bounded(caught.value, LimitExceededError, "spec.circuit.openqasm:", "549755813889 instructions")


def test_validate_flattens_a_legal_bomb_quickly(tmp_path: Path) -> None:
    """2^16 instructions: allowed; the QPY artifact holds them flat (not one definition per call)."""
    started = time.perf_counter()
    out = _run(tmp_path, _job(circuit={"openqasm": _bomb(16)}))
    assert time.perf_counter() - started < 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["countOps"] == {"h": 2**16, "measure": 1} and metrics["size"] == 2**16 + 1
    assert (out / "circuit.qpy").stat().st_size < 64 * 2**16


def test_custom_gates_travel_flat_and_the_metrics_show_what_runs() -> None:
    source = BELL3_NO_MEASURE.replace(
        "h q[0];\ncx q[0], q[1];\n", "gate bell a, b { h a; cx a, b; }\nbell q[0], q[1];\n"
    )
    validated = validation.validate_job(_model(circuit={"openqasm": source + "bit[2] c;\nc = measure q;\n"}), Limits())
    assert validated.metrics.count_ops == {"h": 1, "cx": 1, "measure": 2}


@pytest.mark.parametrize(
    ("observables", "cls", "needles"),
    [
        ([{"ZQ": 1.0}], InvalidJobError, ["spec.observables[0]:", "'ZQ' is not a Pauli string"]),
        ([{"ZZ": 1.0}, {"zz": 1.0}], InvalidJobError, ["spec.observables[1]:", "I, X, Y or Z"]),
        ([{"Z\x1bZ": 1.0}], InvalidJobError, ["spec.observables[0]:", "\\x1b"]),
        ([{"ZZ": float("inf")}], InvalidJobError, ["spec.observables[0]:", "inf", "finite"]),
        ([{"XX": 0.5, "ZZ": float("nan")}], InvalidJobError, ["spec.observables[0]:", "'ZZ'", "nan"]),
    ],
)
def test_observable_terms(observables: list[dict[str, float]], cls: type, needles: list[str]) -> None:
    with pytest.raises(cls) as caught:
        validation.check_observable_terms(observables)
    _assert_bounded(caught.value, cls, *needles)


def test_a_huge_observable_label_is_not_echoed() -> None:
    job = _model(primitive="estimator", observables=[{"Z" * 100_000: 1.0}])
    with pytest.raises(InvalidCircuitError) as caught:
        validation.validate_job(job, Limits())
    _assert_bounded(caught.value, InvalidCircuitError, "spec.observables[0]:", "100000 qubits", "...")


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        ({"backend": {"aer": {"method": "unitary"}}}, ["method=unitary:", "cannot measure", "sampler"]),
        ({"backend": {"aer": {"method": "superop"}}}, ["method=superop:", "cannot measure"]),
        (
            {"primitive": "estimator", "observables": [{"ZZ": 1}], "backend": {"aer": {"method": "unitary"}}},
            ["method=unitary:", "expectation values", "estimator"],
        ),
        (
            {
                "primitive": "estimator",
                "observables": [{"ZZ": 1}],
                "backend": {"aer": {"method": "extended_stabilizer"}},
            },
            ["method=extended_stabilizer:", "expectation values"],
        ),
    ],
)
def test_an_aer_method_that_cannot_serve_the_primitive(spec: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(InvalidJobError) as caught:
        validation.validate_job(_model(**spec), Limits())
    _assert_bounded(caught.value, InvalidJobError, "spec.backend.aer.", *needles)
