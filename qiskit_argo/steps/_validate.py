"""The validate step: read the QiskitJob, parse and analyse its circuits, read its sweeps (validator image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import StepSpec

__all__ = ["validate", "STEP"]


def validate(job: Path, limits: str, circuit_dir: Path | None, sources_dir: Path | None, out: Path) -> None:
    """Check the job, its circuits and sweeps; write ``circuit.qpy`` (one circuit per PUB),
    ``request.json``, ``bindings/`` and ``metrics.json``.

    ``circuit_dir`` holds the referenced ConfigMap keys as ``<ConfigMap>/<key>``; ``sources_dir``
    the job's artifacts as ``<i>`` (``api.job.artifact_keys``)."""
    from qiskit_argo import validation

    validation.run_step(job_file=job, limits_json=limits, circuit_dir=circuit_dir, out_dir=out, sources_dir=sources_dir)


STEP = StepSpec(
    name="validate",
    function=validate,
    component="validator",
    phase="Validating",
    activity="Validating the circuit",
    input_artifacts={"job": "job.json"},
    input_parameters=("limits",),
    output_artifacts={"circuit": "circuit.qpy", "request": "request.json", "bindings": "bindings"},
    output_parameters={"metrics": "metrics.json"},
    mounts_circuit_source=True,
    reads_sources=True,
    preload=("numpy", "qiskit.qasm2", "qiskit.qpy", "qiskit_argo.sweeps", "qiskit_argo.validation"),
)
