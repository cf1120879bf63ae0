"""Circuits in and out: OpenQASM 2/3 detection and parsing, QPY, PUB shapes, one-line errors."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp

from qiskit_argo import circuits
from qiskit_argo.errors import InvalidCircuitError

BELL2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
BELL3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n'


def _assert_one_line(error: Exception, *needles: str) -> None:
    message = str(error)
    assert "\n" not in message and message == message.strip(), message
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(
    ("source", "version"),
    [
        (BELL2, 2),
        (BELL3, 3),
        ("OPENQASM 3;\nqubit q;", 3),
        ("// a comment\n/* block\ncomment */\n  OPENQASM 2.0;\nqreg q[1];", 2),
        ("qubit q;\nh q;", 3),  # OpenQASM 3 may omit the version statement
        ("OPENQASM    3.0 ;\nqubit q;", 3),
    ],
)
def test_openqasm_version_from_header(source: str, version: int) -> None:
    assert circuits.openqasm_version(source) == version


@pytest.mark.parametrize(
    ("source", "check"),
    [
        (BELL2, lambda c: c.num_qubits == 2 and c.count_ops() == {"h": 1, "cx": 1, "measure": 2}),
        (BELL3, lambda c: c.num_qubits == 2 and c.count_ops() == {"h": 1, "cx": 1, "measure": 2}),
        # qelib1.inc gates that only exist as legacy custom instructions
        (
            'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\nu3(0.1,0.2,0.3) q[0];\ncu1(0.5) q[0],q[1];\n'
            "rzz(0.2) q[1],q[2];\nccx q[0],q[1],q[2];\nu1(0.3) q[2];\n",
            lambda c: set(c.count_ops()) == {"u3", "cu1", "rzz", "ccx", "u1"},
        ),
        (
            'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\ninput float[64] alpha;\nqubit[1] q;\n'
            "bit[1] c;\nry(theta) q[0];\nrz(alpha) q[0];\nc[0] = measure q[0];\n",
            lambda c: [p.name for p in c.parameters] == ["alpha", "theta"],
        ),
    ],
)
def test_parse_openqasm(source: str, check) -> None:  # type: ignore[no-untyped-def]
    assert check(circuits.parse_openqasm(source))


_Q2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
_Q3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\n'


@pytest.mark.parametrize(
    ("source", "line", "version"),
    [
        (_Q2 + "hh q[0];\n", 5, 2),  # unknown gate
        (_Q2 + "h q[0];\ncx q[0] q[1];\n", 6, 2),  # missing comma
        (_Q2 + "h q[0]\ncx q[0], q[1];\n", 6, 2),  # missing semicolon shows on the next statement
        ('OPENQASM 2.0;\ninclude "other.inc";\n', 2, 2),  # includes other than qelib1.inc
        (_Q3 + "foo q[0];\n", 4, 3),  # unknown gate (importer error)
        (_Q3 + "cx q[0] q[1];\n", 4, 3),  # syntax error (ANTLR)
        (_Q3 + "h q[0]\ncx q[0], q[1];\n", 5, 3),  # missing semicolon
        (_Q3 + "h q[0];\n$$ q;\n", 5, 3),  # lexer error
        (_Q3 + "h q[5];\n", 4, 3),  # index out of range
        ("OPENQASM 3.0;\nqubit q;\nh q", 3, 3),  # end of file
        ("// header below\nOPENQASM 4.0;\nqubit q;", 2, 0),  # unsupported version
    ],
)
def test_invalid_openqasm_names_the_line(source: str, line: int, version: int) -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        circuits.parse_openqasm(source)
    error = caught.value
    assert error.reason == "InvalidCircuit" and error.permanent
    _assert_one_line(error, "spec.circuit.openqasm", f"line {line}:")
    if version:
        assert f"OpenQASM {version}" in str(error)


def test_invalid_openqasm3_prints_nothing_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidCircuitError):
        circuits.parse_openqasm(_Q3 + "$$ q;\n")
    assert capsys.readouterr().err == ""


def test_empty_source() -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        circuits.parse_openqasm("  \n")
    _assert_one_line(caught.value, "spec.circuit.openqasm", "empty")


def _parameterized() -> QuantumCircuit:
    theta, phi = Parameter("theta"), Parameter("phi")
    circuit = QuantumCircuit(2, 2)
    circuit.ry(theta, 0)
    circuit.rz(phi, 1)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def test_qpy_round_trip_bytes_and_base64() -> None:
    circuit = _parameterized()
    assert circuits.circuit_from_qpy(circuits.circuit_to_qpy(circuit)) == circuit
    text = circuits.circuit_to_qpy_base64(circuit)
    back = circuits.circuit_from_qpy_base64(text)
    assert back == circuit and [p.name for p in back.parameters] == ["phi", "theta"]


def _two_circuits() -> bytes:
    import io

    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump([QuantumCircuit(1), QuantumCircuit(2)], buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"hello world, not qpy").decode(), "not QPY"),
        (base64.b64encode(b"QISKIT\x0c\x00garbage").decode(), "cannot read the QPY payload"),
        (base64.b64encode(_two_circuits()).decode(), "holds 2 circuits"),
    ],
)
def test_bad_qpy(payload: str, needle: str) -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        circuits.circuit_from_qpy_base64(payload)
    assert caught.value.reason == "InvalidCircuit"
    _assert_one_line(caught.value, "spec.circuit.qpy", needle)


@pytest.mark.parametrize(
    "data",
    [
        BELL2.encode(),
        BELL3.encode(),
        circuits.circuit_to_qpy_base64(circuits.parse_openqasm(BELL2)).encode(),  # ConfigMap data
        circuits.circuit_to_qpy(circuits.parse_openqasm(BELL2)),  # ConfigMap binaryData
    ],
)
def test_load_circuit_bytes_detects_the_format(data: bytes) -> None:
    circuit = circuits.load_circuit_bytes(data, field="cm")
    assert circuit.count_ops() == {"h": 1, "cx": 1, "measure": 2}


def test_load_circuit_bytes_rejects_binary_garbage() -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        circuits.load_circuit_bytes(b"\xff\xfe\x00\x01", field="spec.circuit.configMapKeyRef")
    _assert_one_line(caught.value, "spec.circuit.configMapKeyRef", "neither UTF-8 OpenQASM text nor QPY")


@pytest.mark.parametrize(
    ("values", "shape"),
    [
        (None, ()),
        ([[0.1, 0.2]], (1,)),
        ([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], (3,)),
        (np.zeros((1000, 2)), (1000,)),
    ],
)
def test_sampler_pub_holds_the_whole_sweep(values, shape) -> None:  # type: ignore[no-untyped-def]
    circuit = _parameterized() if values is not None else circuits.parse_openqasm(BELL2)
    pub = circuits.sampler_pub(circuit, values, 100)
    assert pub.shape == shape and pub.shots == 100


def test_sampler_pub_columns_follow_the_circuit_parameter_order() -> None:
    pub = circuits.sampler_pub(_parameterized(), [[1.0, 2.0]], 10)
    bound = pub.parameter_values.as_array(pub.circuit.parameters)
    assert bound.tolist() == [[1.0, 2.0]]  # phi=1.0, theta=2.0 (sorted by name)


@pytest.mark.parametrize(
    ("values", "shape"),
    [(None, (3,)), ([[0.1, 0.2]], (1, 3)), ([[0.1, 0.2]] * 5, (5, 3))],
)
def test_estimator_pub_broadcasts_bindings_against_observables(values, shape) -> None:  # type: ignore[no-untyped-def]
    circuit = _parameterized().remove_final_measurements(inplace=False)
    if values is None:
        circuit = circuit.assign_parameters([0.0, 0.0])
    observables = [circuits.sparse_pauli_op({"ZZ": 1.0}), circuits.sparse_pauli_op({"XI": 0.5, "IX": 0.5}), "ZI"]
    pub = circuits.estimator_pub(circuit, observables, values, 0.01)  # type: ignore[arg-type]
    assert pub.shape == shape and pub.precision == 0.01


def test_sparse_pauli_op_keeps_qiskit_order() -> None:
    op = circuits.sparse_pauli_op({"ZI": 0.25, "IZ": 0.75})
    assert op == SparsePauliOp.from_list([("ZI", 0.25), ("IZ", 0.75)])
