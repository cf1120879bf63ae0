"""A QiskitJob's results off the cluster: where Argo stored them, fetched and verified, written as
a local run writes them.

* ``ArtifactRepository.from_config_map(config_map, key=None)`` — the job namespace's
  ``artifact-repositories`` ConfigMap as Argo lays it out (S3-compatible only);
  ``S3Credentials.from_secrets(repository, read)`` — the key pair from the Secrets it names.
* ``fetch_results(location, *, namespace, repository, argo_server, token, s3_credentials)`` —
  ``{"result.json": bytes, "metrics.json": bytes, "histogram.png": bytes}`` from the Argo
  Server's artifact endpoint or straight from the store, result.json checked against the
  size and sha256 in ``status.resultLocation`` (``CorruptResult``: one line, exit 2).
* ``write_results_dir(files, out)`` — the same directory ``qiskit-argo run`` writes.

docs/results.md tells the whole story (storage, retention, the command).
"""

from qiskit_argo.artifacts._archive import (
    MAX_RESULTS_BYTES,
    RESULT_FILES,
    RESULT_JSON,
    unpack_results,
    verify_results,
)
from qiskit_argo.artifacts._errors import (
    ArtifactAccessDenied,
    ArtifactNotFound,
    ArtifactUnavailable,
    CorruptResult,
    RepositoryConfigError,
)
from qiskit_argo.artifacts._fetch import (
    TIMEOUT,
    artifact_url,
    fetch_from_argo_server,
    fetch_from_s3,
    fetch_results,
)
from qiskit_argo.artifacts._local import write_results_dir
from qiskit_argo.artifacts._repository import (
    CONFIG_MAP,
    DEFAULT_KEY_ANNOTATION,
    DEFAULT_KEY_FORMAT,
    ArtifactRepository,
    S3Credentials,
    SecretKeyRef,
    endpoint_url,
)

__all__ = [
    "MAX_RESULTS_BYTES",
    "RESULT_FILES",
    "RESULT_JSON",
    "unpack_results",
    "verify_results",
    "ArtifactAccessDenied",
    "ArtifactNotFound",
    "ArtifactUnavailable",
    "CorruptResult",
    "RepositoryConfigError",
    "TIMEOUT",
    "artifact_url",
    "fetch_from_argo_server",
    "fetch_from_s3",
    "fetch_results",
    "write_results_dir",
    "CONFIG_MAP",
    "DEFAULT_KEY_ANNOTATION",
    "DEFAULT_KEY_FORMAT",
    "ArtifactRepository",
    "S3Credentials",
    "SecretKeyRef",
    "endpoint_url",
]
