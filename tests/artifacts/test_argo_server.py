"""Results through the Argo Server's artifact endpoint (an HTTP fake: tests/artifacts/argo_server_fake.py),
which streams the same object from the same store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qiskit_argo.artifacts import ArtifactAccessDenied, CorruptResult, artifact_url, fetch_results
from qiskit_argo.errors import EXIT_PERMANENT
from tests.artifacts.argo_server_fake import ArgoServerFake
from tests.artifacts.conftest import CREDENTIALS, StoredJob

TOKEN = "v2:not-a-real-token"


@pytest.fixture
def argo_server(stored_job: StoredJob) -> Iterator[ArgoServerFake]:
    fake = ArgoServerFake(
        token=TOKEN,
        s3_endpoint_url=f"http://{stored_job.endpoint}",
        credentials=(CREDENTIALS.access_key, CREDENTIALS.secret_key),
    )
    fake.add(stored_job.workflow)
    with fake.serving():
        yield fake


def test_the_url_is_the_artifact_files_route(stored_job: StoredJob) -> None:
    location = stored_job.location
    url = artifact_url("https://argo.example:2746/", "lab", location)
    assert url == (
        f"https://argo.example:2746/artifact-files/lab/workflows/{location.workflow}/{location.node_id}/outputs/results"
    )
    assert location.workflow == stored_job.workflow["metadata"]["name"]
    assert location.node_id in stored_job.workflow["status"]["nodes"]


def test_fetched_through_the_server_byte_identical(stored_job: StoredJob, argo_server: ArgoServerFake) -> None:
    files = fetch_results(stored_job.location, namespace="lab", argo_server=argo_server.url, token=TOKEN)
    assert files["result.json"] == stored_job.result_json
    assert argo_server.requests == [artifact_url("", "lab", stored_job.location)]


def test_a_bad_token_is_refused_in_one_line(stored_job: StoredJob, argo_server: ArgoServerFake) -> None:
    with pytest.raises(ArtifactAccessDenied) as caught:
        fetch_results(stored_job.location, namespace="lab", argo_server=argo_server.url, token="wrong")
    message = str(caught.value)
    assert "401" in message and "wrong" not in message and "\n" not in message
    assert caught.value.exit_code == EXIT_PERMANENT


def test_a_stream_cut_short_is_caught(stored_job: StoredJob, argo_server: ArgoServerFake) -> None:
    argo_server.truncate_after = len(stored_job.tgz) - 4096
    with pytest.raises(CorruptResult) as caught:
        fetch_results(stored_job.location, namespace="lab", argo_server=argo_server.url, token=TOKEN)
    assert "\n" not in str(caught.value) and caught.value.exit_code == EXIT_PERMANENT


def test_a_deleted_workflow_falls_back_to_the_store(stored_job: StoredJob, argo_server: ArgoServerFake) -> None:
    """After its TTL the Workflow is gone (the server answers 500); the object is still in the store."""
    argo_server.workflows.clear()
    files = fetch_results(
        stored_job.location,
        namespace="lab",
        repository=stored_job.repository,
        argo_server=argo_server.url,
        token=TOKEN,
        s3_credentials=CREDENTIALS,
    )
    assert files["result.json"] == stored_job.result_json
    assert len(argo_server.requests) == 1
