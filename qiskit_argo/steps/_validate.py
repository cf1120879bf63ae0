"""The validate step: read the QiskitJob, parse and analyse its circuit (validator image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import StepSpec

__all__ = ["validate", "STEP"]


def validate(job: Path, limits: str, circuit_dir: Path | None, out: Path) -> None:
    """Parse and analyse the job's circuit; write ``circuit.qpy``, ``request.json``, ``metrics.json``."""
    from qiskit_argo import validation

    validation.run_step(job_file=job, limits_json=limits, circuit_dir=circuit_dir, out_dir=out)


STEP = StepSpec(
    name="validate",
    function=validate,
    component="validator",
    phase="Validating",
    activity="Validating the circuit",
    input_artifacts={"job": "job.json"},
    input_parameters=("limits",),
    output_artifacts={"circuit": "circuit.qpy", "request": "request.json"},
    output_parameters={"metrics": "metrics.json"},
    mounts_circuit_source=True,
    preload=("qiskit.qasm2", "qiskit.qpy", "qiskit_argo.validation"),
)
