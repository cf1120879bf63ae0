"""Artifact storage that persists: the dev MinIO on a PersistentVolumeClaim, production's
artifact-repositories ConfigMap (Secret references only) in every job namespace, and the Workflows
naming exactly that repository, with artifactGC that keeps the final results."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from qiskit_argo import workflows
from qiskit_argo.artifacts import ArtifactRepository
from qiskit_argo.steps import CACHE_PREFIX, PART_ARTIFACT
from qiskit_argo.workflows._template import (
    ARTIFACT_REPOSITORY_CONFIGMAP,
    ARTIFACT_REPOSITORY_KEY,
    KEPT_ARTIFACTS,
)
from tests.deploy.builds import build, find, of_kind

#: Every build whose namespace runs QiskitJobs and must hold the repository the Workflows name.
REPOSITORY_BUILDS = ("overlays/dev", "overlays/production", "overlays/production/job-namespace")


def _repository_config(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objs, "ConfigMap", ARTIFACT_REPOSITORY_CONFIGMAP)


def _minio_pod() -> dict[str, Any]:
    spec: dict[str, Any] = find(build("overlays/dev"), "Deployment", "minio")["spec"]["template"]["spec"]
    return spec


def test_dev_minio_keeps_its_data_on_a_persistent_volume_claim() -> None:
    objs = build("overlays/dev")
    pod = _minio_pod()
    (container,) = pod["containers"]
    data_dir = container["args"][container["args"].index("server") + 1]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == data_dir]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" not in volume, "MinIO's data is on an emptyDir: artifacts vanish with the pod"
    claim = find(objs, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["metadata"]["namespace"] == find(objs, "Deployment", "minio")["metadata"]["namespace"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    deployment = find(objs, "Deployment", "minio")["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate", (
        "a ReadWriteOnce claim needs the old pod gone before the new one mounts it"
    )


@pytest.mark.parametrize("directory", REPOSITORY_BUILDS)
def test_the_repository_the_workflows_name_is_there(directory: str) -> None:
    config = _repository_config(build(directory))
    repository = ArtifactRepository.from_config_map(config, ARTIFACT_REPOSITORY_KEY)
    assert repository.bucket
    # The annotated default is the same key: Workflows of other tools in the namespace use it too.
    assert ArtifactRepository.from_config_map(config) == repository
    # The Workflows name none: Argo takes the namespace's annotated default, else its own default,
    # so a namespace without this ConfigMap still runs jobs (on the controller's repository).
    assert config["metadata"]["annotations"]["workflows.argoproj.io/default-artifact-repository"] == (
        ARTIFACT_REPOSITORY_KEY
    )
    assert config["metadata"]["name"] == ARTIFACT_REPOSITORY_CONFIGMAP
    for workflow in (workflows.cluster_workflow_template(),):
        assert "artifactRepositoryRef" not in workflow["spec"]


@pytest.mark.parametrize("directory", REPOSITORY_BUILDS)
def test_the_repository_names_its_credentials_by_secret_reference_only(directory: str) -> None:
    objs = build(directory)
    config = _repository_config(objs)
    for key, text in config["data"].items():
        s3 = yaml.safe_load(text)["s3"]
        assert set(s3) <= {
            "endpoint",
            "bucket",
            "region",
            "insecure",
            "accessKeySecret",
            "secretKeySecret",
            "createBucketIfNotPresent",
            "keyFormat",
            "useSDKCreds",
        }, f"{key}: {sorted(s3)}"
        for field in ("accessKeySecret", "secretKeySecret"):
            assert set(s3[field]) == {"name", "key"}, f"{key}.{field} is not a Secret reference"
        # Argo reads them from the Workflow's namespace; the build ships no Secret with a value.
        named = {s3["accessKeySecret"]["name"], s3["secretKeySecret"]["name"]}
        for secret in of_kind(objs, "Secret"):
            assert secret["metadata"]["name"] not in named, "the artifact credentials are created by hand, not shipped"


def test_production_job_namespace_works_in_any_namespace() -> None:
    objs = build("overlays/production/job-namespace")
    config = _repository_config(objs)
    assert "namespace" not in config["metadata"]
    platform = _repository_config(build("overlays/production"))
    assert platform["metadata"]["namespace"] == "qiskit-argo"
    assert platform["data"] == config["data"], "the platform namespace and job namespaces get the same template"


def test_workflows_keep_the_final_results_and_collect_the_rest() -> None:
    template = workflows.cluster_workflow_template()
    gc = template["spec"]["artifactGC"]
    assert gc["strategy"] == "OnWorkflowCompletion"  # intermediates go when the run ends
    assert "ttlStrategy" not in template["spec"], "the Workflow lives as long as its QiskitJob"
    assert gc["serviceAccountName"] == workflows.SERVICE_ACCOUNT
    assert gc["podMetadata"]["labels"][workflows.LABEL_EGRESS] == "none", "GC pods must pass the NetworkPolicies"
    kept, collected, cached = set(), set(), set()
    for step in template["spec"]["templates"]:
        for artifact in (step.get("outputs") or {}).get("artifacts", []):
            strategy = (artifact.get("artifactGC") or {}).get("strategy")
            if strategy == "Never":  # a cached part: the bucket's lifecycle rule expires it
                assert artifact["name"] == PART_ARTIFACT and artifact["s3"]["key"].startswith(CACHE_PREFIX + "/")
                assert "memoize" in step, step["name"]
                cached.add(step["name"])
                continue
            (kept if strategy == "OnWorkflowDeletion" else collected).add(artifact["name"])
            assert strategy in (None, "OnWorkflowDeletion"), artifact
    # A run's parts stay with the Workflow (key-only, under the run's own prefix), like the results.
    assert kept == {*KEPT_ARTIFACTS, PART_ARTIFACT} == {"results", "part"}
    assert cached == {"execute-aer-cached", "execute-aer-gpu-cached"}
    assert {"request", "circuit", "bindings"} <= collected
