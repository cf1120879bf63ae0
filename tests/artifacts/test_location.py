"""What the controller copies into ``status.resultLocation`` from the Workflow Argo wrote
(tests/argo_fake.py: node outputs and ``status.artifactRepositoryRef`` exactly as Argo writes them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qiskit_argo import workflows
from qiskit_argo.api import QiskitJobStatus
from qiskit_argo.status._workflow import WorkflowView, artifact_repository, outputs
from tests import argo_fake
from tests.argo_fake import ARTIFACT_REPOSITORY, CHECKSUM, ArgoFake
from tests.artifacts.conftest import make_job


def _done(checksum: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> dict[str, Any]:
    if checksum is not None and monkeypatch is not None:
        monkeypatch.setattr(argo_fake, "CHECKSUM_JSON", checksum)
    argo = ArgoFake(workflows.build(make_job()))
    argo.succeed_all()
    return argo.workflow


def test_the_location_has_everything_results_needs() -> None:
    workflow = _done()
    view = WorkflowView.of(workflow, workflow["metadata"]["name"])
    location = outputs(view.by_step).result_location
    assert location is not None
    task = view.by_step["store-results"]
    (artifact,) = task["outputs"]["artifacts"]
    assert location.key == artifact["s3"]["key"] and location.key.endswith("/results.tgz")
    assert (location.bucket, location.endpoint, location.insecure) == (
        ARTIFACT_REPOSITORY["bucket"],
        ARTIFACT_REPOSITORY["endpoint"],
        ARTIFACT_REPOSITORY["insecure"],
    )
    assert (location.sha256, location.size) == (CHECKSUM["sha256"], CHECKSUM["size"])
    assert location.workflow == workflow["metadata"]["name"] and location.node_id == task["id"]
    assert location.repository is not None
    assert location.repository.dump() == {"configMap": "artifact-repositories", "key": "default-v1", "namespace": "lab"}
    # What the controller writes is valid status (and holds no credential).
    status = QiskitJobStatus(result_location=location).dump()
    assert "accessKeySecret" not in json.dumps(status)


@pytest.mark.parametrize(
    "checksum",
    ['{"sha256": "zz", "size": 3}', '{"sha256": "' + "a" * 64 + '", "size": -1}', "not json", '["a"]'],
)
def test_an_unreadable_checksum_is_left_out(checksum: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both parts or neither: the status never records half a checksum (nor one the API would refuse)."""
    workflow = _done(checksum, monkeypatch)
    location = outputs(WorkflowView.of(workflow, workflow["metadata"]["name"]).by_step).result_location
    assert location is not None and location.key is not None
    assert location.sha256 is None and location.size is None


def test_the_repository_argo_resolved_wins_over_the_spec() -> None:
    workflow = {
        "spec": {"artifactRepositoryRef": {"configMap": "artifact-repositories", "key": "default-v1"}},
        "status": {
            "artifactRepositoryRef": {"configMap": "artifact-repositories", "key": "default-v1", "namespace": "argo"}
        },
    }
    ref = artifact_repository(workflow)
    assert ref is not None and ref.namespace == "argo"
    assert artifact_repository({"status": {"artifactRepositoryRef": {"default": True}}}) is None
    assert artifact_repository({}) is None
