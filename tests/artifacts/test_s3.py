"""Results straight from a real S3-compatible server (moto), laid out as Argo's executor uploads
them: a 10 MB result.json comes back byte-identical and verified; damage is one line, exit 2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from qiskit_argo.artifacts import (
    DEFAULT_KEY_FORMAT,
    RESULT_FILES,
    ArtifactNotFound,
    ArtifactUnavailable,
    CorruptResult,
    fetch_results,
    unpack_results,
    write_results_dir,
)
from qiskit_argo.errors import EXIT_PERMANENT, EXIT_TRANSIENT
from qiskit_argo.safeio import MARKER
from tests.artifacts.argo_layout import TEN_MB, repack
from tests.artifacts.conftest import BUCKET, CREDENTIALS, StoredJob, s3_client


def test_the_result_is_a_20_qubit_sweep_of_over_10_mb(stored_job: StoredJob) -> None:
    data = stored_job.result_json
    assert len(data) >= TEN_MB
    document = json.loads(data)
    assert document["pub_results"][0]["data"]["meas"]["num_bits"] == 20
    assert len(document["pub_results"][0]["data"]["meas"]["counts"]) == document["pubs"][0]["num_bindings"]


def test_store_results_writes_the_checksum_and_the_status_records_it(stored_job: StoredJob) -> None:
    checksum = json.loads((stored_job.outputs_dir / "checksum.json").read_text())
    data = stored_job.result_json
    assert checksum == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    location = stored_job.location
    assert (location.sha256, location.size) == (checksum["sha256"], checksum["size"])
    metrics = json.loads((stored_job.outputs_dir / "results" / "metrics.json").read_text())
    assert metrics["files"]["result"] == {"path": "result.json", "bytes": len(data), "sha256": checksum["sha256"]}


def test_the_key_is_where_argo_puts_it(stored_job: StoredJob) -> None:
    """Default key format ``{{workflow.name}}/{{pod.name}}`` plus ``/<artifact>.tgz``."""
    assert stored_job.repository.key_format == DEFAULT_KEY_FORMAT
    name = stored_job.workflow["metadata"]["name"]
    expected = DEFAULT_KEY_FORMAT.replace("{{workflow.name}}", name).replace("{{pod.name}}", stored_job.pod)
    assert stored_job.location.key == f"{expected}/results.tgz"
    assert stored_job.location.endpoint == stored_job.endpoint and stored_job.location.insecure is True


def test_ten_mb_come_back_byte_identical(stored_job: StoredJob, tmp_path: Path) -> None:
    files = fetch_results(
        stored_job.location, namespace="lab", repository=stored_job.repository, s3_credentials=CREDENTIALS
    )
    assert sorted(files) == sorted(RESULT_FILES)
    for name in RESULT_FILES:
        assert files[name] == (stored_job.outputs_dir / "results" / name).read_bytes(), name
    out = tmp_path / "results"
    written = write_results_dir(files, out)
    assert [p.name for p in written] == list(RESULT_FILES)
    assert sorted(p.name for p in out.iterdir()) == sorted([*RESULT_FILES, MARKER])
    assert (out / "result.json").read_bytes() == stored_job.result_json


def test_the_location_alone_is_enough(stored_job: StoredJob) -> None:
    """Bucket, key and endpoint come from the status; the repository is not needed."""
    files = fetch_results(stored_job.location, namespace="lab", repository=None, s3_credentials=CREDENTIALS)
    assert files["result.json"] == stored_job.result_json


def _damaged(stored_job: StoredJob, body: bytes) -> CorruptResult:
    s3_client(stored_job.endpoint).put_object(Bucket=BUCKET, Key=stored_job.location.key, Body=body)
    with pytest.raises(CorruptResult) as caught:
        fetch_results(
            stored_job.location, namespace="lab", repository=stored_job.repository, s3_credentials=CREDENTIALS
        )
    error = caught.value
    assert "\n" not in str(error) and error.exit_code == EXIT_PERMANENT
    assert CREDENTIALS.secret_key not in str(error)
    return error


def test_a_changed_byte_is_caught(stored_job: StoredJob) -> None:
    files = unpack_results(stored_job.tgz)
    data = bytearray(files["result.json"])
    data[len(data) // 2] ^= 0x01
    error = _damaged(stored_job, repack({**files, "result.json": bytes(data)}))
    assert "sha256" in str(error) and stored_job.location.sha256 is not None
    assert stored_job.location.sha256[:16] in str(error)


def test_a_shorter_result_is_caught(stored_job: StoredJob) -> None:
    files = unpack_results(stored_job.tgz)
    error = _damaged(stored_job, repack({**files, "result.json": files["result.json"][:-100]}))
    assert f"but the job recorded {stored_job.location.size}" in str(error)


def test_a_truncated_object_is_caught(stored_job: StoredJob) -> None:
    error = _damaged(stored_job, stored_job.tgz[: len(stored_job.tgz) // 2])
    assert "not a complete tar.gz" in str(error)


def test_a_missing_object_says_so(stored_job: StoredJob) -> None:
    s3_client(stored_job.endpoint).delete_object(Bucket=BUCKET, Key=stored_job.location.key)
    with pytest.raises(ArtifactNotFound, match="does not exist") as caught:
        fetch_results(stored_job.location, namespace="lab", repository=None, s3_credentials=CREDENTIALS)
    assert "\n" not in str(caught.value)


def test_an_unreachable_store_is_transient(stored_job: StoredJob) -> None:
    location = stored_job.location.model_copy(update={"endpoint": "127.0.0.1:9"})
    with pytest.raises(ArtifactUnavailable) as caught:
        fetch_results(location, namespace="lab", repository=None, s3_credentials=CREDENTIALS)
    assert caught.value.exit_code == EXIT_TRANSIENT and "\n" not in str(caught.value)


def test_archive_none_is_a_prefix_of_files(stored_job: StoredJob) -> None:
    """With ``archive: none`` the executor uploads the directory's files under ``<keyFormat>/results``."""
    client = s3_client(stored_job.endpoint)
    prefix = stored_job.location.key.removesuffix("/results.tgz") + "/results"
    for name in RESULT_FILES:
        client.put_object(
            Bucket=BUCKET, Key=f"{prefix}/{name}", Body=(stored_job.outputs_dir / "results" / name).read_bytes()
        )
    location = stored_job.location.model_copy(update={"key": prefix})
    files = fetch_results(location, namespace="lab", repository=stored_job.repository, s3_credentials=CREDENTIALS)
    assert files["result.json"] == stored_job.result_json and set(files) == set(RESULT_FILES)


def test_without_a_recorded_checksum_the_json_must_be_whole(stored_job: StoredJob) -> None:
    files = unpack_results(stored_job.tgz)
    s3_client(stored_job.endpoint).put_object(
        Bucket=BUCKET, Key=stored_job.location.key, Body=repack({**files, "result.json": files["result.json"][:-1]})
    )
    location = stored_job.location.model_copy(update={"sha256": None, "size": None})
    with pytest.raises(CorruptResult, match="not complete JSON"):
        fetch_results(location, namespace="lab", repository=None, s3_credentials=CREDENTIALS)
