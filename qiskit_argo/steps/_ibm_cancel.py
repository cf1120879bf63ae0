"""The ibm-cancel service step: cancel a QiskitJob's unfinished IBM jobs, found by its identity tag (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import (
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    EGRESS_IBM_QUANTUM,
    StepSpec,
)

__all__ = ["ibm_cancel", "STEP"]


def ibm_cancel(target: str, identity: str, credentials_secret: str, credentials_key: str, out: Path) -> None:
    """Cancel the jobs carrying the tag of ``identity`` (JSON ``{"namespace","name","uid","generation"}``);
    write ``cancelled.json`` (``{"cancelled": [ids]}``)."""
    from qiskit_argo.ibm import service_steps

    service_steps.cancel_step(
        target_json=target, identity_json=identity, secret_ref=(credentials_secret, credentials_key), out_dir=out
    )


STEP = StepSpec(
    name="ibm-cancel",
    function=ibm_cancel,
    component="executor",
    phase="Running",
    activity="Cancelling the IBM Quantum job",
    input_parameters=("target", "identity", CREDENTIALS_SECRET_PARAMETER, CREDENTIALS_KEY_PARAMETER),
    output_parameters={"cancelled": "cancelled.json"},
    egress=EGRESS_IBM_QUANTUM,
    credentials=True,
    preload=("qiskit_argo.ibm.service_steps",),
)
