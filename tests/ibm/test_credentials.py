"""The API key path: a canary token read from the environment shows in no message, log record or repr.

``RuntimeService`` is driven here through a stand-in ``factory`` (nothing here can reach IBM):
the stand-in answers as ``QiskitRuntimeService`` does — strings for job states, the library's
exceptions — and one of its errors echoes the key, as a careless library message might.
"""

from __future__ import annotations

import logging
import pickle
import traceback
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from qiskit_argo.errors import PermanentError
from qiskit_argo.ibm import IbmFailure, IbmPermanentError, IbmService, IbmTransientError, JobState
from qiskit_argo.ibm.credentials import INSTANCE_ENV, TOKEN_ENV, Credentials, Token, credentials_from_env
from qiskit_argo.ibm.runtime import RuntimeService

pytest.importorskip("qiskit_ibm_runtime")

from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError, RuntimeInvalidStateError  # noqa: E402


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    token = f"canary{uuid.uuid4().hex}"
    monkeypatch.setenv(TOKEN_ENV, f"  {token}\n")  # as a Secret made --from-file often holds it
    monkeypatch.setenv(INSTANCE_ENV, "crn:v1:bluemix:public:quantum-computing:us-east:a/1::")
    return token


@pytest.fixture
def every_log_record(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    caplog.set_level(logging.DEBUG)
    for name in ("", "qiskit_ibm_runtime", "qiskit_argo"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog.records


def _texts_of(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error)), repr(vars(error))])


class _Job:
    def __init__(self, status: str, error: str | None = None) -> None:
        self._status, self._error = status, error

    def status(self) -> str:
        return self._status

    def error_message(self) -> str | None:
        return self._error

    def cancel(self) -> None:
        if self._status in ("DONE", "ERROR", "CANCELLED"):
            raise RuntimeInvalidStateError("Job cannot be cancelled: 409 Client Error: Conflict for url: ...")

    def metrics(self) -> dict[str, Any]:
        return {"usage": {"qpu_charge_time_seconds": 0, "status": "pending"}}

    def usage(self) -> float:
        return 0

    @property
    def usage_estimation(self) -> dict[str, Any]:
        return {"quantum_seconds": 3.5}


class _Service:
    """Answers as ``QiskitRuntimeService`` does, and echoes the key in one error."""

    def __init__(self, **arguments: Any) -> None:
        self.arguments = arguments
        self.jobs = {"d1": _Job("QUEUED"), "d2": _Job("ERROR", "Job d2 has failed:\nError code 1517; too deep"),
                     "d3": _Job("DONE")}  # fmt: skip

    def job(self, job_id: str) -> _Job:
        return self.jobs[job_id]

    def backend(self, name: str) -> Any:
        raise IBMNotAuthorizedError(
            f"401 Client Error: Unauthorized for url: https://x?apikey={self.arguments['token']}"
        )


def test_the_key_is_read_and_never_shown(canary: str, every_log_record: list[logging.LogRecord]) -> None:
    credentials = credentials_from_env()
    assert credentials.token.reveal() == canary, "surrounding whitespace dropped"
    assert credentials.instance is not None and credentials.channel == "ibm_quantum_platform"
    token = credentials.token
    logged = logging.Formatter().format(logging.makeLogRecord({"msg": "%s %r", "args": (token, token)}))
    shown = [repr(credentials), str(credentials), repr(token), str(token), f"{token}", f"{token:>80}", logged]
    assert all(canary not in text for text in shown)
    with pytest.raises(TypeError) as raised:
        pickle.dumps(credentials)
    assert canary not in _texts_of(raised.value)
    logging.getLogger("qiskit_argo.test").info("credentials: %s %r", credentials, credentials)
    assert all(canary not in record.getMessage() for record in every_log_record)


def test_the_key_reaches_only_the_service_and_not_its_errors(
    canary: str, every_log_record: list[logging.LogRecord]
) -> None:
    made: list[_Service] = []

    def factory(**arguments: Any) -> _Service:
        made.append(_Service(**arguments))
        return made[-1]

    service = RuntimeService(credentials_from_env(), factory=factory)
    assert isinstance(service, IbmService) and canary not in repr(service)
    with pytest.raises(IbmPermanentError) as raised:
        service.backend_info("ibm_torino")
    error = raised.value
    assert made[0].arguments["token"] == canary, "handed to QiskitRuntimeService, and only there"
    assert error.failure == IbmFailure.CREDENTIALS_REJECTED
    assert "apikey=***" in str(error) and canary not in _texts_of(error)
    assert error.__cause__ is None and error.__suppress_context__
    logging.getLogger("qiskit_argo.test").exception("probe failed", exc_info=error)
    for record in every_log_record:
        assert canary not in record.getMessage()
        assert record.exc_info is None or canary not in "".join(traceback.format_exception(*record.exc_info))


def test_the_runtime_service_reads_the_clouds_strings(canary: str) -> None:
    service = RuntimeService(credentials_from_env(), factory=_Service)
    assert service.status("d1").state == JobState.QUEUED
    failed = service.status("d2")
    assert failed.state == JobState.FAILED and failed.message and "1517" in failed.message
    assert service.status("d3").state == JobState.DONE
    assert service.cancel("d1") is True and service.cancel("d3") is False, "a 409 is 'already finished'"
    usage = service.usage("d1")
    assert usage.quantum_seconds == 0 and usage.final is False and usage.estimated_quantum_seconds == 3.5


@pytest.mark.parametrize(
    ("value", "complaint"),
    [(None, "not set or empty"), ("", "not set or empty"), ("   \n", "not set or empty"),
     ("{} {}", "whitespace or control characters"), ("{}\x1b[2J", "whitespace or control characters")],
    ids=["unset", "empty", "blank", "inner-space", "control"],
)  # fmt: skip
def test_bad_keys_are_refused_without_echo(monkeypatch: pytest.MonkeyPatch, value: str | None, complaint: str) -> None:
    secret = f"canary{uuid.uuid4().hex}"
    if value is None:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
    else:
        monkeypatch.setenv(TOKEN_ENV, value.format(secret, secret))
    with pytest.raises(PermanentError, match=complaint) as raised:
        credentials_from_env()
    assert TOKEN_ENV in str(raised.value) and secret not in _texts_of(raised.value)


def test_a_bad_channel_is_refused_without_echo(monkeypatch: pytest.MonkeyPatch, canary: str) -> None:
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", canary)
    with pytest.raises(PermanentError) as raised:
        credentials_from_env()
    assert canary not in _texts_of(raised.value)


def test_a_transient_failure_connecting_is_redacted_too(canary: str) -> None:
    def factory(**arguments: Any) -> Any:
        raise ConnectionError(f"cannot reach iam.cloud.ibm.com with key {arguments['token']}")

    with pytest.raises(IbmTransientError) as raised:
        RuntimeService(credentials_from_env(), factory=factory).status("d1")
    assert canary not in _texts_of(raised.value) and "***" in str(raised.value)


def test_tokens_compare_without_showing() -> None:
    assert Token("abc") == Token("abc") != Token("abd") and len({Token("abc"), Token("abc")}) == 1
    assert Credentials(Token("k")).service_arguments() == {"channel": "ibm_quantum_platform", "token": "k",
                                                            "instance": None}  # fmt: skip
