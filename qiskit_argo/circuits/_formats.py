"""A circuit whose format is not declared (a ConfigMap key): raw QPY, base64 QPY or OpenQASM."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from qiskit_argo.circuits._limits import CircuitLimits
from qiskit_argo.circuits._openqasm import parse_openqasm
from qiskit_argo.circuits._qpy import QPY_MAGIC, circuit_from_qpy, circuit_from_qpy_base64
from qiskit_argo.circuits._text import HEADER
from qiskit_argo.errors import InvalidCircuitError

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

__all__ = ["parse_circuit_text", "load_circuit_bytes"]

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
#: ``QISKIT``, the QPY magic, in base64.
_QPY_MAGIC_BASE64 = "UUlTS0lU"


def parse_circuit_text(text: str, *, field: str, limits: CircuitLimits | None = None) -> QuantumCircuit:
    """Text that holds either OpenQASM 2/3 or base64 QPY (a ConfigMap ``data`` key)."""
    stripped = text.strip()
    if stripped and HEADER.search(stripped[:4096]) is None and _BASE64.fullmatch(stripped):
        if "".join(stripped[:64].split()).startswith(_QPY_MAGIC_BASE64):
            return circuit_from_qpy_base64(stripped, field=field, limits=limits)
    return parse_openqasm(text, field=field, limits=limits)


def load_circuit_bytes(data: bytes, *, field: str, limits: CircuitLimits | None = None) -> QuantumCircuit:
    """A mounted ConfigMap key: raw QPY (``binaryData``), base64 QPY, or OpenQASM text."""
    if data.startswith(QPY_MAGIC):
        return circuit_from_qpy(data, field=field, limits=limits)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCircuitError(
            f"{field}: neither UTF-8 OpenQASM text nor QPY; store OpenQASM or base64 QPY under that key"
        ) from None
    return parse_circuit_text(text, field=field, limits=limits)
