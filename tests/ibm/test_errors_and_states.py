"""What qiskit-ibm-runtime raises and answers, read in our words: failures, job states, and the fake's shapes."""

from __future__ import annotations

import traceback
import typing
from typing import Any

import pytest

from qiskit_argo.errors import PermanentError, TransientError
from qiskit_argo.ibm import IbmFailure, IbmPermanentError, IbmService, IbmTransientError, JobState, ibm_call, job_state
from qiskit_argo.ibm.errors import PERMANENT_FAILURES, redact, translate
from qiskit_argo.ibm.fake import FAILED_MESSAGE, FakeIbmService

runtime = pytest.importorskip("qiskit_ibm_runtime")

from qiskit.providers import JobStatus  # noqa: E402
from qiskit.providers.exceptions import QiskitBackendNotFoundError  # noqa: E402
from qiskit_ibm_runtime import runtime_job_v2  # noqa: E402
from qiskit_ibm_runtime.accounts.exceptions import AccountNotFoundError  # noqa: E402
from qiskit_ibm_runtime.api.exceptions import RequestsApiError  # noqa: E402
from qiskit_ibm_runtime.exceptions import (  # noqa: E402
    IBMInputValueError,
    IBMNotAuthorizedError,
    IBMRuntimeError,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
    RuntimeJobNotFound,
)
from requests.exceptions import ConnectionError as RequestsConnectionError  # noqa: E402
from requests.exceptions import ReadTimeout  # noqa: E402

URL = "https://quantum.cloud.ibm.com/api/v1/jobs"

# (what the library raises, as its own code words it) -> our failure
LIBRARY_ERRORS: list[tuple[str, BaseException, IbmFailure]] = [
    ("401", IBMNotAuthorizedError(f"401 Client Error: Unauthorized for url: {URL}"), IbmFailure.CREDENTIALS_REJECTED),
    ("403", RequestsApiError(f"403 Client Error: Forbidden for url: {URL}", 403), IbmFailure.CREDENTIALS_REJECTED),
    ("403-wrapped", IBMRuntimeError(f"Failed to get job metadata: 403 Client Error: Forbidden for url: {URL}"),
     IbmFailure.CREDENTIALS_REJECTED),
    ("no-account", AccountNotFoundError("Unable to find account."), IbmFailure.CREDENTIALS_REJECTED),
    ("backend", QiskitBackendNotFoundError("No backend matches the criteria."), IbmFailure.BACKEND_UNAVAILABLE),
    ("job-404", RuntimeJobNotFound("Job not found: d1"), IbmFailure.JOB_NOT_FOUND),
    ("failed", RuntimeJobFailureError("Unable to retrieve job result. Job d1 has failed:\nboom"),
     IbmFailure.JOB_FAILED),
    ("too-long", RuntimeJobMaxTimeoutError("Job d1 ran longer than maximum execution time."), IbmFailure.JOB_FAILED),
    ("cancelled", RuntimeInvalidStateError("Unable to retrieve result for job d1. Job was cancelled."),
     IbmFailure.JOB_CANCELLED),
    ("refused", IBMInputValueError("job_tags needs to be a list of strings."), IbmFailure.REQUEST_REFUSED),
    ("400", RequestsApiError(f"400 Client Error: Bad Request for url: {URL}", 400), IbmFailure.REQUEST_REFUSED),
    ("409-usage", IBMRuntimeError(f"Failed to run program: 409 Client Error: Conflict for url: {URL}"),
     IbmFailure.REQUEST_REFUSED),
    ("429", RequestsApiError(f"429 Client Error: Too Many Requests for url: {URL}", 429), IbmFailure.RATE_LIMITED),
    ("502", IBMRuntimeError(f"Failed to run program: 502 Server Error: Bad Gateway for url: {URL}"),
     IbmFailure.SERVER_ERROR),
    ("gave-up", RequestsApiError("HTTPSConnectionPool(host='quantum.cloud.ibm.com', port=443): Max retries exceeded "
                                 "(Caused by ResponseError('too many 502 error responses'))"), IbmFailure.NETWORK),
    ("maintenance", RequestsApiError("Unexpected response received from server. Please check if the service is in "
                                     "maintenance mode"), IbmFailure.NETWORK),
    ("reset", IBMRuntimeError("Failed to run program: ('Connection aborted.', RemoteDisconnected('Remote end closed "
                              "connection without response'))"), IbmFailure.NETWORK),
    ("requests-connection", RequestsConnectionError("Connection refused"), IbmFailure.NETWORK),
    ("requests-timeout", ReadTimeout("Read timed out."), IbmFailure.TIMEOUT),
    ("timeout", TimeoutError("timed out"), IbmFailure.TIMEOUT),
]  # fmt: skip


@pytest.mark.parametrize(("case", "error", "failure"), LIBRARY_ERRORS, ids=[c[0] for c in LIBRARY_ERRORS])
def test_library_errors_are_classified(case: str, error: BaseException, failure: IbmFailure) -> None:
    translated = translate(error, "submitting to ibm_torino")
    assert translated is not None and translated.failure == failure
    if failure in PERMANENT_FAILURES:
        assert isinstance(translated, IbmPermanentError) and isinstance(translated, PermanentError)
        assert translated.exit_code == 2
    else:
        assert isinstance(translated, IbmTransientError) and isinstance(translated, TransientError)
        assert translated.exit_code == 1
    message = str(translated)
    assert message.startswith("IBM Quantum: submitting to ibm_torino: ") and "\n" not in message
    assert len(message) <= 300 and translated.ibm_message


