"""``ArtifactRepository.from_config_map``: the artifact-repositories ConfigMap as Argo lays it out
(argo-workflows v4.1.2 docs/artifact-repository-ref.md), and credentials only by Secret reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo.artifacts import (
    DEFAULT_KEY_FORMAT,
    ArtifactRepository,
    RepositoryConfigError,
    S3Credentials,
    SecretKeyRef,
    endpoint_url,
)
from qiskit_argo.errors import EXIT_PERMANENT

REPO = Path(__file__).resolve().parents[2]


def _config_map(data: dict[str, str], default: str | None = "default-v1") -> dict[str, Any]:
    annotations = {"workflows.argoproj.io/default-artifact-repository": default} if default else {}
    return {"metadata": {"name": "artifact-repositories", "annotations": annotations}, "data": data}


def test_the_dev_overlay_configmap() -> None:
    config = yaml.safe_load((REPO / "kustomize/overlays/dev/minio/artifact-repositories.yaml").read_text())
    repository = ArtifactRepository.from_config_map(config)
    assert repository.key == "default-v1" and repository.bucket == "qiskit-argo"
    assert repository.endpoint == "minio.qiskit-argo.svc:9000" and repository.insecure is True
    assert repository.endpoint_url == "http://minio.qiskit-argo.svc:9000"
    assert repository.access_key_secret == SecretKeyRef("qiskit-argo-minio", "accesskey")
    assert repository.secret_key_secret == SecretKeyRef("qiskit-argo-minio", "secretkey")
    assert repository.key_format == DEFAULT_KEY_FORMAT


def test_the_production_template() -> None:
    path = REPO / "kustomize/overlays/production/artifact-repository/artifact-repositories.yaml"
    repository = ArtifactRepository.from_config_map(yaml.safe_load(path.read_text()))
    assert repository.insecure is False and repository.endpoint_url is not None
    assert repository.endpoint_url.startswith("https://") and repository.region
    assert repository.access_key_secret is not None and repository.secret_key_secret is not None


def test_an_explicit_key_wins_over_the_annotation() -> None:
    data = {
        "default-v1": "s3: {bucket: a}",
        "archive-v2": "s3: {bucket: b, keyFormat: 'x/{{workflow.name}}/{{pod.name}}'}",
    }
    assert ArtifactRepository.from_config_map(_config_map(data)).bucket == "a"
    chosen = ArtifactRepository.from_config_map(_config_map(data), "archive-v2")
    assert chosen.bucket == "b" and chosen.key_format == "x/{{workflow.name}}/{{pod.name}}"


def test_key_prefix_is_argos_deprecated_key_format() -> None:
    repository = ArtifactRepository.from_config_map(_config_map({"default-v1": "s3: {bucket: a, keyPrefix: runs/}"}))
    assert repository.key_format == "runs/{{workflow.name}}/{{pod.name}}"


def test_an_endpoint_without_insecure_is_https_and_none_is_aws() -> None:
    assert endpoint_url("s3.example.com", None) == "https://s3.example.com"
    assert endpoint_url("https://s3.example.com", True) == "https://s3.example.com"
    assert endpoint_url(None, True) is None


@pytest.mark.parametrize(
    ("data", "default", "key", "message"),
    [
        ({"default-v1": "s3: {bucket: a}"}, None, None, "names no default artifact repository"),
        ({"default-v1": "s3: {bucket: a}"}, "v9", None, "has no key 'v9' (keys: default-v1)"),
        ({"default-v1": "s3: [bucket"}, "default-v1", None, "not YAML at line 1"),
        ({"default-v1": "gcs: {bucket: a}"}, "default-v1", None, "has gcs, not s3"),
        ({"default-v1": "s3: {endpoint: x}"}, "default-v1", None, "s3.bucket is missing"),
        ({"default-v1": "s3: {bucket: a, insecure: 'yes'}"}, "default-v1", None, "must be true or false"),
        ({"default-v1": "s3: {bucket: a, accessKeySecret: AKIA}"}, "default-v1", None, "Secret reference"),
        ({"default-v1": "- s3"}, "default-v1", None, "not a mapping"),
    ],
)
def test_malformed_configmaps_are_one_line(
    data: dict[str, str], default: str | None, key: str | None, message: str
) -> None:
    with pytest.raises(RepositoryConfigError) as caught:
        ArtifactRepository.from_config_map(_config_map(data, default), key)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == EXIT_PERMANENT


def test_credentials_come_from_the_secrets_it_names() -> None:
    repository = ArtifactRepository.from_config_map(
        _config_map(
            {
                "default-v1": yaml.safe_dump(
                    {
                        "s3": {
                            "bucket": "a",
                            "accessKeySecret": {"name": "s", "key": "id"},
                            "secretKeySecret": {"name": "s", "key": "secret"},
                        }
                    }
                )
            }
        )
    )
    secret = {SecretKeyRef("s", "id"): b"AKIAEXAMPLE\n", SecretKeyRef("s", "secret"): "very-secret-value"}
    credentials = S3Credentials.from_secrets(repository, secret.get)
    assert credentials == S3Credentials("AKIAEXAMPLE", "very-secret-value")
    assert "very-secret-value" not in repr(credentials)
    with pytest.raises(RepositoryConfigError, match="Secret s has no key 'secret'"):
        S3Credentials.from_secrets(repository, {SecretKeyRef("s", "id"): "x"}.get)
    bare = ArtifactRepository.from_config_map(_config_map({"default-v1": "s3: {bucket: a, useSDKCreds: true}"}))
    assert S3Credentials.from_secrets(bare, secret.get) is None and bare.use_sdk_creds
