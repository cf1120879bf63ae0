"""The ibm-submit step: ISA-transpile every PUB for the IBM backend; submit them once, in one job (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import (
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    EGRESS_IBM_QUANTUM,
    SEMAPHORE_PARAMETER,
    Condition,
    Resources,
    StepSpec,
)

__all__ = ["ibm_submit", "STEP"]


def ibm_submit(
    circuit: Path,
    request: Path,
    bindings: Path,
    backend: str,
    target: str,
    credentials_secret: str,
    credentials_key: str,
    semaphore: str,
    max_execution_time: str,
    out: Path,
) -> None:
    """Transpile every PUB (``circuit``: one circuit per PUB; ``bindings``: their rows) for the
    target's device, then adopt the job an earlier attempt submitted or submit one holding all the
    PUBs (``qiskit_argo.ibm.exactly_once.submit_once``) with ``max_execution_time`` the smaller of
    the reserved seconds (``max-execution-time``, ``0`` = none reserved) and the job's
    ``spec.backend.ibm.maxExecutionTime``; write ``submission.json`` as soon as the job id is known,
    and ``ibm-jobs.json`` (the local-testing job store; ``{}`` for IBM Quantum)."""
    from qiskit_argo.ibm import job_steps

    job_steps.submit_step(
        circuit_file=circuit,
        request_file=request,
        backend_json=backend,
        target_json=target,
        secret_ref=(credentials_secret, credentials_key),
        out_dir=out,
        reserved_seconds=job_steps.parse_max_execution_time(max_execution_time),
        bindings_dir=bindings,
    )


STEP = StepSpec(
    name="ibm-submit",
    function=ibm_submit,
    component="executor",
    phase="Running",
    activity="Submitting the circuits to IBM Quantum",
    shows_backend=True,
    input_artifacts={"circuit": "circuit.qpy", "request": "request.json", "bindings": "bindings"},
    input_parameters=(
        "backend",
        "target",
        CREDENTIALS_SECRET_PARAMETER,
        CREDENTIALS_KEY_PARAMETER,
        SEMAPHORE_PARAMETER,
        "max-execution-time",
    ),
    output_artifacts={"ibm-jobs": "ibm-jobs.json"},
    output_parameters={"submission": "submission.json"},
    when=Condition("executor", "ibm"),
    resources=Resources(requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "2", "memory": "4Gi"}),
    egress=EGRESS_IBM_QUANTUM,
    credentials=True,
    semaphore=True,
    preload=("qiskit.transpiler", "qiskit_ibm_runtime.fake_provider", "qiskit_argo.ibm.job_steps"),
    warm=False,
)