@pytest.mark.parametrize("error", [ValueError("ours"), KeyError("k"), TypeError("bug")], ids=repr)
def test_our_own_bugs_are_not_dressed_up_as_ibms(error: Exception) -> None:
    assert translate(error, "x") is None
    with pytest.raises(type(error)):
        with ibm_call("x"):
            raise error


def test_ibm_call_hides_the_library_exception() -> None:
    with pytest.raises(IbmTransientError) as raised:
        with ibm_call("reading"):
            raise IBMRuntimeError("Failed to get job metadata: 502 Server Error")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert "IBMRuntimeError" not in "".join(traceback.format_exception(raised.value))


def test_redact() -> None:
    assert redact("key=abcd1234 and abcd1234", ["abcd1234"]) == "key=*** and ***"
    assert redact("a b", ["", None, "a"]) == "a b", "secrets too short to be keys are left alone"


# --------------------------------------------------------------------------- states


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        # RuntimeJobV2.status(): its JobStatus literal
        ("INITIALIZING", JobState.QUEUED), ("QUEUED", JobState.QUEUED), ("RUNNING", JobState.RUNNING),
        ("DONE", JobState.DONE), ("ERROR", JobState.FAILED), ("CANCELLED", JobState.CANCELLED),
        # the API's words it passes through upper-cased
        ("COMPLETED", JobState.DONE), ("FAILED", JobState.FAILED), ("CANCELLED - RAN TOO LONG", JobState.FAILED),
        ("Cancelled - Ran too long", JobState.FAILED), ("PAUSED", JobState.UNKNOWN), ("", JobState.UNKNOWN),
        # LocalRuntimeJob.status(): qiskit.providers.JobStatus
        (JobStatus.INITIALIZING, JobState.QUEUED), (JobStatus.QUEUED, JobState.QUEUED),
        (JobStatus.VALIDATING, JobState.QUEUED), (JobStatus.RUNNING, JobState.RUNNING),
        (JobStatus.DONE, JobState.DONE), (JobStatus.ERROR, JobState.FAILED), (JobStatus.CANCELLED, JobState.CANCELLED),
        # ours, and nonsense
        (JobState.DONE, JobState.DONE), (None, JobState.UNKNOWN), (3, JobState.UNKNOWN),
    ],
    ids=repr,
)  # fmt: skip
def test_job_states_from_both_shapes(raw: Any, state: JobState) -> None:
    assert job_state(raw) == state


def test_every_word_the_library_can_answer_is_known() -> None:
    literal = typing.get_args(runtime_job_v2.JobStatus)
    assert literal == ("INITIALIZING", "QUEUED", "RUNNING", "CANCELLED", "DONE", "ERROR")
    assert all(job_state(word) != JobState.UNKNOWN for word in (*literal, *runtime_job_v2.API_TO_JOB_STATUS))
    assert all(job_state(member) != JobState.UNKNOWN for member in JobStatus)


# --------------------------------------------------------------------------- the fake copies the real shapes


def test_the_fake_speaks_as_qiskit_ibm_runtime_does() -> None:
    assert FAILED_MESSAGE == runtime_job_v2.API_TO_JOB_ERROR_MESSAGE["FAILED"]
    fake = FakeIbmService(queue_seconds=1.0, run_seconds=1.0)
    words = set()
    from qiskit_argo.ibm import JobIdentity, SubmitRequest, submit_once

    request = SubmitRequest("ibm_torino", "sampler", [])
    outcome, cancelled, failed = (submit_once(fake, JobIdentity("a", name, "c", 1), request) for name in "bcd")
    fake.cancel_at_ibm(cancelled.job_id)
    fake.fail_job(failed.job_id)
    for _ in range(5):
        words |= {job.api_status(fake.now) for job in fake.jobs.values()}
        fake.sleep(0.5)
    assert words == set(typing.get_args(runtime_job_v2.JobStatus)) - {"INITIALIZING"}
    usage = fake.usage(outcome.job_id)
    assert set(usage.metrics) == {"timestamps", "usage"}
    assert set(usage.metrics["usage"]) == {"qpu_charge_time_seconds", "status"}
    assert isinstance(fake, IbmService)


def test_the_fakes_faults_are_the_librarys_exceptions() -> None:
    """Every fault the fake injects is raised as a qiskit-ibm-runtime (or qiskit) exception and
    goes through the same translation as the real service's."""
    raised: list[str] = []
    fake = FakeIbmService()
    original = fake._server

    def spy(method: str, url: str) -> None:
        try:
            original(method, url)
        except Exception as error:
            raised.append(type(error).__module__.split(".")[0])
            raise

    fake._server = spy  # type: ignore[method-assign]
    fake.flaky("status")
    with pytest.raises(IbmTransientError):
        fake.status("d1")
    fake.reject_credentials()
    with pytest.raises(IbmPermanentError):
        fake.find_jobs("t")
    assert raised == ["qiskit_ibm_runtime", "qiskit_ibm_runtime"]
