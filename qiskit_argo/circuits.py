"""Circuits in and out: OpenQASM 2/3 and QPY parsing with one-line errors, and PUB construction.

* ``parse_openqasm`` reads the version from the header (``OPENQASM 2.0;`` or ``OPENQASM 3[.0];``;
  OpenQASM 3 allows no header at all) and uses ``qiskit.qasm2.loads`` with Qiskit's legacy custom
  instructions (so every ``qelib1.inc`` gate is a standard-library gate) or ``qiskit.qasm3.loads``.
  A parse error becomes an ``InvalidCircuitError`` whose one-line message names the source line:
  ``spec.circuit.openqasm: line 5: expected ';' but found 'q' in `cx q[0] q[1];`; fix ...``.
* ``circuit_from_qpy`` / ``circuit_to_qpy`` move one circuit through QPY (raw bytes or base64),
  which is how circuits travel between workflow steps.
* ``sampler_pub`` / ``estimator_pub`` build the one PUB a job runs: the circuit and the whole
  parameter sweep as one bindings array (estimator observables broadcast against the bindings so
  ``evs[binding, observable]``).

Only ``qiskit`` core is imported here (never Aer or qiskit-ibm-runtime); the OpenQASM importers are
imported on first use.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit_argo.errors import InvalidCircuitError

if TYPE_CHECKING:
    import numpy as np
    from qiskit.circuit import QuantumCircuit
    from qiskit.primitives.containers.estimator_pub import EstimatorPub
    from qiskit.primitives.containers.sampler_pub import SamplerPub
    from qiskit.quantum_info import SparsePauliOp

__all__ = [
    "QPY_MAGIC",
    "openqasm_version",
    "parse_openqasm",
    "parse_circuit_text",
    "circuit_from_qpy",
    "circuit_from_qpy_base64",
    "circuit_to_qpy",
    "circuit_to_qpy_base64",
    "load_circuit_bytes",
    "sparse_pauli_op",
    "sampler_pub",
    "estimator_pub",
]

#: The first bytes of every QPY file.
QPY_MAGIC = b"QISKIT"

# Whitespace and comments that may precede the version header.
_LEADING = re.compile(r"\A(?:\s+|//[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)
_HEADER = re.compile(r"OPENQASM\s+([0-9]+)(?:\.([0-9]+))?\s*;")
_QASM2_POSITION = re.compile(r"^\s*(?:<input>|[^:]*):(\d+),(\d+):\s*(.*)$", re.DOTALL)
_QASM3_LEXER_POSITION = re.compile(r"^\s*L(\d+):C(\d+):\s*(.*)$", re.DOTALL)
_QASM3_POSITION = re.compile(r"^\s*(\d+),(\d+):\s*(.*)$", re.DOTALL)
_MAX_SNIPPET = 60
_MAX_EXPECTED = 6


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def openqasm_version(source: str) -> int:
    """The major OpenQASM version a program declares: 2 or 3 (3 when there is no header).

    Raises ``InvalidCircuitError`` for any other declared version.
    """
    start = _LEADING.match(source)
    rest = source[start.end() if start else 0 :]
    header = _HEADER.match(rest)
    if header is None:
        return 3
    major = int(header.group(1))
    if major not in (2, 3):
        line = source.count("\n", 0, len(source) - len(rest)) + 1
        raise InvalidCircuitError(
            f"line {line}: OpenQASM {header.group(1)}{'.' + header.group(2) if header.group(2) else ''} "
            "is not supported; declare OPENQASM 2.0; or OPENQASM 3.0;"
        )
    return major


def _snippet(source: str, line: int) -> str:
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1].strip()
    if len(text) > _MAX_SNIPPET:
        text = text[: _MAX_SNIPPET - 3] + "..."
    return f" in `{text}`" if text else ""


def _located(field: str, source: str, line: int | None, problem: str, version: int) -> InvalidCircuitError:
    problem = _one_line(problem).rstrip(".")
    if line is None:
        return InvalidCircuitError(f"{field}: {problem}; fix the OpenQASM {version} source")
    return InvalidCircuitError(
        f"{field}: line {line}: {problem}{_snippet(source, line)}; fix the OpenQASM {version} source at that line"
    )


def _parse_qasm2(source: str, field: str) -> QuantumCircuit:
    from qiskit import qasm2

    try:
        return qasm2.loads(
            source,
            include_path=(),
            custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
            custom_classical=qasm2.LEGACY_CUSTOM_CLASSICAL,
            strict=False,
        )
    except qasm2.QASM2Error as error:
        text = _one_line(getattr(error, "message", None) or str(error))
        match = _QASM2_POSITION.match(text)
        if match:
            return_error = _located(field, source, int(match.group(1)), match.group(3), 2)
        else:
            return_error = _located(field, source, None, text, 2)
        raise return_error from None


def _antlr_problem(error: BaseException) -> tuple[int, int, str] | None:
    """Line and text of an ANTLR syntax error hidden in the cause chain of a QASM3ParsingError."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, *[a for a in current.args if isinstance(a, BaseException)]):
            token = getattr(candidate, "offendingToken", None)
            if token is not None and getattr(token, "line", None) is not None:
                found = "end of file" if token.type == -1 else repr(token.text)
                problem = f"unexpected {found}"
                recognizer: Any = getattr(candidate, "recognizer", None)
                try:
                    expected = candidate.getExpectedTokens()  # type: ignore[attr-defined]
                    names = expected.toString(recognizer.literalNames, recognizer.symbolicNames)
                    alternatives = names.strip("{}").split(", ")
                    if names and len(alternatives) <= _MAX_EXPECTED:
                        problem = f"expected {' or '.join(alternatives)} but found {found}"
                except Exception:  # noqa: BLE001 - the expected set is a nicety
                    pass
                return int(token.line), int(getattr(token, "column", 0) or 0), problem
        current = current.__cause__ or current.__context__
    return None


