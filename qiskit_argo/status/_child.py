"""The job and its one Workflow: whose a Workflow is, whether the job should have one, and the
patch that makes it follow the job's ``spec.suspend``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qiskit_argo.api import QISKIT_JOB, QiskitJob, QiskitJobStatus
from qiskit_argo.naming import for_kind
from qiskit_argo.reasons import Reason
from qiskit_argo.status._argo import get, workflow_completed

__all__ = ["workflow_belongs_to", "workflow_expected", "suspend_patch"]

_NAMES = for_kind(QISKIT_JOB)


def workflow_belongs_to(workflow: Mapping[str, Any], job: QiskitJob) -> bool:
    """Is this Workflow the job's own child? By ownerReference uid, else by the job-uid label."""
    uid = job.metadata.uid
    labels = get(workflow, "metadata", "labels") or {}
    if uid:
        for owner in get(workflow, "metadata", "ownerReferences") or []:
            if isinstance(owner, Mapping) and owner.get("uid") == uid:
                return True
        return labels.get(_NAMES.uid_label) == uid
    return labels.get(_NAMES.owner_label) == job.name and get(workflow, "metadata", "namespace") in (
        None,
        job.namespace,
    )


def workflow_expected(previous: QiskitJobStatus | None) -> bool:
    """Whether the stored status says the job's Workflow was created (so one that cannot be found
    was deleted, not never made). A Failed/InvalidSpec status names no Workflow the job still has."""
    return previous is not None and bool(previous.workflow_name) and previous.reason != Reason.INVALID_SPEC


def suspend_patch(job: QiskitJob, workflow: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch that makes the Workflow's ``spec.suspend`` follow the job's, or None.

    Resuming removes the field (``null``), as ``argo resume`` does. A finished Workflow is left alone.
    """
    if workflow_completed(workflow):
        return None
    actual = bool(get(workflow, "spec", "suspend"))
    if actual == job.spec.suspend:
        return None
    return {"spec": {"suspend": True if job.spec.suspend else None}}
