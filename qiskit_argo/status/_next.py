"""``next_status``: the job's whole status from the job and its Workflow; and the two other ways a
status is made — for a job whose spec cannot be read, and from what is stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from qiskit_argo.api import CostAmount, JobCost, QiskitJob, QiskitJobStatus
from qiskit_argo.naming import workflow_name
from qiskit_argo.reasons import Reason
from qiskit_argo.status._argo import get, workflow_nodes
from qiskit_argo.status._machine import (
    PHASE_FUNCTIONS,
    Failure,
    Inputs,
    detect,
    failed_status,
    is_terminal,
    spec_fixed,
    with_generation,
)
from qiskit_argo.status._workflow import latest_parameter, step_nodes

__all__ = ["next_status", "inputs_of", "invalid_spec_status", "parse_status", "ESTIMATE_PARAMETER"]

#: The schedule step's output parameter with its estimate (``status.cost.estimate``).
ESTIMATE_PARAMETER = "estimate"


def inputs_of(
    job: QiskitJob,
    workflow: Mapping[str, Any] | None,
    now: datetime,
    *,
    workflow_missing: bool = False,
    failure: Failure | None = None,
    waiting: Failure | None = None,
) -> Inputs:
    """What ``next_status`` is made from: the stored status (started over when ``spec_fixed``),
    the Workflow's name, and the arguments as given."""
    previous = job.status or QiskitJobStatus()
    generation = job.metadata.generation
    expected_name = workflow_name(job.name, job.metadata.uid, job.namespace)
    wf_name = str(get(workflow, "metadata", "name") or previous.workflow_name or expected_name)
    if spec_fixed(previous, generation):
        # The spec was fixed (it parses now): start over, keeping only the conditions' history.
        previous = QiskitJobStatus(conditions=previous.conditions)
    return Inputs(
        job=job,
        previous=previous,
        generation=generation,
        workflow=workflow,
        workflow_missing=workflow_missing,
        failure=failure,
        now=now,
        workflow_name=wf_name,
        expected_name=expected_name,
        waiting=waiting,
    )


def next_status(
    job: QiskitJob,
    workflow: Mapping[str, Any] | None,
    now: datetime,
    *,
    workflow_missing: bool = False,
    failure: Failure | None = None,
    waiting: Failure | None = None,
) -> QiskitJobStatus:
    """The job's whole status, given its Workflow as last read from the API.

    - ``workflow`` is the Workflow object (Argo's shape), or None when there is none (yet).
    - ``workflow_missing``: the Workflow existed and is gone (deleted by hand, or its DELETED
      watch event). ``workflow`` may then carry its last known state: if that had already
      finished, the outcome is taken from it; otherwise the job fails with WorkflowDeleted.
    - ``failure``: a failure the controller found itself (name conflict, Workflow rejected, the
      job's QiskitSession closed: SessionClosed).
    - ``waiting``: why the controller does not create the Workflow yet (the job's QiskitSession is
      not open: SessionNotReady); with no Workflow the job then waits in Pending with that reason.

    Succeeded and Failed are final (``is_terminal``): once there, only ``observedGeneration``
    follows the job — except InvalidSpec, which a new generation whose spec now reads clears
    (nothing ran yet). What the inputs say is decided first (``detect``); then one function of
    ``PHASE_FUNCTIONS`` makes the status.
    """
    inputs = inputs_of(job, workflow, now, workflow_missing=workflow_missing, failure=failure, waiting=waiting)
    status = PHASE_FUNCTIONS[detect(inputs)](inputs)
    if workflow is None or is_terminal(inputs.previous, inputs.generation):
        return status
    return _with_estimate(status, workflow)


def _with_estimate(status: QiskitJobStatus, workflow: Mapping[str, Any]) -> QiskitJobStatus:
    """``status.cost.estimate`` from the schedule step's ``estimate`` output, once published (the
    rest of ``status.cost`` is the controller's: what it reserved, and charged)."""
    estimate = latest_parameter(step_nodes(workflow_nodes(workflow)), ESTIMATE_PARAMETER, CostAmount)
    cost = status.cost or JobCost()
    if estimate is None or cost.estimate == estimate:
        return status
    return status.model_copy(update={"cost": cost.model_copy(update={"estimate": estimate})})


def invalid_spec_status(
    previous: QiskitJobStatus | None, *, generation: int | None, message: str, now: datetime
) -> QiskitJobStatus:
    """Failed/InvalidSpec for a job whose spec cannot be read (e.g. created under an older CRD).

    Terminal like any failure; the controller writes it once and does not retry. A job that had
    finished stays finished.
    """
    previous = previous or QiskitJobStatus()
    if is_terminal(previous, generation):
        return with_generation(previous, generation)
    return failed_status(
        previous,
        generation=generation,
        reason=Reason.INVALID_SPEC,
        message=f"spec is invalid: {message}",
        now=now,
        workflow_name=previous.workflow_name,
    )


def parse_status(raw: Any) -> QiskitJobStatus | None:
    """Read a stored status leniently: fields this version does not understand are dropped.

    A status written by a newer controller, or edited by hand, must never make the job look
    invalid; whatever cannot be read is recomputed.
    """
    if not isinstance(raw, Mapping) or not raw:
        return None
    try:
        return QiskitJobStatus.model_validate(dict(raw))
    except ValidationError:
        pass
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        candidate = {**kept, key: value}
        try:
            QiskitJobStatus.model_validate(candidate)
        except ValidationError:
            continue
        kept = candidate
    return QiskitJobStatus.model_validate(kept) if kept else None
