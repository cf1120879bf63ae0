"""Names and labels of a kind's children, derived from its registry entry."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from qiskit_argo import naming, workflows
from qiskit_argo.api import KINDS, QISKIT_JOB
from qiskit_argo.manifests import load_job

REPO = Path(__file__).resolve().parents[2]
UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
#: A kind that is not registered, as the next ones will be: only its registry entry differs.
BACKEND = dataclasses.replace(
    QISKIT_JOB,
    kind="QiskitBackend",
    plural="qiskitbackends",
    singular="qiskitbackend",
    short_names=("qb",),
    noun="backend",
    scope="Cluster",
)


def test_qiskit_jobs_names_are_what_they_were() -> None:
    names = naming.for_kind(QISKIT_JOB)
    assert (names.owner_label, names.uid_label, names.template_name) == (
        "qiskit-argo.io/job",
        "qiskit-argo.io/job-uid",
        "qiskit-job-v1",
    )
    assert (naming.LABEL_JOB, naming.LABEL_JOB_UID, naming.TEMPLATE_NAME) == (
        names.owner_label,
        names.uid_label,
        names.template_name,
    )
    assert naming.job_labels("bell", UID) == {
        "qiskit-argo.io/job": "bell",
        "app.kubernetes.io/managed-by": "qiskit-argo",
        "app.kubernetes.io/part-of": "qiskit-argo",
        "qiskit-argo.io/job-uid": UID,
    }
    assert naming.job_selector("bell") == "qiskit-argo.io/job=bell,app.kubernetes.io/managed-by=qiskit-argo"


@pytest.mark.parametrize(
    ("name", "uid", "namespace"),
    [("bell", UID, "lab"), ("bell", None, "lab"), ("a" * 63, UID, "default"), ("x-" * 30 + "abc", None, "n")],
)
def test_workflow_name_is_the_former_formula(name: str, uid: str | None, namespace: str) -> None:
    digest = hashlib.sha256((uid or f"{namespace}/{name}").encode()).hexdigest()[:6]
    expected = f"{name[:56].rstrip('-.')}-{digest}"
    assert naming.workflow_name(name, uid, namespace) == expected == naming.child_name(name, uid, namespace)
    assert len(expected) <= 63


def test_children_with_roles_differ_and_fit() -> None:
    opened = naming.child_name("s" * 63, UID, role="open")
    closed = naming.child_name("s" * 63, UID, role="close")
    assert opened != closed != naming.child_name("s" * 63, UID)
    assert opened.endswith("-open-" + opened[-6:]) and len(opened) <= 63 and len(closed) <= 63


def test_the_workflow_carries_what_naming_says() -> None:
    job, _ = load_job(REPO / "examples" / "bell.yaml")
    job.metadata.uid = UID
    metadata = workflows.build(job)["metadata"]
    names = naming.for_kind(QISKIT_JOB)
    assert metadata["labels"] == names.labels(job.name, UID)
    assert metadata["ownerReferences"] == [names.owner_reference(job.name, UID)]
    assert metadata["name"] == names.child_name(job.name, UID, job.namespace)
    annotations = metadata["annotations"]
    title, description = annotations[naming.ANNOTATION_TITLE], annotations[naming.ANNOTATION_DESCRIPTION]
    assert annotations == naming.argo_annotations(title, description)


def test_another_kind_gets_its_own_names_from_its_entry() -> None:
    names = naming.for_kind(BACKEND)
    assert BACKEND not in KINDS
    assert (names.owner_label, names.uid_label, names.template_name) == (
        "qiskit-argo.io/backend",
        "qiskit-argo.io/backend-uid",
        "qiskit-backend-v1",
    )
    assert names.labels("ibm-fez", None) == {
        "qiskit-argo.io/backend": "ibm-fez",
        "app.kubernetes.io/managed-by": "qiskit-argo",
        "app.kubernetes.io/part-of": "qiskit-argo",
    }
    assert names.owner_reference("ibm-fez", "u")["kind"] == "QiskitBackend"
    assert names.owner_reference("ibm-fez", "u")["apiVersion"] == "qiskit-argo.io/v1alpha1"
