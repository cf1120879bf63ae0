"""The schedule step: choose the backend and the Aer simulation method, and say why.

Only Qiskit Aer exists for now. The method is the one the job sets; otherwise ``automatic``, and the
reason predicts what Aer's automatic choice will be for this circuit (stabilizer for Clifford-only
circuits without noise, density_matrix for noisy runs with more shots than 2^qubits, statevector
otherwise), so a person reading ``status.backend.reason`` knows what ran and how to change it.

Pure logic (``choose_backend``) plus the thin file wrapper ``run_step``. Imports no Qiskit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from qiskit_argo.api import BackendStatus, CircuitMetrics, Primitive
from qiskit_argo.request import ExecutionRequest
from qiskit_argo.stepio import load_request, parse_parameter

__all__ = [
    "AER",
    "AER_DEFAULT_SHOTS",
    "CLIFFORD_INSTRUCTIONS",
    "EXECUTOR_FILE",
    "is_clifford",
    "choose_backend",
    "executor",
    "run_step",
]

AER = "aer"
#: The schedule step's ``executor`` output: the word an execute step's ``when`` compares
#: (``qiskit_argo.steps``: execute-aer runs when it is ``aer``).
EXECUTOR_FILE = "executor.txt"
#: Shots ``AerSimulator.run`` takes when none are given (the Aer estimator gives none).
AER_DEFAULT_SHOTS = 1024

#: Instructions the stabilizer method runs whatever their parameters (``rz`` is left out: it is
#: Clifford only at multiples of pi/2, which the metrics cannot tell).
CLIFFORD_INSTRUCTIONS = frozenset(
    {
        "id", "x", "y", "z", "h", "s", "sdg", "sx", "sxdg", "cx", "cy", "cz", "swap", "ecr", "pauli",
        "measure", "reset", "barrier", "delay",
    }
)  # fmt: skip

#: Above this many qubits a dense statevector needs more memory than a typical pod has.
_LARGE_STATEVECTOR_QUBITS = 28


def is_clifford(count_ops: Mapping[str, int]) -> bool:
    """Whether every instruction of the circuit is one the stabilizer method runs."""
    return all(name in CLIFFORD_INSTRUCTIONS for name in count_ops)


def _memory(num_qubits: int, density: bool = False) -> str:
    size = 16 * 2 ** (num_qubits * (2 if density else 1))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.0f} EiB"


def choose_backend(request: ExecutionRequest, metrics: CircuitMetrics) -> BackendStatus:
    """The backend (Aer), the method, and a reason a person can read."""
    aer = request.aer
    method = aer.method
    n = metrics.num_qubits
    noise = f" with the {aer.noise_model} noise model" if aer.noise_model else ""
    if method != "automatic":
        reason = f"spec.backend.aer.method={method}: set in the job{noise}"
        if method == "stabilizer" and not is_clifford(metrics.count_ops):
            others = sorted(set(metrics.count_ops) - CLIFFORD_INSTRUCTIONS)
            reason += f" (non-Clifford instructions {', '.join(others[:5])} must have Clifford angles)"
        return BackendStatus(name=AER, method=method, reason=reason)

    prefix = "spec.backend.aer.method=automatic:"
    gates = sorted(set(metrics.count_ops) - CLIFFORD_INSTRUCTIONS)
    if request.primitive == Primitive.SAMPLER.value:
        shots, what = request.shots or 1024, "shots"
    else:  # the Aer estimator averages its noisy expectation values over Aer's default shots
        shots, what = AER_DEFAULT_SHOTS, "estimator shots"
    if aer.noise_model:
        if n < 64 and shots > 2**n:
            why = (
                f"noisy simulation ({aer.noise_model}) with {shots} {what} > 2^{n}, "
                f"Aer will use the density_matrix method ({_memory(n, density=True)} of state)"
            )
        else:
            why = (
                f"noisy simulation ({aer.noise_model}), "
                "Aer will use the statevector method, one noisy trajectory per shot"
            )
        return BackendStatus(name=AER, method="automatic", reason=f"{prefix} {why}")
    if is_clifford(metrics.count_ops):
        why = "Clifford-only circuit, Aer will use the stabilizer method"
    else:
        shown = ", ".join(gates[:4]) + (", ..." if len(gates) > 4 else "")
        why = (
            f"{n}-qubit circuit with gates outside the Clifford set ({shown}), "
            f"Aer will use the statevector method ({_memory(n)})"
        )
        if n >= _LARGE_STATEVECTOR_QUBITS:
            why += "; if it runs out of memory set spec.backend.aer.method=matrix_product_state"
    return BackendStatus(name=AER, method="automatic", reason=f"{prefix} {why}")


def executor(backend: BackendStatus) -> str:
    """Which execute step runs the job on ``backend``: ``aer`` (the only one for now)."""
    return AER


def run_step(request_file: Path, metrics_json: str, out_dir: Path) -> None:
    """The schedule step: write ``backend.json`` (BackendStatus) for the request and metrics, and
    ``executor.txt``, the one word that picks the execute step."""
    status = choose_backend(load_request(request_file), parse_parameter(CircuitMetrics, metrics_json, "metrics"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "backend.json").write_text(json.dumps(status.dump()))
    (out_dir / EXECUTOR_FILE).write_text(executor(status))