def _span_line(error: BaseException) -> int | None:
    """The line of the innermost OpenQASM 3 AST node being converted when ``error`` was raised.

    Some importer errors (``IndexError: index out of range``) carry no position; the converter's
    frames still hold the node they were visiting, and every node has a source ``span``.
    """
    line: int | None = None
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frame = current.__traceback__
        while frame is not None:
            for value in list(frame.tb_frame.f_locals.values()):
                span = getattr(value, "span", None)
                start = getattr(span, "start_line", None)
                if isinstance(start, int) and type(value).__name__ != "Program":
                    line = start
            frame = frame.tb_next
        current = current.__cause__ or current.__context__
    return line


def _parse_qasm3(source: str, field: str) -> QuantumCircuit:
    from qiskit import qasm3

    try:
        # ANTLR prints lexer errors to stderr before raising; the step's stderr must stay one line.
        with contextlib.redirect_stderr(io.StringIO()):
            return qasm3.loads(source)
    except Exception as error:  # noqa: BLE001 - the importer raises several unrelated types
        text = _one_line(getattr(error, "message", None) or str(error))
        for pattern in (_QASM3_LEXER_POSITION, _QASM3_POSITION):
            match = pattern.match(text)
            if match:
                raise _located(field, source, int(match.group(1)), match.group(3), 3) from None
        located = _antlr_problem(error)
        if located is not None:
            line, column, problem = located
            lines = source.splitlines()
            first_on_line = 0 < line <= len(lines) and not lines[line - 1][:column].strip()
            if problem.startswith("expected ';'") and "found '" in problem and first_on_line and line > 1:
                problem += f" (is the ';' at the end of line {line - 1} missing?)"
            raise _located(field, source, line, problem, 3) from None
        problem = text or type(error).__name__
        raise _located(field, source, _span_line(error), problem, 3) from None


def parse_openqasm(source: str, *, field: str = "spec.circuit.openqasm") -> QuantumCircuit:
    """Parse OpenQASM 2 or 3 (chosen by the header) into a circuit; errors name the source line."""
    if not source.strip():
        raise InvalidCircuitError(f"{field}: the OpenQASM source is empty; put the program text there")
    try:
        version = openqasm_version(source)
    except InvalidCircuitError as error:
        raise InvalidCircuitError(f"{field}: {error}") from None
    if version == 2:
        return _parse_qasm2(source, field)
    return _parse_qasm3(source, field)


