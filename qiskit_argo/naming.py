"""Deterministic names, labels, annotation keys and image references shared by every component."""

from __future__ import annotations

import hashlib

from qiskit_argo import __version__
from qiskit_argo.api import GROUP

__all__ = [
    "LABEL_JOB",
    "LABEL_JOB_UID",
    "LABEL_MANAGED_BY",
    "LABEL_PART_OF",
    "MANAGED_BY",
    "ANNOTATION_TITLE",
    "ANNOTATION_DESCRIPTION",
    "TEMPLATE_VERSION",
    "TEMPLATE_NAME",
    "IMAGE_REGISTRY",
    "IMAGE_TAG",
    "image",
    "workflow_name",
    "job_labels",
    "job_selector",
]

LABEL_JOB = f"{GROUP}/job"
LABEL_JOB_UID = f"{GROUP}/job-uid"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "qiskit-argo"

ANNOTATION_TITLE = "workflows.argoproj.io/title"
ANNOTATION_DESCRIPTION = "workflows.argoproj.io/description"

#: WorkflowTemplates are versioned by name: a change to a step's contract makes a new version,
#: so running Workflows keep the template they started with.
TEMPLATE_VERSION = "v1"
TEMPLATE_NAME = f"qiskit-job-{TEMPLATE_VERSION}"

IMAGE_REGISTRY = "qiskit-argo"
IMAGE_TAG = __version__

_MAX_NAME = 63
_HASH_LEN = 6


def image(component: str) -> str:
    """The image reference of one component (``controller``, ``validator``, ``executor``)."""
    return f"{IMAGE_REGISTRY}/{component}:{IMAGE_TAG}"


def workflow_name(job_name: str, job_uid: str | None, namespace: str = "default") -> str:
    """The one Workflow name a job may have: ``<job>-<hash of its uid>``, at most 63 characters.

    The uid makes a re-created job (same name, new uid) get a new Workflow instead of adopting
    the previous incarnation's; without a uid (local runs) the namespace/name stands in.
    """
    identity = job_uid or f"{namespace}/{job_name}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:_HASH_LEN]
    stem = job_name[: _MAX_NAME - _HASH_LEN - 1].rstrip("-.")
    return f"{stem}-{digest}"


def job_labels(job_name: str, job_uid: str | None) -> dict[str, str]:
    """Labels that link a child object back to its QiskitJob."""
    labels = {LABEL_JOB: job_name, LABEL_MANAGED_BY: MANAGED_BY, LABEL_PART_OF: MANAGED_BY}
    if job_uid:
        labels[LABEL_JOB_UID] = job_uid
    return labels


def job_selector(job_name: str) -> str:
    """A label selector string matching one job's children."""
    return f"{LABEL_JOB}={job_name},{LABEL_MANAGED_BY}={MANAGED_BY}"
