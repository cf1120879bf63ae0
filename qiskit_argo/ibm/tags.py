"""The IBM job tag that names a QiskitJob's one IBM Quantum job, made from the job's identity.

Every submission carries ``identity_tag(identity)``; the submit step looks for that tag before it
submits and after (``qiskit_argo.ibm.exactly_once``), so a retried or duplicated submission is
found and never runs twice. The identity is the QiskitJob's namespace, name, uid and generation:
a re-created job (new uid) or an edited one (new generation, e.g. resumed after a suspend) is a
new run; a retry of the same one is not.

IBM's limits (``Tags`` in IBM Quantum's Qiskit Runtime OpenAPI document, used by ``POST
/v1/jobs`` and the ``tags`` filter of ``GET /v1/jobs``): at most ``MAX_TAGS`` (8) tags per job,
each at most ``MAX_TAG_LENGTH`` (86) characters on one line (``pattern: ^.*$``). qiskit-ibm-runtime
0.51 checks only that tags are a list of strings (``utils/validations.py: validate_job_tags``).
The tags also travel as query parameters and show in IBM's dashboard to everyone with access to
the instance, so ours use only URL-unreserved characters and hold nothing secret:

* ``qiskit-argo.job.<32 hex>`` (48 characters): the first 128 bits of the SHA-256 of
  ``namespace \\0 name \\0 uid \\0 generation``. Fixed length whatever the names, so it always fits;
  it is the only tag matched on.
* ``qiskit-argo.name.<namespace>.<name>`` (cut to 86 characters, a cut marked ``~``): for people
  reading IBM's job list; never matched on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit_argo.api import QiskitJob

__all__ = [
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "IDENTITY_TAG_PREFIX",
    "LABEL_TAG_PREFIX",
    "IDENTITY_TAG_PATTERN",
    "JobIdentity",
    "identity_tag",
    "label_tag",
    "job_tags",
    "check_tags",
]

#: IBM's limits on a job's tags (see the module docstring for where they come from).
MAX_TAGS = 8
MAX_TAG_LENGTH = 86

IDENTITY_TAG_PREFIX = "qiskit-argo.job."
LABEL_TAG_PREFIX = "qiskit-argo.name."
#: What an identity tag looks like (and nothing else does).
IDENTITY_TAG_PATTERN = r"^qiskit-argo\.job\.[0-9a-f]{32}$"
_HEX_DIGITS = 32
_UNRESERVED = re.compile(r"^[A-Za-z0-9._~-]*$")


@dataclass(frozen=True)
class JobIdentity:
    """Who a submission is for: one generation of one incarnation of one QiskitJob."""

    namespace: str
    name: str
    uid: str | None
    generation: int

    @classmethod
    def of(cls, job: QiskitJob) -> JobIdentity:
        """The identity of a QiskitJob as read from the API server (a local run has no uid: ``None``)."""
        meta = job.metadata
        return cls(meta.namespace, meta.name, meta.uid, meta.generation or 0)


def identity_tag(identity: JobIdentity) -> str:
    """The tag that names this identity's one IBM job (48 characters, ``[a-z0-9.-]``)."""
    key = "\0".join((identity.namespace, identity.name, identity.uid or "", str(identity.generation)))
    return IDENTITY_TAG_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:_HEX_DIGITS]


def label_tag(identity: JobIdentity) -> str:
    """A tag a person can read in IBM's job list (namespace and name; cut to fit, marked ``~``)."""
    tag = f"{LABEL_TAG_PREFIX}{identity.namespace}.{identity.name}"
    return tag if len(tag) <= MAX_TAG_LENGTH else tag[: MAX_TAG_LENGTH - 1] + "~"


def job_tags(identity: JobIdentity, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every tag a submission for ``identity`` carries: the identity tag first, the label, then ``extra``."""
    return check_tags((identity_tag(identity), label_tag(identity), *extra))


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """``tags`` as a tuple, or ``ValueError`` when IBM would refuse them or they would not travel
    safely in a URL (duplicates are dropped, order kept)."""
    unique = tuple(dict.fromkeys(tags))
    if len(unique) > MAX_TAGS:
        raise ValueError(f"{len(unique)} job tags; IBM Quantum takes at most {MAX_TAGS}")
    for tag in unique:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"job tag {tag!r} is not a non-empty string")
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"job tag {tag[:20]!r}... has {len(tag)} characters; IBM Quantum takes at most 86")
        if not _UNRESERVED.match(tag):
            raise ValueError(f"job tag {tag[:40]!r} holds characters other than letters, digits and . _ ~ -")
    return unique
