"""``fetch_results``: a job's results directory read from where Argo stored it, verified.

Two ways, in this order:

* the **Argo Server** (``argo_server``, with the user's ``token``): its artifact endpoint
  ``GET /artifact-files/{namespace}/workflows/{workflow}/{nodeId}/outputs/{artifact}``
  (argo-workflows v4.1.2 ``server/artifacts/artifact_server.go`` ``GetArtifactFile``, routed at
  ``/artifact-files/`` in ``server/apiserver/argoserver.go``) streams the stored object: the tgz,
  or, with ``archive: none``, each file at ``.../outputs/{artifact}/{file}``. The server needs the
  Workflow (it is deleted after its TTL): when the server cannot serve it and the store is known,
  the store is read directly.
* the **S3-compatible store** (boto3): bucket, key and endpoint as the job's
  ``status.resultLocation`` recorded them (else the repository's), with ``s3_credentials``
  (else boto3's own chain: environment, ``~/.aws``, instance roles).

Either way result.json is checked against the size and sha256 in ``status.resultLocation``
(``verify_results``). Credentials and tokens never appear in a message.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from qiskit_argo.api import ResultLocation
from qiskit_argo.artifacts._archive import RESULT_FILES, RESULT_JSON, unpack_results, verify_results
from qiskit_argo.artifacts._errors import (
    ArtifactAccessDenied,
    ArtifactNotFound,
    ArtifactUnavailable,
    RepositoryConfigError,
)
from qiskit_argo.artifacts._repository import ArtifactRepository, S3Credentials, endpoint_url
from qiskit_argo.errors import QiskitArgoError

__all__ = ["TIMEOUT", "artifact_url", "fetch_results", "fetch_from_argo_server", "fetch_from_s3"]

#: Seconds to wait for a connection or a read, per request.
TIMEOUT = 60.0
_ARCHIVE_SUFFIX = ".tgz"


def _archived(location: ResultLocation) -> bool:
    """Whether the artifact is one tgz object (Argo's default) rather than a prefix of files."""
    return location.key is None or location.key.endswith(_ARCHIVE_SUFFIX)


def artifact_url(argo_server: str, namespace: str, location: ResultLocation, file: str | None = None) -> str:
    """The Argo Server URL of the results artifact (or of one ``file`` in an unarchived one)."""
    if not location.workflow or not location.node_id:
        raise ArtifactNotFound("the job's resultLocation names no Workflow node; the Argo Server cannot serve it")
    parts = [namespace, "workflows", location.workflow, location.node_id, "outputs", location.artifact]
    if file is not None:
        parts.append(file)
    path = "/".join(urllib.parse.quote(part, safe="") for part in parts)
    return f"{argo_server.rstrip('/')}/artifact-files/{path}"


def _authorization(token: str) -> str:
    return token if token.startswith(("Bearer ", "Basic ")) else f"Bearer {token}"


def _get(url: str, token: str | None, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": _authorization(token)} if token else {})
    where = url.split("/artifact-files/", 1)[0]
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http/https only)
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            raise ArtifactAccessDenied(
                f"the Argo Server at {where} refused the request ({error.code}); pass a valid token "
                "(argo auth token) with --argo-token, or omit --argo-server to read the store directly"
            ) from None
        if error.code == 404:
            raise ArtifactNotFound(f"the Argo Server at {where} has no such artifact (404)") from None
        raise ArtifactUnavailable(f"the Argo Server at {where} answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ArtifactUnavailable(f"cannot reach the Argo Server at {where}: {reason}") from None


def fetch_from_argo_server(
    location: ResultLocation, *, namespace: str, argo_server: str, token: str | None, timeout: float = TIMEOUT
) -> dict[str, bytes]:
    """The results files through the Argo Server's artifact endpoint (not yet verified)."""
    if _archived(location):
        data = _get(artifact_url(argo_server, namespace, location), token, timeout)
        return unpack_results(data)
    files: dict[str, bytes] = {}
    for name in RESULT_FILES:
        try:
            files[name] = _get(artifact_url(argo_server, namespace, location, name), token, timeout)
        except ArtifactNotFound:
            if name == RESULT_JSON:
                raise
    return files


def _s3_client(
    location: ResultLocation, repository: ArtifactRepository | None, credentials: S3Credentials | None
) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise RepositoryConfigError("reading results from S3 needs boto3: pip install 'qiskit-argo[cluster]'") from None
    endpoint = location.endpoint if location.endpoint is not None else (repository.endpoint if repository else None)
    insecure = location.insecure if location.insecure is not None else (repository.insecure if repository else False)
    keys: dict[str, str] = {}
    if credentials is not None:
        keys = {"aws_access_key_id": credentials.access_key, "aws_secret_access_key": credentials.secret_key}
        if credentials.session_token:
            keys["aws_session_token"] = credentials.session_token
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url(endpoint, insecure),
        region_name=(repository.region if repository and repository.region else "us-east-1"),
        config=Config(
            s3={"addressing_style": "path"},  # MinIO and most S3-compatible stores; AWS accepts it too
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
        **keys,
    )


def _s3_get(client: Any, bucket: str, key: str) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        response = client.get_object(Bucket=bucket, Key=key)
        data: bytes = response["Body"].read()
    except NoCredentialsError:
        raise ArtifactAccessDenied(
            f"no S3 credentials to read s3://{bucket}/{key}: the job namespace's artifact repository Secret, "
            "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ) from None
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchKey", "NoSuchBucket", "404") or status == 404:
            raise ArtifactNotFound(
                f"s3://{bucket}/{key} does not exist ({code}); the results were deleted from the bucket "
                "(a lifecycle rule?) or the job's status points elsewhere"
            ) from None
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403") or status == 403:
            raise ArtifactAccessDenied(
                f"the store refused to read s3://{bucket}/{key} ({code}); check the repository's credentials Secret"
            ) from None
        raise ArtifactUnavailable(f"the store failed to read s3://{bucket}/{key} ({code or status})") from None
    except BotoCoreError as error:
        raise ArtifactUnavailable(f"cannot read s3://{bucket}/{key}: {str(error).splitlines()[0]}") from None
    length = response.get("ContentLength")
    if isinstance(length, int) and length != len(data):
        from qiskit_argo.artifacts._errors import CorruptResult

        raise CorruptResult(f"s3://{bucket}/{key}: got {len(data)} of its {length} bytes; fetch it again")
    return data


def fetch_from_s3(
    location: ResultLocation,
    *,
    repository: ArtifactRepository | None,
    s3_credentials: S3Credentials | None,
) -> dict[str, bytes]:
    """The results files straight from the S3-compatible store (not yet verified)."""
    bucket = location.bucket or (repository.bucket if repository else None)
    if not bucket or not location.key:
        raise ArtifactNotFound(
            "the job's resultLocation names no bucket and key, and no artifact repository was given to find them"
        )
    client = _s3_client(location, repository, s3_credentials)
    if _archived(location):
        return unpack_results(_s3_get(client, bucket, location.key), f"s3://{bucket}/{location.key}")
    files: dict[str, bytes] = {}
    for name in RESULT_FILES:
        try:
            files[name] = _s3_get(client, bucket, f"{location.key.rstrip('/')}/{name}")
        except ArtifactNotFound:
            if name == RESULT_JSON:
                raise
    return files


def fetch_results(
    location: ResultLocation,
    *,
    namespace: str,
    repository: ArtifactRepository | None = None,
    argo_server: str | None = None,
    token: str | None = None,
    s3_credentials: S3Credentials | None = None,
    timeout: float = TIMEOUT,
) -> dict[str, bytes]:
    """The job's results files (``result.json``, ``metrics.json``, ``histogram.png`` → bytes),
    through the Argo Server when ``argo_server`` is given, else (or when the server cannot serve
    them and the store is known) straight from the store; result.json verified against the
    status's size and sha256 (``CorruptResult`` otherwise)."""
    files: dict[str, bytes] | None = None
    if argo_server:
        try:
            files = fetch_from_argo_server(
                location, namespace=namespace, argo_server=argo_server, token=token, timeout=timeout
            )
        except (ArtifactNotFound, ArtifactUnavailable) as error:
            # The Workflow is gone after its TTL (the server answers 404 or 500): try the store.
            if not (location.bucket or repository) or not location.key:
                raise
            try:
                files = fetch_from_s3(location, repository=repository, s3_credentials=s3_credentials)
            except QiskitArgoError as fallback:
                raise type(fallback)(f"{error}; and from the store: {fallback}") from None
    else:
        files = fetch_from_s3(location, repository=repository, s3_credentials=s3_credentials)
    verify_results(files, location)
    return files
