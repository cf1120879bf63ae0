"""The session-open service step: open a runtime session or batch for a QiskitSession (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import (
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    EGRESS_IBM_QUANTUM,
    StepSpec,
)

__all__ = ["session_open", "STEP"]


def session_open(target: str, session: str, credentials_secret: str, credentials_key: str, out: Path) -> None:
    """Open a session or batch (``session``: JSON ``{"mode","maxTime"}``) on the target's device;
    write ``session.json`` (``{"sessionId","state","device"}``)."""
    from qiskit_argo.ibm import service_steps

    service_steps.session_open_step(
        target_json=target, session_json=session, secret_ref=(credentials_secret, credentials_key), out_dir=out
    )


STEP = StepSpec(
    name="session-open",
    function=session_open,
    component="executor",
    phase="Running",
    activity="Opening the IBM Quantum session",
    input_parameters=("target", "session", CREDENTIALS_SECRET_PARAMETER, CREDENTIALS_KEY_PARAMETER),
    output_parameters={"session": "session.json"},
    egress=EGRESS_IBM_QUANTUM,
    credentials=True,
    preload=("qiskit_ibm_runtime.fake_provider", "qiskit_argo.ibm.service_steps"),
)
