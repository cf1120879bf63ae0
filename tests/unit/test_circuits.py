"""Circuits in and out: OpenQASM 2/3 detection and parsing, QPY, PUB shapes, one-line errors."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp

from qiskit_argo import circuits
from qiskit_argo.circuits import _native
from qiskit_argo.errors import MAX_MESSAGE, InvalidCircuitError, LimitExceededError
from qiskit_argo.request import Limits

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


# --------------------------------------------------------------------------- hostile input

_LIMITS = Limits()
_H2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
_H3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def _bomb(levels: int, version: int, *, param: bool = False, call: str | None = None) -> str:
    """``g<levels>`` expands to 2^levels instructions: each level calls the one below twice."""
    if param:
        gates = ["gate g0(t) a { rx(t) a; }"] + [
            f"gate g{i}(t) a {{ g{i - 1}(t) a; g{i - 1}(t / 2) a; }}" for i in range(1, levels + 1)
        ]
    else:
        gates = ["gate g0 a { h a; }"] + [f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}" for i in range(1, levels + 1)]
    call = call or (f"g{levels}(0.1) q[0];" if param else f"g{levels} q[0];")
    if version == 2:
        return _H2 + "\n".join(gates) + f"\nqreg q[1];\ncreg c[1];\n{call}\nmeasure q -> c;\n"
    return _H3 + "\n".join(gates) + f"\nqubit[1] q;\nbit[1] c;\n{call}\nc = measure q;\n"


def _assert_safe(error: Exception, cls: type[Exception], *needles: str) -> None:
    """One line of at most 300 characters, no raw control characters, the right class, permanent."""
    assert type(error) is cls, repr(error)
    assert getattr(error, "permanent", False), repr(error)
    message = str(error)
    assert len(message) <= MAX_MESSAGE, (len(message), message)
    assert message.isprintable(), repr(message)
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(
    ("source", "cls", "needles"),
    [
        # Register sizes that make Qiskit's parsers panic, abort or allocate for minutes: refused first.
        (_H2 + "qreg q[99999999999999999999];\n", LimitExceededError, ["line 3:", "qreg q", "maxQubits"]),
        (_H2 + "qreg q[2000000000];\n", LimitExceededError, ["line 3:", "2000000000 qubits", "limit of 32"]),
        (_H2 + "qreg a[20];\nqreg b[20];\n", LimitExceededError, ["line 4:", "40 qubits", "maxQubits"]),
        (_H2 + "qreg q[1];\ncreg c[2000000000];\n", LimitExceededError, ["line 4:", "creg c", "maxCircuitSize"]),
        ("qreg q[2000000000];\n", LimitExceededError, ["line 1:", "maxQubits"]),  # no header: OpenQASM 2
        (_H3 + "qubit[4000000000] q;\n", LimitExceededError, ["line 3:", "register q", "maxQubits"]),
        (_H3 + "const uint n = 2000000000;\nqubit[n + 1] q;\n", LimitExceededError, ["line 4:", "maxQubits"]),
        (_H3 + "qreg q[2000000000];\n", LimitExceededError, ["line 3:", "maxQubits"]),
        (_H3 + "qubit[1] q;\nbit[4000000000] c;\n", LimitExceededError, ["line 4:", "bits", "maxCircuitSize"]),
        (_H3 + "qubit[2.5] q;\n", InvalidCircuitError, ["line 3:", "constant integer"]),
        (_H3 + "qubit[2] q;\nctrl(2000000000) @ x q[0], q[1];\n", LimitExceededError, ["line 4:", "ctrl", "maxQubits"]),
        (
            _H3 + "gate w a, b, c, d, e, f, g, h, i, j, k { h a; }\nqubit[11] q;\n"
            "pow(0.5) @ w q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10];\n",
            InvalidCircuitError,
            ["line 5:", "pow", "2^11"],
        ),
        # Numbers the OpenQASM 2 parser reads as 64-bit integers (it panics on longer ones).
        (_H2 + "qreg q[1];\nrx(99999999999999999999) q[0];\n", InvalidCircuitError, ["line 4:", "too large"]),
        (_H2 + "qreg q[2];\nh q[99999999999999999999];\n", InvalidCircuitError, ["line 4:", "too large"]),
        # Angles Aer would run silently.
        (_H2 + "qreg q[1];\nrx(1e999999) q[0];\n", InvalidCircuitError, ["line 4:", "rx", "inf", "finite"]),
        # qiskit.qasm2 accepts a call without the parameters its definition uses, then fails lazily.
        (_H2 + "gate g(a) x { rx(a) x; }\nqreg q[1];\ng q[0];\n", InvalidCircuitError, ["line 5:", "gate g", "g(0.5)"]),
        (_H2 + "opaque g a;\nqreg q[1];\ng q[0];\n", InvalidCircuitError, ["line 3:", "opaque", "Qiskit Aer"]),
        ("// only a comment\n", InvalidCircuitError, ["only comments"]),
    ],
)
def test_hostile_openqasm_is_refused_in_one_line(source: str, cls: type[Exception], needles: list[str]) -> None:
    started = time.perf_counter()
    with pytest.raises(cls) as caught:
        circuits.parse_openqasm(source, limits=_LIMITS)
    assert time.perf_counter() - started < 2
    _assert_safe(caught.value, cls, "spec.circuit.openqasm: ", *needles)


@pytest.mark.parametrize(
    "source",
    [
        _bomb(39, 2),
        _bomb(39, 3),
        _bomb(39, 2, param=True),
        _bomb(39, 3, param=True),
        _bomb(39, 3, call="inv @ g39 q[0];"),  # the importer inverts the whole definition eagerly
        _bomb(17, 2, call="g17 q[0];\ng17 q[0];"),  # 2 x 131,072: over 200,000 only together
        _H3 + "qubit[1] q;\nbit[1] c;\nfor uint i in [0:999999999] { h q[0]; }\nc = measure q;\n",
    ],
    ids=["qasm2-2^39", "qasm3-2^39", "qasm2-params", "qasm3-params", "qasm3-inv", "qasm2-two-calls", "for-loop"],
)
def test_gate_bombs_are_counted_not_unrolled(source: str) -> None:
    started = time.perf_counter()
    with pytest.raises(LimitExceededError) as caught:
        circuits.parse_openqasm(source, limits=_LIMITS)
    assert time.perf_counter() - started < 1
    _assert_safe(caught.value, LimitExceededError, "spec.circuit.openqasm: ", "maxCircuitSize", "limit of 200000")


@pytest.mark.parametrize("version", [2, 3])
def test_a_legal_bomb_is_flattened_in_linear_time(version: int) -> None:
    """2^16 instructions after expansion: under maxCircuitSize, so it runs; QPY stays linear."""
    started = time.perf_counter()
    circuit = circuits.parse_openqasm(_bomb(16, version), limits=_LIMITS)
    assert circuits.expanded_size(circuit) == 2**16 + 1
    flat = circuits.flatten(circuit)
    payload = circuits.circuit_to_qpy(flat)
    assert time.perf_counter() - started < 2
    assert flat.count_ops() == {"h": 2**16, "measure": 1}
    assert len(payload) < 64 * 2**16  # about 43 bytes per instruction


def test_a_real_parser_panic_becomes_one_line_and_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    """Qiskit's Rust OpenQASM 2 lexer panics on a 20-digit integer (pyo3 PanicException, a
    BaseException); the prescan refuses it first, and the guard still has a real panic to turn."""
    from qiskit import qasm2

    source = _H2 + "qreg q[99999999999999999999];\n"
    try:
        with _native.quiet_native_stderr():
            qasm2.loads(source)
    except BaseException as error:  # noqa: BLE001 - pyo3's PanicException is what this test needs
        panic = error
    else:
        pytest.skip("this Qiskit no longer panics on a 20-digit register size")
    assert not isinstance(panic, Exception) and _native.is_panic(panic)
    assert capfd.readouterr().err == ""  # the panic message and backtrace went to /dev/null
    _assert_safe(_native.panicked("spec.circuit.openqasm", panic, 2), InvalidCircuitError, "too large")
    assert not _native.is_panic(KeyboardInterrupt())


@pytest.mark.parametrize(
    "source",
    [
        'include "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n',
        '// Bell pair from a benchmark suite\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\n'
        "cx q[0],q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\n",
        "qreg q[2];\ncreg c[2];\nU(pi/2,0,pi) q[0];\nCX q[0],q[1];\nmeasure q -> c;\n",
        '// QASMBench style, one line\ninclude "qelib1.inc"; qreg q[2]; creg c[2]; u2(0,pi) q[0]; cx q[0],q[1];'
        " measure q -> c;\n",
    ],
)
def test_openqasm2_without_its_header(source: str) -> None:
    assert circuits.openqasm_version(source) == 2
    circuit = circuits.parse_openqasm(source, limits=_LIMITS)
    assert circuit.num_qubits == 2 and circuit.count_ops()["measure"] == 2


def test_openqasm3_without_a_header_stays_openqasm3() -> None:
    assert circuits.openqasm_version('include "stdgates.inc";\nqreg q[2];\nbit[2] c;\nc = measure q;\n') == 3


@pytest.mark.parametrize(
    ("source", "needles"),
    [
        (_Q3 + "h q[0];\n\x1b[31mx q[1];\n", ["line 5:", "\\x1b"]),  # an ESC byte is shown, not sent
        (_Q3 + "h q[0];\n" + "x" * 250_000 + " q[0];\n", ["line 5:"]),  # a long line is cut
        (_Q2 + "h q[0];\n" + "y" * 5_000_000 + " q[0];\n", ["line 6:"]),  # a 5 MB line too
        (_Q2 + "qreg \u202eq[2];\n", ["line 5:", "\\u202e"]),
    ],
)
def test_errors_quoting_the_source_are_bounded(source: str, needles: list[str]) -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        circuits.parse_openqasm(source, limits=_LIMITS)
    _assert_safe(caught.value, InvalidCircuitError, "spec.circuit.openqasm: ", *needles)


def _qpy_with_header(**fields: int) -> bytes:
    """A real QPY Bell circuit whose first circuit header claims other counts."""
    import struct

    data = bytearray(circuits.circuit_to_qpy(circuits.parse_openqasm(BELL2)))
    at = data.find(struct.pack("!II", 2, 2)) - 5  # name_size, global_phase_type, global_phase_size first
    header = list(struct.unpack_from("!H1cHII", data, at))
    header[3], header[4] = fields.get("num_qubits", header[3]), fields.get("num_clbits", header[4])
    struct.pack_into("!H1cHII", data, at, *header)
    return bytes(data)


@pytest.mark.parametrize(
    ("payload", "cls", "needles"),
    [
        (_qpy_with_header(num_qubits=40_000_000), LimitExceededError, ["40000000 qubits", "maxQubits"]),
        (_qpy_with_header(num_clbits=4_000_000_000), LimitExceededError, ["clbits", "maxCircuitSize"]),
        (circuits.circuit_to_qpy(circuits.parse_openqasm(BELL2))[:-9], InvalidCircuitError, ["cannot read"]),
    ],
)
def test_qpy_headers_are_read_before_loading(payload: bytes, cls: type[Exception], needles: list[str]) -> None:
    started = time.perf_counter()
    with pytest.raises(cls) as caught:
        circuits.circuit_from_qpy(payload, limits=_LIMITS)
    assert time.perf_counter() - started < 1
    _assert_safe(caught.value, cls, "spec.circuit.qpy: ", *needles)
    assert "Backtrace" not in str(caught.value) and "x1b" not in str(caught.value)


def test_flatten_keeps_what_the_circuit_does() -> None:
    from qiskit.quantum_info import Operator

    source = (
        _Q3.replace("qubit[2] q;\n", "") + "input float[64] theta;\ngate rot(a) x { rz(a) x; gphase(a / 2); sx x; }\n"
        "gate pair(a) x, y { rot(a) x; cx x, y; rot(2 * a) y; }\nqubit[2] q;\npair(theta) q[1], q[0];\n"
    )
    circuit = circuits.parse_openqasm(source, limits=_LIMITS)
    flat = circuits.flatten(circuit)
    assert set(flat.count_ops()) == {"rz", "sx", "cx"} and [p.name for p in flat.parameters] == ["theta"]
    for value in (0.0, 0.7):
        expected = Operator(circuit.assign_parameters([value]))
        assert Operator(flat.assign_parameters([value])).equiv(expected)
        assert Operator(flat.assign_parameters([value])) == expected  # global phase included


def test_flatten_opens_boxes_and_expands_inside_control_flow() -> None:
    inner = QuantumCircuit(1, name="inner")
    inner.h(0)
    gate = inner.to_gate()
    circuit = QuantumCircuit(1, 1)
    with circuit.box():
        circuit.append(gate, [0])
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.append(gate, [0])
    with circuit.for_loop(range(3)):
        circuit.append(gate, [0])
    flat = circuits.flatten(circuit)
    assert [i.operation.name for i in flat.data] == ["h", "measure", "if_else", "for_loop"]
    assert all(b.count_ops() == {"h": 1} for i in flat.data[2:] for b in i.operation.blocks)
    assert circuits.expanded_size(circuit) == 1 + 1 + 1 + 3
    assert circuits.flatten(flat) is flat  # nothing left to expand
