"""The one-line errors of fetching a job's results off the cluster (exit 2: wrong input or a
corrupt artifact; exit 1: the store or the server failed, retrying may help)."""

from __future__ import annotations

from qiskit_argo.errors import PermanentError, TransientError
from qiskit_argo.reasons import Reason

__all__ = [
    "CorruptResult",
    "ArtifactNotFound",
    "ArtifactAccessDenied",
    "RepositoryConfigError",
    "ArtifactUnavailable",
]


class CorruptResult(PermanentError):
    """What came back is not what the store-results step wrote: a checksum or size mismatch, a
    truncated or unreadable archive, a missing result.json."""

    reason = Reason.CORRUPT_RESULT


class ArtifactNotFound(PermanentError):
    """The job has no results artifact yet, or the store no longer holds it."""


class ArtifactAccessDenied(PermanentError):
    """The store or the Argo Server refused the credentials (never printed)."""


class RepositoryConfigError(PermanentError):
    """The artifact repository ConfigMap is missing a key, malformed, or not S3-compatible."""


class ArtifactUnavailable(TransientError):
    """The store or the Argo Server could not be reached or failed; retrying may help."""
