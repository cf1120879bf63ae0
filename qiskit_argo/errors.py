"""The exception tree: every failure a person can act on, permanent or transient."""

from __future__ import annotations

__all__ = [
    "QiskitArgoError",
    "PermanentError",
    "TransientError",
    "InvalidJobError",
    "InvalidCircuitError",
    "LimitExceededError",
    "ExecutionError",
    "EXIT_OK",
    "EXIT_TRANSIENT",
    "EXIT_PERMANENT",
]

#: Exit codes shared by the CLI and the step runner. Argo's retryStrategy never retries
#: ``EXIT_PERMANENT``; the CLI uses the same code for "bad input".
EXIT_OK = 0
EXIT_TRANSIENT = 1
EXIT_PERMANENT = 2


class QiskitArgoError(Exception):
    """Base of every error qiskit-argo raises on purpose.

    ``reason`` is a CamelCase machine word (it ends up in ``status.reason`` and conditions);
    ``str(error)`` is the one line a person reads.
    """

    reason = "Error"
    permanent = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def exit_code(self) -> int:
        return EXIT_PERMANENT if self.permanent else EXIT_TRANSIENT


class PermanentError(QiskitArgoError):
    """Retrying cannot help: the input is wrong."""

    reason = "PermanentFailure"
    permanent = True


class TransientError(QiskitArgoError):
    """Retrying may help: a backend, the network or the cluster failed."""

    reason = "TransientFailure"


class InvalidJobError(PermanentError):
    """The QiskitJob manifest itself is malformed (YAML, apiVersion/kind, fields)."""

    reason = "InvalidSpec"


class InvalidCircuitError(PermanentError):
    """The circuit cannot be parsed or does not fit the job (parameters, observables)."""

    reason = "InvalidCircuit"


class LimitExceededError(PermanentError):
    """The circuit or the request exceeds a configured limit (qubits, shots, size, sweep)."""

    reason = "LimitExceeded"


class ExecutionError(TransientError):
    """The backend failed while running valid work."""

    reason = "ExecutionFailed"
