"""Deterministic names, labels, annotation keys and image references shared by every component.

Everything a child object (a Workflow) carries to point back at the resource it was made for is
derived from that resource's kind descriptor (``qiskit_argo.api.Kind``), so a new kind gets its
own labels, selector, ownerReference and template name from its registration alone: ``for_kind
(kind)`` answers them. The ``LABEL_JOB``/``job_labels``/``workflow_name``... names are those
answers for ``QiskitJob``, kept as they were.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from qiskit_argo import __version__
from qiskit_argo.api import QISKIT_JOB, Kind

__all__ = [
    "KindNames",
    "for_kind",
    "child_name",
    "LABEL_MANAGED_BY",
    "LABEL_PART_OF",
    "MANAGED_BY",
    "ANNOTATION_TITLE",
    "ANNOTATION_DESCRIPTION",
    "TEMPLATE_VERSION",
    "IMAGE_REGISTRY",
    "IMAGE_TAG",
    "image",
    "argo_annotations",
    # QiskitJob's answers
    "LABEL_JOB",
    "LABEL_JOB_UID",
    "TEMPLATE_NAME",
    "workflow_name",
    "job_labels",
    "job_selector",
]

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "qiskit-argo"

ANNOTATION_TITLE = "workflows.argoproj.io/title"
ANNOTATION_DESCRIPTION = "workflows.argoproj.io/description"

#: WorkflowTemplates are versioned by name: a change to a step's contract makes a new version,
#: so running Workflows keep the template they started with.
TEMPLATE_VERSION = "v1"

IMAGE_REGISTRY = "qiskit-argo"
IMAGE_TAG = __version__

_MAX_NAME = 63
_HASH_LEN = 6


def image(component: str) -> str:
    """The image reference of one component (``controller``, ``validator``, ``executor``)."""
    return f"{IMAGE_REGISTRY}/{component}:{IMAGE_TAG}"


def argo_annotations(title: str, description: str) -> dict[str, str]:
    """What the Argo UI shows for a Workflow: its title and description."""
    return {ANNOTATION_TITLE: title, ANNOTATION_DESCRIPTION: description}


def child_name(owner_name: str, owner_uid: str | None, namespace: str = "default", *, role: str = "") -> str:
    """The one name a child of a resource may have: ``<owner>[-<role>]-<hash>``, at most 63 characters.

    The hash is of the owner's uid, so a re-created owner (same name, new uid) gets a new child
    instead of adopting the previous incarnation's; without a uid (local runs) the namespace/name
    stands in. ``role`` tells apart several children of one owner (e.g. ``open`` and ``close``);
    a resource with one child has none.
    """
    identity = owner_uid or f"{namespace}/{owner_name}"
    if role:
        identity = f"{identity}/{role}"
    suffix = (f"-{role}" if role else "") + "-" + hashlib.sha256(identity.encode()).hexdigest()[:_HASH_LEN]
    stem = owner_name[: _MAX_NAME - len(suffix)].rstrip("-.")
    return f"{stem}{suffix}"


@dataclass(frozen=True)
class KindNames:
    """What the children of one kind's resources carry: labels back to their owner, the
    ownerReference, the selector, and the WorkflowTemplate name.

    ``owner_label`` is ``<group>/<noun>`` (``qiskit-argo.io/job``), ``uid_label`` the same with
    ``-uid``; the template is ``qiskit-<noun>-<version>`` (``qiskit-job-v1``).
    """

    kind: Kind
    owner_label: str
    uid_label: str
    template_name: str

    def labels(self, name: str, uid: str | None) -> dict[str, str]:
        """Labels that link a child object back to its owner."""
        labels = {self.owner_label: name, LABEL_MANAGED_BY: MANAGED_BY, LABEL_PART_OF: MANAGED_BY}
        if uid:
            labels[self.uid_label] = uid
        return labels

    def selector(self, name: str) -> str:
        """A label selector string matching one owner's children."""
        return f"{self.owner_label}={name},{LABEL_MANAGED_BY}={MANAGED_BY}"

    def owner_reference(self, name: str, uid: str) -> dict[str, Any]:
        """The ownerReference that makes Kubernetes delete the child with its owner."""
        return {
            "apiVersion": self.kind.api_version,
            "kind": self.kind.kind,
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def child_name(self, name: str, uid: str | None, namespace: str = "default", *, role: str = "") -> str:
        """``child_name`` for a resource of this kind."""
        return child_name(name, uid, namespace, role=role)


@cache
def for_kind(kind: Kind) -> KindNames:
    """The names and labels of ``kind``'s children."""
    return KindNames(
        kind=kind,
        owner_label=f"{kind.group}/{kind.noun}",
        uid_label=f"{kind.group}/{kind.noun}-uid",
        template_name=f"qiskit-{kind.noun}-{TEMPLATE_VERSION}",
    )


# --------------------------------------------------------------------------- QiskitJob's answers

_JOB = for_kind(QISKIT_JOB)

LABEL_JOB = _JOB.owner_label
LABEL_JOB_UID = _JOB.uid_label
TEMPLATE_NAME = _JOB.template_name


def workflow_name(job_name: str, job_uid: str | None, namespace: str = "default") -> str:
    """The one Workflow name a job may have: ``<job>-<hash of its uid>`` (``child_name``)."""
    return _JOB.child_name(job_name, job_uid, namespace)


def job_labels(job_name: str, job_uid: str | None) -> dict[str, str]:
    """Labels that link a child object back to its QiskitJob."""
    return _JOB.labels(job_name, job_uid)


def job_selector(job_name: str) -> str:
    """A label selector string matching one job's children."""
    return _JOB.selector(job_name)
