"""What went wrong talking to IBM Quantum: permanent or transient, in our words, never holding a secret.

Every method of an ``IbmService`` raises ``IbmPermanentError`` (retrying cannot help: the API key
was rejected, the backend is unknown or retired, IBM refused the request, the job failed or was
cancelled at IBM) or ``IbmTransientError`` (the network, a 5xx, a rate limit, a timeout: a retry
may help), never a client-library exception. ``failure`` says which, as one ``IbmFailure`` word
status can record; ``ibm_message`` keeps IBM's own words (bounded, one line).

``ibm_call`` turns what qiskit-ibm-runtime raises into these. It reads exception classes by name
(no import of the library here) as qiskit-ibm-runtime 0.51 raises them:

* ``api/session.py`` (``RetrySession.request``): a 401 becomes ``IBMNotAuthorizedError``, any
  other HTTP or network failure ``RequestsApiError(message, status_code)`` (``-1`` when there was
  no response, or after urllib3 gave up retrying a 5xx of ``STATUS_FORCELIST``);
* ``qiskit_runtime_service.py`` and ``runtime_job_v2.py`` re-raise most of those as
  ``IBMRuntimeError(f"Failed to ...: {ex}")`` (the status code survives only in requests' text,
  ``"502 Server Error: Bad Gateway for url: ..."``), and raise ``RuntimeJobNotFound``,
  ``RuntimeJobFailureError``, ``RuntimeJobMaxTimeoutError``, ``RuntimeInvalidStateError``,
  ``IBMInputValueError`` and qiskit's ``QiskitBackendNotFoundError``;
* ``accounts/`` raises ``AccountsError`` subclasses for a missing or malformed account.

The translated error is raised ``from None``: the library's exception (whose text or request
may carry more than we want to show) is not chained into tracebacks or log records, and every
text kept passes through ``redact`` with the call's secrets first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from qiskit_argo.errors import PermanentError, TransientError, one_line
from qiskit_argo.reasons import Reason

__all__ = [
    "IbmFailure",
    "PERMANENT_FAILURES",
    "FAILURE_REASONS",
    "IbmError",
    "IbmPermanentError",
    "IbmTransientError",
    "REDACTED",
    "redact",
    "translate",
    "ibm_call",
]

#: What a secret becomes in any text we keep.
REDACTED = "***"
#: Most characters of IBM's own message kept in ours.
_MAX_IBM_MESSAGE = 120


class IbmFailure(StrEnum):
    """Why a call to IBM Quantum failed, one CamelCase word."""

    # permanent
    CREDENTIALS_REJECTED = "CredentialsRejected"
    BACKEND_UNAVAILABLE = "BackendUnavailable"
    REQUEST_REFUSED = "RequestRefused"
    JOB_NOT_FOUND = "JobNotFound"
    JOB_FAILED = "JobFailed"
    JOB_CANCELLED = "JobCancelled"
    # transient
    NETWORK = "Network"
    SERVER_ERROR = "ServerError"
    RATE_LIMITED = "RateLimited"
    TIMEOUT = "Timeout"


PERMANENT_FAILURES = frozenset(
    {
        IbmFailure.CREDENTIALS_REJECTED,
        IbmFailure.BACKEND_UNAVAILABLE,
        IbmFailure.REQUEST_REFUSED,
        IbmFailure.JOB_NOT_FOUND,
        IbmFailure.JOB_FAILED,
        IbmFailure.JOB_CANCELLED,
    }
)


#: The status reason a permanent failure gives the QiskitJob (transient ones: TransientFailure).
FAILURE_REASONS: dict[IbmFailure, Reason] = {
    IbmFailure.CREDENTIALS_REJECTED: Reason.CREDENTIALS_REJECTED,
    IbmFailure.BACKEND_UNAVAILABLE: Reason.BACKEND_UNAVAILABLE,
    IbmFailure.REQUEST_REFUSED: Reason.IBM_REQUEST_REFUSED,
    IbmFailure.JOB_NOT_FOUND: Reason.IBM_JOB_NOT_FOUND,
    IbmFailure.JOB_FAILED: Reason.IBM_JOB_FAILED,
    IbmFailure.JOB_CANCELLED: Reason.IBM_JOB_CANCELLED,
}


class IbmError(Exception):
    """What both IBM errors carry (a mixin of ``QiskitArgoError`` subclasses)."""

    failure: IbmFailure
    ibm_message: str | None


class IbmPermanentError(PermanentError, IbmError):
    """Retrying cannot help: fix the credentials, the backend, the request, or accept IBM's verdict."""

    def __init__(self, message: str, *, failure: IbmFailure, ibm_message: str | None = None) -> None:
        super().__init__(one_line(message), reason=FAILURE_REASONS.get(failure, Reason.PERMANENT_FAILURE))
        self.failure = failure
        self.ibm_message = ibm_message


