"""Circuits through QPY (raw bytes or base64), which is how circuits travel between steps.

A job's circuit source holds one circuit (``circuit_from_qpy``); the ``circuit`` artifact holds
one circuit per PUB, in PUB order (``circuits_to_qpy`` / ``circuits_from_qpy``).

Before ``qpy.load`` allocates anything, the file header and the first circuit's header are read
here: a 40-byte file can claim 40 million qubits (``qpy.load`` then runs for minutes) or 2^32
classical bits.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qiskit_argo.circuits._expansion import check_circuit
from qiskit_argo.circuits._limits import CircuitLimits, check_width, invalid
from qiskit_argo.circuits._native import is_panic, panicked, quiet_native_stderr
from qiskit_argo.errors import InvalidCircuitError, one_line

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

__all__ = [
    "QPY_MAGIC",
    "circuit_from_qpy",
    "circuit_from_qpy_base64",
    "circuit_to_qpy",
    "circuit_to_qpy_base64",
    "circuits_from_qpy",
    "circuits_to_qpy",
]

#: The first bytes of every QPY file.
QPY_MAGIC = b"QISKIT"
_MAX_PROBLEM = 120
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_QPY_ERROR = re.compile(r"Error:\s*(.+?)\s*(?:\n|$)")
_QPY_FIELD = re.compile(r"While parsing field '(\w+)'")


def _qpy_problem(error: BaseException) -> str:
    """What a QPY loader error says, without its ANSI colours and its Rust backtrace."""
    raw = getattr(error, "message", None) or str(error)  # QiskitError's str() is the repr of its message
    text = _ANSI.sub("", str(raw)[:8192].replace("\\x1b", "\x1b").replace("\\n", "\n"))
    found = _QPY_ERROR.search(text)
    problem = found.group(1) if found else text.splitlines()[0] if text.strip() else type(error).__name__
    field = _QPY_FIELD.search(text)
    if field:
        problem += f" (field {field.group(1)})"
    return one_line(problem, _MAX_PROBLEM)


def _prescan(data: bytes, field: str, limits: CircuitLimits | None, count: int | None = 1) -> None:
    """Refuse a payload of other than ``count`` circuits (None: any number), and one whose first
    circuit's header claims more qubits or bits than the ``limits`` allow, from the headers alone."""
    try:
        version = data[6]
        wide = version >= 10
        header = "!6sBBBBQc" if wide else "!6sBBBBQ"
        num_programs = struct.unpack_from(header, data)[5]
        offset = struct.calcsize(header)
        if count is not None and num_programs != count:
            raise invalid(f"{field}: the QPY payload holds {num_programs} circuits; put exactly {_count(count)} in it")
        if version >= 5:
            kind = data[offset : offset + 1]
            offset += 1
            if kind != b"q":
                return  # qpy.load says what it is (a schedule, or garbage)
        if version >= 16:
            offset = struct.unpack_from("!Q", data, offset)[0]
        qubits_at = offset + (10 if version < 2 else 5)
        num_qubits, num_clbits = struct.unpack_from("!II", data, qubits_at)
    except (struct.error, IndexError):
        return  # too short to hold a circuit: qpy.load reports it
    if limits is not None:
        check_width(field, num_qubits, num_clbits, limits)


def _count(count: int) -> str:
    return "one" if count == 1 else str(count)


def _load(data: bytes, field: str, limits: CircuitLimits | None, count: int | None) -> list[QuantumCircuit]:
    from qiskit import qpy

    if not data.startswith(QPY_MAGIC):
        raise InvalidCircuitError(
            f"{field}: not QPY (it does not start with the QPY header {QPY_MAGIC.decode()}); "
            "write the circuit with qiskit.qpy.dump and base64-encode the file"
        )
    _prescan(data, field, limits, count)
    try:
        with quiet_native_stderr():
            circuits = qpy.load(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - qpy raises QpyError, QiskitError, struct.error, ...
        raise invalid(
            f"{field}: cannot read the QPY payload ({_qpy_problem(error)}); "
            "write it with qiskit.qpy.dump from Qiskit 1.0 or newer"
        ) from None
    except BaseException as error:
        if is_panic(error):
            raise panicked(field, error, "QPY") from None
        raise
    if count is not None and len(circuits) != count:
        raise InvalidCircuitError(
            f"{field}: the QPY payload holds {len(circuits)} circuits; put exactly {_count(count)} in it"
        )
    for circuit in circuits:
        if not hasattr(circuit, "num_qubits") or not hasattr(circuit, "parameters"):
            raise InvalidCircuitError(
                f"{field}: the QPY payload holds a schedule, not a circuit; dump a QuantumCircuit"
            )
        if limits is not None:
            check_circuit(circuit, limits, field=field)
    return list(circuits)


def circuit_from_qpy(
    data: bytes,
    *,
    field: str = "spec.circuit.qpy",
    limits: CircuitLimits | None = None,
) -> QuantumCircuit:
    """The single circuit of a QPY payload (checked with ``check_circuit`` when ``limits`` are given)."""
    return _load(data, field, limits, 1)[0]


def circuits_from_qpy(
    data: bytes,
    *,
    field: str = "circuit artifact",
    count: int | None = None,
    limits: CircuitLimits | None = None,
) -> list[QuantumCircuit]:
    """Every circuit of a QPY payload, in order: the ``circuit`` artifact's one per PUB (exactly
    ``count`` of them when given; each checked with ``check_circuit`` when ``limits`` are given)."""
    return _load(data, field, limits, count)


def circuit_from_qpy_base64(
    text: str,
    *,
    field: str = "spec.circuit.qpy",
    limits: CircuitLimits | None = None,
) -> QuantumCircuit:
    """The single circuit of a base64-encoded QPY payload."""
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCircuitError(f"{field}: not base64; encode the QPY file with `base64 -w0 circuit.qpy`") from None
    return circuit_from_qpy(data, field=field, limits=limits)


def circuit_to_qpy(circuit: QuantumCircuit) -> bytes:
    """One circuit as QPY bytes."""
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return buffer.getvalue()


def circuits_to_qpy(circuits: Sequence[QuantumCircuit]) -> bytes:
    """Several circuits as one QPY payload, in order (the ``circuit`` artifact: one per PUB)."""
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(list(circuits), buffer)
    return buffer.getvalue()


def circuit_to_qpy_base64(circuit: QuantumCircuit) -> str:
    """One circuit as base64-encoded QPY (what ``spec.circuit.qpy`` holds)."""
    return base64.b64encode(circuit_to_qpy(circuit)).decode("ascii")
