"""A real S3-compatible server (moto's, in server mode on 127.0.0.1, a free port) holding a job's
artifacts as Argo's executor uploads them, and the job's Workflow and status as Argo and the
controller write them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from qiskit_argo import workflows
from qiskit_argo.api import QiskitJob, ResultLocation
from qiskit_argo.artifacts import ArtifactRepository, S3Credentials
from qiskit_argo.status._workflow import WorkflowView, outputs
from tests import argo_fake
from tests.argo_fake import ArgoFake
from tests.artifacts.argo_layout import argo_tgz, store_results, sweep_part

REPO = Path(__file__).resolve().parents[2]
BUCKET = "qiskit-argo"
CREDENTIALS = S3Credentials(access_key="qiskit-argo", secret_key="not-a-real-secret-0123")
SECRET = "qiskit-argo-minio"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``host:port`` of a moto S3 server started for these tests (Argo's endpoint form: no scheme)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=f"http://{endpoint}",
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        config=Config(s3={"addressing_style": "path"}),
    )


def config_map(endpoint: str) -> dict[str, Any]:
    """The job namespace's artifact-repositories ConfigMap, as the dev overlay writes it, pointing
    at the test's server."""
    repository = {
        "archiveLogs": False,
        "s3": {
            "endpoint": endpoint,
            "bucket": BUCKET,
            "insecure": True,
            "accessKeySecret": {"name": SECRET, "key": "accesskey"},
            "secretKeySecret": {"name": SECRET, "key": "secretkey"},
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "artifact-repositories",
            "namespace": "lab",
            "annotations": {"workflows.argoproj.io/default-artifact-repository": "default-v1"},
        },
        "data": {"default-v1": yaml.safe_dump(repository)},
    }


@dataclass
class StoredJob:
    """A succeeded job whose results artifact lies in the store where Argo put it."""

    outputs_dir: Path
    tgz: bytes
    workflow: dict[str, Any]
    location: ResultLocation
    repository: ArtifactRepository
    endpoint: str
    pod: str

    @property
    def result_json(self) -> bytes:
        return (self.outputs_dir / "results" / "result.json").read_bytes()


def make_job() -> QiskitJob:
    document = yaml.safe_load((REPO / "examples" / "bell.yaml").read_text())
    document["metadata"].update(
        {"name": "sweep-20q", "namespace": "lab", "uid": "0f9e8d7c-1111-2222-3333-444455556666"}
    )
    return QiskitJob.model_validate(document)


def run_workflow(endpoint: str, checksum_json: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], str]:
    """The job's real Workflow run through ``ArgoFake`` with the repository at ``endpoint``; the
    Workflow and the store-results pod's name."""
    repository = {**argo_fake.ARTIFACT_REPOSITORY, "endpoint": endpoint, "bucket": BUCKET}
    repository["accessKeySecret"] = {"name": SECRET, "key": "accesskey"}
    repository["secretKeySecret"] = {"name": SECRET, "key": "secretkey"}
    monkeypatch.setattr(argo_fake, "ARTIFACT_REPOSITORY", repository)
    monkeypatch.setattr(argo_fake, "CHECKSUM_JSON", checksum_json)
    argo = ArgoFake(workflows.build(make_job()))
    argo.succeed_all()
    pod = argo.attempts("store-results")[-1]
    return copy.deepcopy(argo.workflow), argo_fake.pod_name(argo.name, pod["name"], "store-results")


@pytest.fixture(scope="session")
def stored_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real store-results step's outputs for the 20-qubit sweep (results/, checksum.json)."""
    return store_results(tmp_path_factory.mktemp("store-results"), sweep_part())


@pytest.fixture(scope="session")
def stored_tgz(stored_outputs: Path) -> bytes:
    """The results directory as Argo's executor uploads it."""
    return argo_tgz(stored_outputs / "results")


@pytest.fixture
def stored_job(s3_endpoint: str, stored_outputs: Path, stored_tgz: bytes, monkeypatch: pytest.MonkeyPatch) -> StoredJob:
    workflow, pod = run_workflow(s3_endpoint, (stored_outputs / "checksum.json").read_text(), monkeypatch)
    view = WorkflowView.of(workflow, workflow["metadata"]["name"])
    location = outputs(view.by_step).result_location
    assert location is not None and location.key is not None and location.bucket == BUCKET
    tgz = stored_tgz
    client = s3_client(s3_endpoint)
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    client.put_object(Bucket=location.bucket, Key=location.key, Body=tgz)
    repository = ArtifactRepository.from_config_map(config_map(s3_endpoint))
    return StoredJob(stored_outputs, tgz, workflow, location, repository, s3_endpoint, pod)
