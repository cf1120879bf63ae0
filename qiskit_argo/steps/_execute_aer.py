"""The execute-aer step: run the PUBs on Qiskit Aer, in-process, no network (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import EGRESS_NONE, Condition, Resources, StepSpec

__all__ = ["execute_aer", "STEP"]


def execute_aer(circuit: Path, request: Path, backend: str, target: str, semaphore: str, out: Path) -> None:
    """Run the PUBs on Qiskit Aer with the options the schedule step settled on (``target``: an aer
    QiskitBackend's defaults under the job's own; ``{}`` for the built-in Aer); write the full
    ``result.json`` and a bounded ``summary.json``. ``semaphore`` is the concurrency slot Argo holds
    for the step (the QiskitBackend's ``maxConcurrentJobs``); the step itself does not read it."""
    from qiskit_argo import execution

    execution.run_step(
        circuit_file=circuit, request_file=request, backend_json=backend, out_dir=out, target_json=target
    )


STEP = StepSpec(
    name="execute-aer",
    function=execute_aer,
    component="executor",
    phase="Running",
    activity="Running the circuit",
    shows_backend=True,
    input_artifacts={"circuit": "circuit.qpy", "request": "request.json"},
    input_parameters=("backend", "target", "semaphore"),
    output_artifacts={"result": "result.json"},
    output_parameters={"summary": "summary.json"},
    when=Condition("executor", "aer"),
    resources=Resources(requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "2", "memory": "4Gi"}),
    job_resources=True,
    egress=EGRESS_NONE,
    semaphore=True,
    preload=("qiskit_aer.primitives", "qiskit_argo.execution"),
)
