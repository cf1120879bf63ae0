"""The schedule step: choose the backend and say why, and which executor runs the job (validator image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import StepSpec

__all__ = ["schedule", "STEP"]


def schedule(request: Path, metrics: str, out: Path) -> None:
    """Choose the backend and simulation method; write ``backend.json`` with the reason and
    ``executor`` (the word the execute steps' ``when`` compares: ``aer``)."""
    from qiskit_argo import scheduling

    scheduling.run_step(request_file=request, metrics_json=metrics, out_dir=out)


STEP = StepSpec(
    name="schedule",
    function=schedule,
    component="validator",
    phase="Scheduling",
    activity="Choosing a backend",
    input_artifacts={"request": "request.json"},
    input_parameters=("metrics",),
    output_parameters={"backend": "backend.json", "executor": "executor.txt"},
    preload=("qiskit_argo.scheduling",),
)