def circuit_from_qpy(data: bytes, *, field: str = "spec.circuit.qpy") -> QuantumCircuit:
    """The single circuit of a QPY payload."""
    from qiskit import qpy

    if not data.startswith(QPY_MAGIC):
        raise InvalidCircuitError(
            f"{field}: not QPY (it does not start with the QPY header {QPY_MAGIC.decode()}); "
            "write the circuit with qiskit.qpy.dump and base64-encode the file"
        )
    try:
        circuits = qpy.load(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - qpy raises QpyError, QiskitError, struct.error, ...
        raise InvalidCircuitError(
            f"{field}: cannot read the QPY payload ({_one_line(str(error)) or type(error).__name__}); "
            "write it with qiskit.qpy.dump from Qiskit 1.0 or newer"
        ) from None
    if len(circuits) != 1:
        raise InvalidCircuitError(f"{field}: the QPY payload holds {len(circuits)} circuits; put exactly one in it")
    circuit = circuits[0]
    if not hasattr(circuit, "num_qubits") or not hasattr(circuit, "parameters"):
        raise InvalidCircuitError(f"{field}: the QPY payload holds a schedule, not a circuit; dump a QuantumCircuit")
    return circuit


def circuit_from_qpy_base64(text: str, *, field: str = "spec.circuit.qpy") -> QuantumCircuit:
    """The single circuit of a base64-encoded QPY payload."""
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCircuitError(f"{field}: not base64; encode the QPY file with `base64 -w0 circuit.qpy`") from None
    return circuit_from_qpy(data, field=field)


def circuit_to_qpy(circuit: QuantumCircuit) -> bytes:
    """One circuit as QPY bytes."""
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return buffer.getvalue()


def circuit_to_qpy_base64(circuit: QuantumCircuit) -> str:
    """One circuit as base64-encoded QPY (what ``spec.circuit.qpy`` holds)."""
    return base64.b64encode(circuit_to_qpy(circuit)).decode("ascii")


def parse_circuit_text(text: str, *, field: str) -> QuantumCircuit:
    """Text that holds either OpenQASM 2/3 or base64 QPY (a ConfigMap ``data`` key)."""
    stripped = text.strip()
    if stripped and _HEADER.search(stripped[:4096]) is None and re.fullmatch(r"[A-Za-z0-9+/=\s]+", stripped):
        # Base64 of QPY starts with "UUlTS0lU" ("QISKIT").
        if "".join(stripped.split()).startswith("UUlTS0lU"):
            return circuit_from_qpy_base64(stripped, field=field)
    return parse_openqasm(text, field=field)


def load_circuit_bytes(data: bytes, *, field: str) -> QuantumCircuit:
    """A mounted ConfigMap key: raw QPY (``binaryData``), base64 QPY, or OpenQASM text."""
    if data.startswith(QPY_MAGIC):
        return circuit_from_qpy(data, field=field)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCircuitError(
            f"{field}: neither UTF-8 OpenQASM text nor QPY; store OpenQASM or base64 QPY under that key"
        ) from None
    return parse_circuit_text(text, field=field)


# --------------------------------------------------------------------------- PUBs


def sparse_pauli_op(paulis: Mapping[str, float]) -> SparsePauliOp:
    """``{"ZZ": 1.0, "XX": 0.5}`` as a ``SparsePauliOp`` (qubit 0 is the rightmost letter)."""
    from qiskit.quantum_info import SparsePauliOp

    return SparsePauliOp.from_list(list(paulis.items()))


def _values_array(parameter_values: Sequence[Sequence[float]] | np.ndarray | None, num_parameters: int) -> Any:
    import numpy as np

    if num_parameters == 0 or parameter_values is None or len(parameter_values) == 0:
        return None
    array = np.asarray(parameter_values, dtype=float)
    if array.ndim != 2 or array.shape[1] != num_parameters:
        raise InvalidCircuitError(
            f"parameter values have shape {array.shape}; expected (bindings, {num_parameters}) "
            "in the circuit's parameter order"
        )
    return array


def sampler_pub(
    circuit: QuantumCircuit,
    parameter_values: Sequence[Sequence[float]] | np.ndarray | None,
    shots: int,
) -> SamplerPub:
    """One sampler PUB: the circuit, every binding as one bindings array (shape ``(bindings,)``)."""
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    values = _values_array(parameter_values, circuit.num_parameters)
    return SamplerPub.coerce((circuit, values, shots) if values is not None else (circuit, None, shots))


def estimator_pub(
    circuit: QuantumCircuit,
    observables: Sequence[SparsePauliOp],
    parameter_values: Sequence[Sequence[float]] | np.ndarray | None,
    precision: float,
) -> EstimatorPub:
    """One estimator PUB whose result has shape ``(bindings, observables)``, or ``(observables,)``
    for an unparameterized circuit.

    The bindings get shape ``(bindings, 1)`` so they broadcast against the ``(observables,)`` array.
    """
    from qiskit.primitives.containers.estimator_pub import EstimatorPub

    values = _values_array(parameter_values, circuit.num_parameters)
    if values is None:
        return EstimatorPub.coerce((circuit, list(observables), None, precision))
    values = values.reshape(values.shape[0], 1, values.shape[1])
    return EstimatorPub.coerce((circuit, list(observables), values, precision))
