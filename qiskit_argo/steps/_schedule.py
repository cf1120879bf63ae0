"""The schedule step: choose the backend from the catalogue and say why, and which executor runs
the job, where, with which credentials and under which semaphore (validator image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import StepSpec

__all__ = ["schedule", "STEP"]


def schedule(request: Path, catalogue: Path, metrics: str, reserved: str, out: Path) -> None:
    """Choose the backend (and Aer's method) from the catalogue; write ``backend.json`` with the
    reason, ``executor`` (the word the execute steps' ``when`` compares: ``aer`` or ``ibm``), the
    ``target``, the ``credentials-secret`` / ``credentials-key`` to mount, the ``semaphore`` key and
    ``estimate.json``; fail with ``BudgetExceeded`` when the estimate is above ``reserved`` (the
    controller's reservation, ``{}`` without a budget)."""
    from qiskit_argo import scheduling

    scheduling.run_step(
        request_file=request, metrics_json=metrics, out_dir=out, catalogue_file=catalogue, reserved_json=reserved
    )


STEP = StepSpec(
    name="schedule",
    function=schedule,
    component="validator",
    phase="Scheduling",
    activity="Choosing a backend",
    input_artifacts={"request": "request.json", "catalogue": "catalogue.json"},
    input_parameters=("metrics", "reserved"),
    output_parameters={
        "backend": "backend.json",
        "executor": "executor.txt",
        "target": "target.json",
        "credentials-secret": "credentials-secret.txt",
        "credentials-key": "credentials-key.txt",
        "semaphore": "semaphore.txt",
        "estimate": "estimate.json",
    },
    preload=("qiskit_argo.scheduling",),
)
