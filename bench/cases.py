"""The benchmark workloads, shared by the bare Qiskit/Aer scripts and the qiskit-argo jobs.

Each case is an OpenQASM 3 circuit plus parameter bindings, so the bare script and the job run
exactly the same circuit with the same shots, seed and method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Case", "CASES"]


@dataclass(frozen=True)
class Case:
    name: str
    qasm: str
    shots: int
    seed: int
    method: str = "automatic"
    bindings: list[list[float]] = field(default_factory=list)

    def job_yaml(self) -> str:
        """The QiskitJob for this case (what `qiskit-argo run` executes)."""
        lines = [
            "apiVersion: qiskit-argo.io/v1alpha1",
            "kind: QiskitJob",
            f"metadata:\n  name: bench-{self.name}",
            "spec:",
            "  circuit:",
            "    openqasm: |",
            *(f"      {line}" for line in self.qasm.splitlines()),
            f"  shots: {self.shots}",
            "  optimizationLevel: 0",
            # Every repeat simulates: a seeded run would otherwise reuse the first one's result.
            "  execution:\n    cache: false",
            f"  backend:\n    aer:\n      seed: {self.seed}\n      method: {self.method}",
        ]
        if self.bindings:
            lines.append("  parameterValues:")
            lines += [f"    - [{', '.join(repr(v) for v in row)}]" for row in self.bindings]
        return "\n".join(lines) + "\n"


def _ansatz(num_qubits: int, layers: int) -> tuple[str, int]:
    """A hardware-efficient ansatz: Ry layers and a CX ladder, one parameter per qubit per layer."""
    names = [f"t{layer}_{q}" for layer in range(layers) for q in range(num_qubits)]
    body = [f"input float[64] {name};" for name in names]
    body += [f"qubit[{num_qubits}] q;", f"bit[{num_qubits}] c;"]
    for layer in range(layers):
        body += [f"ry(t{layer}_{q}) q[{q}];" for q in range(num_qubits)]
        body += [f"cx q[{q}], q[{q + 1}];" for q in range(num_qubits - 1)]
    body.append("c = measure q;")
    return 'OPENQASM 3.0;\ninclude "stdgates.inc";\n' + "\n".join(body), len(names)


def _sweep(num_bindings: int, num_parameters: int) -> list[list[float]]:
    return [
        [round(math.sin(0.37 * b + 0.11 * p) * math.pi, 12) for p in range(num_parameters)] for b in range(num_bindings)
    ]


def _wide(num_qubits: int, layers: int) -> str:
    """A 20-qubit circuit that is not Clifford (T and Rz layers), so Aer uses the statevector."""
    body = [f"qubit[{num_qubits}] q;", f"bit[{num_qubits}] c;"]
    for layer in range(layers):
        body += [f"h q[{q}];" for q in range(num_qubits)]
        body += [f"rz({0.1 * (layer + 1) + 0.01 * q}) q[{q}];" for q in range(num_qubits)]
        body += [f"cx q[{q}], q[{(q + 1) % num_qubits}];" for q in range(layer % 2, num_qubits - 1, 2)]
        body += [f"t q[{q}];" for q in range(0, num_qubits, 3)]
    body.append("c = measure q;")
    return 'OPENQASM 3.0;\ninclude "stdgates.inc";\n' + "\n".join(body)


_ANSATZ, _NPARAMS = _ansatz(8, 2)

BELL = Case(
    name="bell",
    qasm='OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;',
    shots=1024,
    seed=1234,
)
SWEEP = Case(name="sweep1000", qasm=_ANSATZ, shots=1000, seed=42, bindings=_sweep(1000, _NPARAMS))
WIDE = Case(name="wide20", qasm=_wide(20, 12), shots=1000, seed=7, method="statevector")

CASES = {case.name: case for case in (BELL, SWEEP, WIDE)}
