"""``ArtifactRepository``: Argo's artifact repository as a job namespace's ``artifact-repositories``
ConfigMap lays it out, and ``S3Credentials`` to read it.

The layout (argo-workflows v4.1.2 ``docs/artifact-repository-ref.md``, read by
``workflow/artifactrepositories/artifactrepositories.go``): each data key holds one repository as
YAML (``pkg/apis/workflow/v1alpha1/artifact_repository_types.go`` ``ArtifactRepository``); the
key is the Workflow's ``artifactRepositoryRef.key``, else the ConfigMap's annotation
``workflows.argoproj.io/default-artifact-repository``. Only ``s3`` (any S3-compatible store:
AWS S3, MinIO, Ceph, GCS's XML API...) is read here. Credentials are never in the ConfigMap: it
names the Secret keys (``accessKeySecret``, ``secretKeySecret``) that hold them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import yaml

from qiskit_argo.artifacts._errors import RepositoryConfigError
from qiskit_argo.errors import quote

__all__ = [
    "CONFIG_MAP",
    "DEFAULT_KEY_ANNOTATION",
    "DEFAULT_KEY_FORMAT",
    "SecretKeyRef",
    "S3Credentials",
    "ArtifactRepository",
    "endpoint_url",
]

#: The ConfigMap Argo looks in when a ref names none (``GetConfigMapOr("artifact-repositories")``).
CONFIG_MAP = "artifact-repositories"
#: The annotation naming the ConfigMap's default key.
DEFAULT_KEY_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
#: Argo's key format when the repository sets none (``DefaultArchivePattern``); the executor
#: appends ``/<file>`` (``<artifact>.tgz``, or the base name with ``archive: none``).
DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"


class SecretKeyRef(NamedTuple):
    """One key of one Secret in the job's namespace (``{name, key}``)."""

    name: str
    key: str