class IbmTransientError(TransientError, IbmError):
    """A retry may help (network, 5xx, rate limit, timeout); nothing was decided at IBM."""

    def __init__(self, message: str, *, failure: IbmFailure, ibm_message: str | None = None) -> None:
        super().__init__(one_line(message))
        self.failure = failure
        self.ibm_message = ibm_message


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every occurrence of each secret (of at least 4 characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


_HTTP_STATUS = re.compile(r"\b([1-5][0-9]{2}) (?:Client|Server) Error\b")
_WHAT_TO_DO: dict[IbmFailure, str] = {
    IbmFailure.CREDENTIALS_REJECTED: (
        "check the API key in the backend's credentialsSecretRef, and its channel and instance"
    ),
    IbmFailure.BACKEND_UNAVAILABLE: "check the backend's name; it may be retired or not in this instance",
    IbmFailure.REQUEST_REFUSED: "fix the request IBM refused",
    IbmFailure.JOB_NOT_FOUND: "the job is gone at IBM (deleted, or another instance's)",
    IbmFailure.JOB_FAILED: "IBM's message says why; fix the circuit or its options",
    IbmFailure.JOB_CANCELLED: "it was cancelled at IBM; resubmit the QiskitJob to run it again",
    IbmFailure.NETWORK: "retrying",
    IbmFailure.SERVER_ERROR: "retrying",
    IbmFailure.RATE_LIMITED: "retrying later",
    IbmFailure.TIMEOUT: "retrying",
}


def _names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def _module(error: BaseException) -> str:
    return type(error).__module__.split(".", 1)[0]


def _http_status(error: BaseException, text: str) -> int:
    code = getattr(error, "status_code", -1)
    if isinstance(code, int) and code > 0:
        return code
    match = _HTTP_STATUS.search(text)
    return int(match.group(1)) if match else -1


def _by_status(code: int) -> IbmFailure:
    if code in (401, 403):
        return IbmFailure.CREDENTIALS_REJECTED
    if code == 404:
        return IbmFailure.JOB_NOT_FOUND
    if code in (408, 504, 522, 524):
        return IbmFailure.TIMEOUT
    if code == 429:
        return IbmFailure.RATE_LIMITED
    if 400 <= code < 500:
        return IbmFailure.REQUEST_REFUSED
    if code >= 500:
        return IbmFailure.SERVER_ERROR
    return IbmFailure.NETWORK


def _failure(error: BaseException, text: str) -> IbmFailure | None:
    """The failure an exception of qiskit-ibm-runtime, qiskit, requests or the network means, or
    ``None`` for anything else (a bug of ours, which must not be dressed up as IBM's)."""
    names = _names(error)
    if names & {"IBMNotAuthorizedError", "AccountsError"}:
        return IbmFailure.CREDENTIALS_REJECTED
    if "QiskitBackendNotFoundError" in names:
        return IbmFailure.BACKEND_UNAVAILABLE
    if "RuntimeJobNotFound" in names:
        return IbmFailure.JOB_NOT_FOUND
    if names & {"RuntimeJobFailureError", "RuntimeJobMaxTimeoutError"}:
        return IbmFailure.JOB_FAILED
    if "RuntimeInvalidStateError" in names:
        return IbmFailure.JOB_CANCELLED if "cancelled" in text.lower() else IbmFailure.REQUEST_REFUSED
    if names & {"IBMInputValueError", "IBMBackendValueError"}:
        return IbmFailure.REQUEST_REFUSED
    if names & {"JobTimeoutError", "UserTimeoutExceededError", "Timeout", "TimeoutError"}:
        return IbmFailure.TIMEOUT
    if names & {"RequestsApiError", "IBMRuntimeError", "IBMApiError", "IBMError", "RequestException"}:
        return _by_status(_http_status(error, text))
    if "ConnectionError" in names or _module(error) in ("requests", "urllib3"):
        return IbmFailure.NETWORK
    if _module(error) in ("qiskit_ibm_runtime",):
        return IbmFailure.SERVER_ERROR
    return None


def translate(error: BaseException, what: str, secrets: Iterable[str | None] = ()) -> IbmError | None:
    """The ``IbmPermanentError``/``IbmTransientError`` for a library exception raised while doing
    ``what`` (e.g. ``"submitting to ibm_torino"``), or ``None`` when it is not one of IBM's."""
    secrets = tuple(secrets)
    text = redact(str(error) or type(error).__name__, secrets)
    failure = _failure(error, text)
    if failure is None:
        return None
    said = one_line(text, _MAX_IBM_MESSAGE)
    message = f"IBM Quantum: {what}: {failure} ({said}); {_WHAT_TO_DO[failure]}"
    if failure in PERMANENT_FAILURES:
        return IbmPermanentError(message, failure=failure, ibm_message=said)
    return IbmTransientError(message, failure=failure, ibm_message=said)


@contextmanager
def ibm_call(what: str, *, secrets: Iterable[str | None] = ()) -> Iterator[None]:
    """Run a call to IBM, raising what it raises as ``translate`` says (and ours unchanged)."""
    try:
        yield
    except IbmError:
        raise
    except Exception as error:  # noqa: BLE001 - every library exception is translated or re-raised
        translated = translate(error, what, secrets)
        if translated is None:
            raise
        raise translated from None
