"""The ibm-wait step: re-attach to the submitted IBM job by id, wait, write the run's one part (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import (
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    EGRESS_IBM_QUANTUM,
    SEMAPHORE_PARAMETER,
    Condition,
    Part,
    Resources,
    StepSpec,
)

__all__ = ["ibm_wait", "STEP"]


def ibm_wait(
    request: Path,
    ibm_jobs: Path,
    backend: str,
    target: str,
    submission: str,
    credentials_secret: str,
    credentials_key: str,
    semaphore: str,
    out: Path,
) -> None:
    """Wait for the job ``submission`` names (never submits; ``qiskit_argo.ibm.exactly_once.wait``);
    write ``part.json`` (the run's one part, ``SINGLE_PART``: every PUB's result in execute-aer's
    part format plus an ``ibm`` block; store-results merges and summarizes it) and ``ibm.json``
    (the job's ``IbmJobStatus``)."""
    from qiskit_argo.ibm import job_steps

    job_steps.wait_step(
        request_file=request,
        store_file=ibm_jobs,
        backend_json=backend,
        target_json=target,
        submission_json=submission,
        secret_ref=(credentials_secret, credentials_key),
        out_dir=out,
    )


STEP = StepSpec(
    name="ibm-wait",
    function=ibm_wait,
    component="executor",
    phase="Running",
    activity="Running the circuit on IBM Quantum",
    shows_backend=True,
    input_artifacts={"request": "request.json", "ibm-jobs": "ibm-jobs.json"},
    input_parameters=(
        "backend",
        "target",
        "submission",
        CREDENTIALS_SECRET_PARAMETER,
        CREDENTIALS_KEY_PARAMETER,
        SEMAPHORE_PARAMETER,
    ),
    output_parameters={"ibm": "ibm.json"},
    part=Part(cached=False, shard_parameter=None),
    when=Condition("executor", "ibm"),
    resources=Resources(requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "2", "memory": "4Gi"}),
    egress=EGRESS_IBM_QUANTUM,
    credentials=True,
    semaphore=True,
    preload=("qiskit_ibm_runtime.fake_provider", "qiskit_argo.execution", "qiskit_argo.ibm.job_steps"),
    warm=False,
)