@dataclass(frozen=True)
class S3Credentials:
    """An access key pair for the store; ``repr`` never shows the secret parts."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"S3Credentials(access_key={self.access_key[:4]}..., secret_key=***)"

    @classmethod
    def from_secrets(
        cls, repository: ArtifactRepository, read: Callable[[SecretKeyRef], str | bytes | None]
    ) -> S3Credentials | None:
        """The pair the repository names, each value from ``read(ref)`` (the caller reads the
        Secret, e.g. through the Kubernetes API); None when the repository names no Secrets."""
        access, secret = repository.access_key_secret, repository.secret_key_secret
        if access is None or secret is None:
            return None
        values = []
        for ref in (access, secret):
            value = read(ref)
            if value is None:
                raise RepositoryConfigError(
                    f"Secret {ref.name} has no key {ref.key!r}, which artifact repository "
                    f"{repository.config_map}/{repository.key} names; create it in the job's namespace"
                )
            values.append(value.decode() if isinstance(value, bytes) else value)
        return cls(access_key=values[0].strip(), secret_key=values[1].strip())


def _secret_ref(value: Any, where: str) -> SecretKeyRef | None:
    if value is None:
        return None
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("name"), str)
        or not isinstance(value.get("key"), str)
        or not value["name"]
        or not value["key"]
    ):
        raise RepositoryConfigError(f"{where} must be a Secret reference {{name: ..., key: ...}}, not {quote(value)}")
    return SecretKeyRef(value["name"], value["key"])


def _text(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RepositoryConfigError(f"{where} must be a string, not {quote(value)}")
    return value


@dataclass(frozen=True)
class ArtifactRepository:
    """An S3-compatible artifact repository (one key of the ``artifact-repositories`` ConfigMap)."""

    config_map: str
    key: str
    bucket: str
    endpoint: str | None = None
    insecure: bool = False
    region: str | None = None
    access_key_secret: SecretKeyRef | None = None
    secret_key_secret: SecretKeyRef | None = None
    key_format: str = DEFAULT_KEY_FORMAT
    use_sdk_creds: bool = False

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint as a URL (``http://`` when ``insecure``); None: AWS S3's own endpoint."""
        return endpoint_url(self.endpoint, self.insecure)

    @classmethod
    def from_config_map(cls, config_map: Mapping[str, Any], key: str | None = None) -> ArtifactRepository:
        """The repository under ``key`` (default: the ConfigMap's default-key annotation) of a
        ConfigMap as the API returns it (``metadata``, ``data``); one-line ``RepositoryConfigError``
        when the key is missing, the YAML malformed or the repository not S3."""
        metadata = config_map.get("metadata") or {}
        name: str = metadata["name"] if isinstance(metadata.get("name"), str) else CONFIG_MAP
        data = config_map.get("data") or {}
        annotations = metadata.get("annotations") or {}
        chosen = key or annotations.get(DEFAULT_KEY_ANNOTATION)
        if not chosen:
            raise RepositoryConfigError(
                f"ConfigMap {name} names no default artifact repository (annotation {DEFAULT_KEY_ANNOTATION}) "
                "and no key was given; see docs/results.md"
            )
        if chosen not in data:
            have = ", ".join(sorted(data)) or "none"
            raise RepositoryConfigError(f"ConfigMap {name} has no key {chosen!r} (keys: {have}); see docs/results.md")
        try:
            document = yaml.safe_load(data[chosen])
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise RepositoryConfigError(f"ConfigMap {name} key {chosen}: not YAML{where}") from None
        return cls.from_document(document, config_map=name, key=chosen)

    @classmethod
    def from_document(cls, document: Any, *, config_map: str = CONFIG_MAP, key: str = "") -> ArtifactRepository:
        """The repository from its YAML document (``{s3: {...}, archiveLogs: ...}``)."""
        where = f"ConfigMap {config_map} key {key}"
        if not isinstance(document, Mapping):
            raise RepositoryConfigError(f"{where}: not a mapping with an s3 repository")
        s3 = document.get("s3")
        if not isinstance(s3, Mapping):
            kinds = ", ".join(k for k in document if k != "archiveLogs") or "nothing"
            raise RepositoryConfigError(
                f"{where}: has {kinds}, not s3; qiskit-argo reads results from S3-compatible stores only "
                "(use the Argo Server with --argo-server, or argo cp)"
            )
        bucket = _text(s3.get("bucket"), f"{where}: s3.bucket")
        if bucket is None:
            raise RepositoryConfigError(f"{where}: s3.bucket is missing")
        insecure = s3.get("insecure", False)
        use_sdk = s3.get("useSDKCreds", False)
        if not isinstance(insecure, bool) or not isinstance(use_sdk, bool):
            raise RepositoryConfigError(f"{where}: s3.insecure and s3.useSDKCreds must be true or false")
        key_format = _text(s3.get("keyFormat"), f"{where}: s3.keyFormat")
        prefix = _text(s3.get("keyPrefix"), f"{where}: s3.keyPrefix")
        if key_format is None:
            # S3ArtifactRepository.IntoArtifactLocation: path.Join(KeyPrefix, DefaultArchivePattern)
            key_format = f"{prefix.strip('/')}/{DEFAULT_KEY_FORMAT}" if prefix else DEFAULT_KEY_FORMAT
        return cls(
            config_map=config_map,
            key=key,
            bucket=bucket,
            endpoint=_text(s3.get("endpoint"), f"{where}: s3.endpoint"),
            insecure=insecure,
            region=_text(s3.get("region"), f"{where}: s3.region"),
            access_key_secret=_secret_ref(s3.get("accessKeySecret"), f"{where}: s3.accessKeySecret"),
            secret_key_secret=_secret_ref(s3.get("secretKeySecret"), f"{where}: s3.secretKeySecret"),
            key_format=key_format,
            use_sdk_creds=use_sdk,
        )


def endpoint_url(endpoint: str | None, insecure: bool | None) -> str | None:
    """An Argo S3 endpoint (``host:port``, no scheme) as a URL; None for AWS S3's default."""
    if not endpoint:
        return None
    if "://" in endpoint:
        return endpoint
    return f"{'http' if insecure else 'https'}://{endpoint}"
