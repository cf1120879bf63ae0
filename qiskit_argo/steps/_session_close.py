"""The session-close service step: close (or cancel) a QiskitSession's runtime session (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import (
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    EGRESS_IBM_QUANTUM,
    StepSpec,
)

__all__ = ["session_close", "STEP"]


def session_close(target: str, session: str, credentials_secret: str, credentials_key: str, out: Path) -> None:
    """Close the session (``session``: JSON ``{"sessionId","cancel"}``; ``cancel`` also cancels its
    unfinished jobs); write ``session.json`` (``{"sessionId","state"}``)."""
    from qiskit_argo.ibm import service_steps

    service_steps.session_close_step(
        target_json=target, session_json=session, secret_ref=(credentials_secret, credentials_key), out_dir=out
    )


STEP = StepSpec(
    name="session-close",
    function=session_close,
    component="executor",
    phase="Running",
    activity="Closing the IBM Quantum session",
    input_parameters=("target", "session", CREDENTIALS_SECRET_PARAMETER, CREDENTIALS_KEY_PARAMETER),
    output_parameters={"session": "session.json"},
    egress=EGRESS_IBM_QUANTUM,
    credentials=True,
    preload=("qiskit_argo.ibm.service_steps",),
)
