"""What a circuit is checked against, and the errors for a circuit that does not fit."""

from __future__ import annotations

from typing import Final, Protocol

from qiskit_argo.errors import InvalidCircuitError, LimitExceededError, one_line

__all__ = [
    "MAX_NESTING",
    "CircuitLimits",
    "Refused",
    "invalid",
    "over_limit",
    "check_width",
]

#: Deepest nesting of gate definitions and control-flow blocks that is expanded.
MAX_NESTING: Final = 100


class CircuitLimits(Protocol):
    """What the circuit checks read from ``qiskit_argo.request.Limits``."""

    @property
    def max_qubits(self) -> int: ...

    @property
    def max_circuit_size(self) -> int: ...


class Refused(Exception):
    """A problem found while walking a circuit; ``check_circuit`` adds the field and the line."""

    def __init__(self, problem: str, todo: str, *, gate: str | None = None) -> None:
        super().__init__(problem)
        self.problem, self.todo, self.gate = problem, todo, gate


def invalid(message: str) -> InvalidCircuitError:
    """An ``InvalidCircuitError`` whose message is one line."""
    return InvalidCircuitError(one_line(message))


def over_limit(message: str) -> LimitExceededError:
    """A ``LimitExceededError`` whose message is one line."""
    return LimitExceededError(one_line(message))


def check_width(field: str, num_qubits: int, num_clbits: int, limits: CircuitLimits) -> None:
    """Refuse more qubits than ``maxQubits`` or more classical bits than ``maxCircuitSize`` (no
    circuit writes more bits than it has instructions)."""
    if num_qubits > limits.max_qubits:
        raise over_limit(
            f"{field}: {num_qubits} qubits exceeds the limit of {limits.max_qubits} (maxQubits); use a smaller circuit"
        )
    if num_clbits > limits.max_circuit_size:
        raise over_limit(
            f"{field}: {num_clbits} clbits exceeds the limit of {limits.max_circuit_size} (maxCircuitSize: a circuit "
            "cannot write more bits than it has instructions); use fewer classical bits"
        )
