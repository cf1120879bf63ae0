"""The ibm-probe service step: a QiskitBackend's device now, and whether its credentials work (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import (
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    EGRESS_IBM_QUANTUM,
    StepSpec,
)

__all__ = ["ibm_probe", "STEP"]


def ibm_probe(target: str, credentials_secret: str, credentials_key: str, out: Path) -> None:
    """Write ``probe.json``: the device's size, gates and queue, and ``credentialsValid``. A rejected
    key or an unknown backend is reported there (exit 0, for the controller to copy); only a
    transient failure fails the step."""
    from qiskit_argo.ibm import service_steps

    service_steps.probe_step(target_json=target, secret_ref=(credentials_secret, credentials_key), out_dir=out)


STEP = StepSpec(
    name="ibm-probe",
    function=ibm_probe,
    component="executor",
    phase="Running",
    activity="Probing the backend",
    input_parameters=("target", CREDENTIALS_SECRET_PARAMETER, CREDENTIALS_KEY_PARAMETER),
    output_parameters={"probe": "probe.json"},
    egress=EGRESS_IBM_QUANTUM,
    credentials=True,
    preload=("qiskit_ibm_runtime.fake_provider", "qiskit_argo.ibm.service_steps"),
)
