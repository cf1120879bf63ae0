"""``qiskit-argo results`` end to end: the job's status as the controller writes it from the
Workflow (``tests.argo_fake`` recording the artifact where Argo's executor puts it), the
artifact-repositories ConfigMap and its Secret read with the user's kubeconfig, the tar.gz in a
real S3-compatible server (moto), the results directory written as a local run writes it; and
through the Argo Server's artifact endpoint (``tests.artifacts.argo_server_fake``: the Argo
Server cannot run here)."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import argo_fake
from tests.artifacts.argo_layout import argo_tgz, repack
from tests.artifacts.argo_server_fake import ArgoServerFake
from tests.artifacts.conftest import BUCKET, CREDENTIALS, SECRET, config_map, s3_client
from tests.cluster.conftest import CliCluster
from tests.cluster.test_commands import BELL, one_error_line, started

pytestmark = pytest.mark.timeout(90)


async def stored(kube: CliCluster, s3_endpoint: str, outputs: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A succeeded bell job whose results lie in the store where Argo put them; its status."""
    repository = {**argo_fake.ARTIFACT_REPOSITORY, "endpoint": s3_endpoint, "bucket": BUCKET}
    repository["accessKeySecret"] = {"name": SECRET, "key": "accesskey"}
    repository["secretKeySecret"] = {"name": SECRET, "key": "secretkey"}
    reference = copy.deepcopy(argo_fake.ARTIFACT_REPOSITORY_REF)
    reference["artifactRepository"] = {"s3": repository}
    monkeypatch.setattr(argo_fake, "ARTIFACT_REPOSITORY", repository)
    monkeypatch.setattr(argo_fake, "ARTIFACT_REPOSITORY_REF", reference)
    monkeypatch.setattr(argo_fake, "CHECKSUM_JSON", (outputs / "checksum.json").read_text())

    await kube.cluster.controller().start()
    assert (await kube.cli("submit", str(BELL))).exit_code == 0
    _, argo = await started(kube)
    await argo(lambda a: a.succeed_all())
    job = await kube.cluster.phase("bell", "Succeeded")
    location = job["status"]["resultLocation"]
    assert location["bucket"] == BUCKET and location["sha256"], location

    client = s3_client(s3_endpoint)
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    client.put_object(Bucket=BUCKET, Key=location["key"], Body=argo_tgz(outputs / "results"))
    repositories = config_map(s3_endpoint)
    repositories["metadata"]["namespace"] = kube.namespace
    await kube.cluster.api.ok("POST", kube.cluster.configmap_path(), repositories)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET, "namespace": kube.namespace},
        "data": {
            "accesskey": base64.b64encode(CREDENTIALS.access_key.encode()).decode(),
            "secretkey": base64.b64encode(CREDENTIALS.secret_key.encode()).decode(),
        },
    }
    await kube.cluster.api.ok("POST", f"/api/v1/namespaces/{kube.namespace}/secrets", secret)
    return job


async def test_results_writes_the_local_runs_directory_byte_identical_from_the_store(
    kube: CliCluster, s3_endpoint: str, stored_outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stored(kube, s3_endpoint, stored_outputs, monkeypatch)
    out = kube.tmp / "out"
    result = await kube.cli("results", "bell", "--out", str(out))
    assert result.exit_code == 0, result.output
    expected = stored_outputs / "results"
    assert (out / "result.json").read_bytes() == (expected / "result.json").read_bytes()
    assert len((out / "result.json").read_bytes()) > 9 * 1000 * 1000  # the 20-qubit sweep
    for name in ("metrics.json", "histogram.png"):
        if (expected / name).exists():
            assert (out / name).read_bytes() == (expected / name).read_bytes()
    assert f"results: {out}" in result.output
    # The keys came from the Secret the repository names, read as the user; never printed.
    assert CREDENTIALS.secret_key not in result.output
    assert any(path.endswith(f"/secrets/{SECRET}") for who, _, path in kube.emulator.requests if who == "user")


async def test_results_refuses_a_result_json_that_does_not_match_the_status_checksum(
    kube: CliCluster, s3_endpoint: str, stored_outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await stored(kube, s3_endpoint, stored_outputs, monkeypatch)
    files = {p.name: p.read_bytes() for p in (stored_outputs / "results").iterdir()}
    # The same size, one digit changed: only the checksum can tell.
    files["result.json"] = files["result.json"].replace(b'"shots":10000', b'"shots":10001', 1)
    s3_client(s3_endpoint).put_object(Bucket=BUCKET, Key=job["status"]["resultLocation"]["key"], Body=repack(files))
    out = kube.tmp / "out"
    result = await kube.cli("results", "bell", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "sha" in one_error_line(result.output).lower(), result.output
    assert not (out / "result.json").exists()


async def test_results_through_the_argo_server(
    kube: CliCluster, s3_endpoint: str, stored_outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await stored(kube, s3_endpoint, stored_outputs, monkeypatch)
    workflow = await kube.cluster.workflow(job["status"]["workflowName"])
    assert workflow is not None
    fake = ArgoServerFake(
        token="argo-t0ken",
        s3_endpoint_url=f"http://{s3_endpoint}",
        credentials=(CREDENTIALS.access_key, CREDENTIALS.secret_key),
    )
    fake.add(workflow)
    out = kube.tmp / "via-argo"
    with fake.serving():
        result = await kube.cli(
            "results", "bell", "--out", str(out), "--argo-server", fake.url, env={"ARGO_TOKEN": "Bearer argo-t0ken"}
        )
    assert result.exit_code == 0, result.output
    assert fake.requests and all(path.startswith("/artifact-files/") for path in fake.requests)
    assert (out / "result.json").read_bytes() == (stored_outputs / "results" / "result.json").read_bytes()


async def test_results_of_a_job_without_a_result_say_so(kube: CliCluster) -> None:
    await kube.cluster.create_job("bell")
    result = await kube.cli("results", "bell")
    assert result.exit_code == 1, result.output
    assert "job bell has no result (Pending" in one_error_line(result.output)


def test_the_config_map_fixture_is_argos_layout() -> None:
    document = yaml.safe_load(config_map("minio:9000")["data"]["default-v1"])
    assert document["s3"]["bucket"] == BUCKET
