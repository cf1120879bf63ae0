"""Exactly once: under every fault IBM and the cluster can throw, exactly one IBM job runs per QiskitJob.

Each scenario arms faults in ``FakeIbmService``, runs the submit step (``submit_once``) and the
wait step (``wait``) the way Argo does — a step that fails transiently or whose pod is killed is
run again after a backoff — and then COUNTS at the fake IBM: the jobs created, the jobs that
ran, the submissions, the attempts. The one invariant: one job ran, the one the wait step
returned; every other job carrying the tag was cancelled before it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from qiskit_argo.ibm import (
    IbmFailure,
    IbmPermanentError,
    IbmTransientError,
    JobIdentity,
    SubmitAction,
    SubmitOutcome,
    SubmitRequest,
    WaitOutcome,
    cancel_all,
    identity_tag,
    submit_once,
    wait,
)
from qiskit_argo.ibm.fake import FakeIbmService, Killed

pytest.importorskip("qiskit_ibm_runtime")

IDENTITY = JobIdentity("lab", "bell", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 1)
TAG = identity_tag(IDENTITY)
REQUEST = SubmitRequest(backend="ibm_torino", primitive="sampler", pubs=[("isa-circuit",)], shots=1000)
#: Argo's retry backoff between attempts of a step (the job's default: 10s, doubling).
BACKOFF = (10.0, 20.0, 40.0, 80.0, 160.0)
T = TypeVar("T")


@dataclass
class Run:
    """What happened, counted."""

    submit: SubmitOutcome
    waited: WaitOutcome
    submit_attempts: int
    wait_attempts: int
    recorded: list[str] = field(default_factory=list)


def retried(fake: FakeIbmService, step: Callable[[], T], attempts: int = 6) -> tuple[T, int]:
    """``step`` run as Argo's retryStrategy runs it: again after a transient failure or a killed pod."""
    for attempt in range(1, attempts + 1):
        try:
            return step(), attempt
        except (IbmTransientError, Killed):
            if attempt == attempts:
                raise
            fake.sleep(BACKOFF[min(attempt - 1, len(BACKOFF) - 1)])
    raise AssertionError("unreachable")


def run_job(fake: FakeIbmService, *, record: Callable[[str], None] | None = None, **wait_options: Any) -> Run:
    recorded: list[str] = []

    def submit_step() -> SubmitOutcome:
        def write_output(job_id: str) -> None:
            if record is not None:
                record(job_id)
            recorded.append(job_id)

        return submit_once(fake, IDENTITY, REQUEST, record=write_output, sleep=fake.sleep, lookup_delay=5.0)

    submitted, submit_attempts = retried(fake, submit_step)
    options: dict[str, Any] = {"poll_interval": 10.0, "sleep": fake.sleep, "clock": fake.clock, "tag": TAG}
    options.update(wait_options)
    waited, wait_attempts = retried(fake, lambda: wait(fake, submitted.job_id, **options))
    return Run(submitted, waited, submit_attempts, wait_attempts, recorded)


def assert_exactly_one_ran(fake: FakeIbmService, run: Run) -> None:
    fake.run_all()
    assert [job.job_id for job in fake.ran(TAG)] == [run.waited.job_id] == [run.submit.job_id]
    assert fake.unfinished(TAG) == []
    for job in fake.tagged(TAG):
        if job.job_id != run.submit.job_id:
            assert job.api_status(fake.now) == "CANCELLED" and not job.ran(fake.now), job.job_id
    assert run.recorded[-1] == run.submit.job_id, "the step's output names the job that ran"
    assert run.waited.usage.quantum_seconds == fake.quantum_seconds and run.waited.usage.final


def _kill_first_output() -> Callable[[str], None]:
    calls = []

    def record(job_id: str) -> None:
        calls.append(job_id)
        if len(calls) == 1:
            raise Killed("the pod was killed before it wrote its output")

    return record


def both(*arms: Callable[[FakeIbmService], None]) -> Callable[[FakeIbmService], None]:
    def arm(fake: FakeIbmService) -> None:
        for each in arms:
            each(fake)

    return arm


@dataclass(frozen=True)
class Scenario:
    name: str
    arm: Callable[[FakeIbmService], None]
    action: SubmitAction
    #: Jobs created at IBM (= submissions that reached it), attempts of the submit step, duplicates cancelled.
    created: int
    submit_attempts: int
    cancelled: int
    listing_lag: float = 0.0
    record: Callable[[], Callable[[str], None] | None] = lambda: None
    #: Calls of ``submit`` (one per attempt that got that far; a refused one creates no job).
    submit_calls: int = 1


SCENARIOS = [
    Scenario("no fault", lambda f: None, SubmitAction.SUBMITTED, created=1, submit_attempts=1, cancelled=0),
    Scenario("lost response", lambda f: f.lose_response(), SubmitAction.RECOVERED, 1, 1, 0),
    Scenario("lost response, IBM lists it 8 s late", lambda f: f.lose_response(), SubmitAction.RECOVERED, 1, 1, 0,
             listing_lag=8.0),
    Scenario("lost response, IBM lists it 20 s late: the retry adopts it", lambda f: f.lose_response(),
             SubmitAction.ADOPTED, 1, 2, 0, listing_lag=20.0),
    Scenario("5xx, the client retried the POST: 2 jobs", lambda f: f.duplicate_submit(2), SubmitAction.SUBMITTED,
             2, 1, 1),
    Scenario("5xx twice: 3 jobs", lambda f: f.duplicate_submit(3), SubmitAction.SUBMITTED, 3, 1, 2),
    Scenario("5xx duplicates and a lost response", both(lambda f: f.duplicate_submit(2), lambda f: f.lose_response()),
             SubmitAction.RECOVERED, 2, 1, 1),
    Scenario("5xx until the client gave up: no job; the retry submits", lambda f: f.refuse_submit(),
             SubmitAction.SUBMITTED, 1, 2, 0, submit_calls=2),
    Scenario("pod killed after IBM accepted, before the answer", lambda f: f.die_after_submit(),
             SubmitAction.ADOPTED, 1, 2, 0),
    Scenario("pod killed before it wrote its output", lambda f: None, SubmitAction.ADOPTED, 1, 2, 0,
             record=_kill_first_output),
    Scenario("listing fails before submitting", lambda f: f.flaky("find_jobs", 1), SubmitAction.SUBMITTED, 1, 2, 0),
    Scenario("listing fails after submitting: the retry adopts", lambda f: f.flaky("find_jobs", 3, after=1),
             SubmitAction.ADOPTED, 1, 2, 0),
    Scenario("killed twice, then a lost response", both(lambda f: f.die_after_submit(2), lambda f: f.lose_response()),
             SubmitAction.ADOPTED, 1, 2, 0),
]  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_exactly_one_job_runs(scenario: Scenario) -> None:
    fake = FakeIbmService(listing_lag=scenario.listing_lag)
    scenario.arm(fake)
    run = run_job(fake, record=scenario.record())
    assert run.submit.action == scenario.action
    assert len(fake.tagged(TAG)) == len(fake.submissions) == scenario.created
    assert run.submit_attempts == scenario.submit_attempts
    assert len(run.submit.duplicates_cancelled) == scenario.cancelled and run.submit.duplicates_finished == ()
    assert fake.calls["submit"] == scenario.submit_calls, "a retry that finds the tag submits nothing"
    assert run.wait_attempts == 1
    assert_exactly_one_ran(fake, run)


def test_duplicates_hidden_from_the_submit_step_are_cancelled_by_the_wait_step() -> None:
    # IBM lists jobs 12 s late: the submit step looks 3 times over 10 s and sees none of the two
    # jobs its one POST created; it keeps the one it was told about. The wait step looks again at
    # every poll until the list shows that one, and cancels the other before it leaves the queue.
    fake = FakeIbmService(listing_lag=12.0)
    fake.duplicate_submit(2)
    run = run_job(fake)
    assert run.submit.action == SubmitAction.SUBMITTED and run.submit.duplicates_cancelled == ()
    assert len(run.waited.duplicates_cancelled) == 1 and len(fake.submissions) == 2
    assert_exactly_one_ran(fake, run)


def test_the_wait_step_retried_three_times_never_submits() -> None:
    fake = FakeIbmService()
    fake.flaky("status", 11)  # 5 + 5 failed polls end two attempts; the third survives one more
    run = run_job(fake, max_consecutive_errors=5)
    assert run.wait_attempts == 3 and run.waited.transient_errors == 1
    assert fake.calls["submit"] == 1 and len(fake.submissions) == 1
    assert fake.calls["status"] == 11 + run.waited.polls - 1
    assert_exactly_one_ran(fake, run)


def test_flaky_status_within_the_tolerance_is_one_attempt() -> None:
    fake = FakeIbmService()
    fake.flaky("status", 3)
    run = run_job(fake)
    assert run.wait_attempts == 1 and run.waited.transient_errors == 3
    assert_exactly_one_ran(fake, run)


def test_a_wait_that_runs_out_of_time_is_retried_and_re_attaches() -> None:
    fake = FakeIbmService(queue_seconds=100.0)
    run = run_job(fake, timeout=30.0)
    assert run.wait_attempts > 1 and fake.calls["submit"] == 1
    assert_exactly_one_ran(fake, run)


def test_concurrent_submit_steps_keep_the_same_job() -> None:
    """A pod Argo thought dead still runs: two submit steps interleave; both keep the oldest job."""
    fake = FakeIbmService()
    other: list[SubmitOutcome] = []
    real_submit = fake.submit
    interleaved: list[bool] = []

    def submit(request: SubmitRequest) -> str:
        if not interleaved:  # the zombie runs whole between our look and our submission
            interleaved.append(True)
            other.append(submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep))
        return real_submit(request)

    fake.submit = submit  # type: ignore[method-assign]
    ours = submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    (theirs,) = other
    assert ours.job_id == theirs.job_id and len(fake.submissions) == 2
    assert theirs.action == SubmitAction.SUBMITTED and ours.duplicates_cancelled != ()
    fake.run_all()
    assert [job.job_id for job in fake.ran(TAG)] == [ours.job_id]


# --------------------------------------------------------------------------- permanent failures


def test_a_job_failed_at_ibm_is_permanent_with_ibms_message() -> None:
    fake = FakeIbmService()
    submitted = submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    fake.sleep(32)  # it is running
    fake.fail_job(submitted.job_id, "Error code 1517; The circuit exceeds the device's limits.")
    with pytest.raises(IbmPermanentError) as raised:
        wait(fake, submitted.job_id, sleep=fake.sleep, clock=fake.clock)
    error = raised.value
    assert error.failure == IbmFailure.JOB_FAILED and error.exit_code == 2
    assert f"Job {submitted.job_id} has failed: Error code 1517; The circuit exceeds" in str(error)
    assert "\n" not in str(error) and len(str(error)) <= 300
    assert fake.calls["submit"] == 1


def test_a_job_cancelled_at_ibm_is_permanent() -> None:
    fake = FakeIbmService()
    submitted = submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    fake.cancel_at_ibm(submitted.job_id)
    with pytest.raises(IbmPermanentError, match="was cancelled at IBM") as raised:
        wait(fake, submitted.job_id, sleep=fake.sleep, clock=fake.clock)
    assert raised.value.failure == IbmFailure.JOB_CANCELLED
    # A retry of the submit step adopts the cancelled job: it never runs a second one.
    again = submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    assert again.action == SubmitAction.ADOPTED and again.job_id == submitted.job_id
    assert len(fake.submissions) == 1 and fake.ran(TAG) == []


@pytest.mark.parametrize(
    ("arm", "request_", "failure"),
    [
        (lambda f: f.reject_credentials(), REQUEST, IbmFailure.CREDENTIALS_REJECTED),
        (lambda f: None, SubmitRequest(backend="ibm_retired", primitive="sampler", pubs=[]),
         IbmFailure.BACKEND_UNAVAILABLE),
    ],
    ids=["credentials-rejected", "backend-unknown"],
)  # fmt: skip
def test_refusals_are_permanent_and_submit_nothing(
    arm: Callable[[FakeIbmService], None], request_: SubmitRequest, failure: IbmFailure
) -> None:
    fake = FakeIbmService()
    arm(fake)
    with pytest.raises(IbmPermanentError) as raised:
        submit_once(fake, IDENTITY, request_, sleep=fake.sleep)
    assert raised.value.failure == failure and raised.value.permanent
    assert fake.jobs == {} and fake.submissions == []


def test_waiting_for_a_job_ibm_does_not_know_is_permanent() -> None:
    with pytest.raises(IbmPermanentError) as raised:
        wait(FakeIbmService(), "d0000000000000000042", sleep=lambda s: None)
    assert raised.value.failure == IbmFailure.JOB_NOT_FOUND


def test_rejected_credentials_while_waiting_are_permanent() -> None:
    fake = FakeIbmService()
    submitted = submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    fake.reject_credentials()
    with pytest.raises(IbmPermanentError) as raised:
        wait(fake, submitted.job_id, sleep=fake.sleep, clock=fake.clock)
    assert raised.value.failure == IbmFailure.CREDENTIALS_REJECTED


# --------------------------------------------------------------------------- cancellation


def test_deleting_the_job_cancels_every_job_with_its_tag() -> None:
    fake = FakeIbmService()
    fake.duplicate_submit(2)
    fake.die_after_submit()  # the id was never recorded: cancelling by tag still finds both
    with pytest.raises(Killed):
        submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    cancelled = cancel_all(fake, IDENTITY)
    assert len(cancelled) == 2 and fake.unfinished(TAG) == []
    fake.run_all()
    assert fake.ran(TAG) == [] and cancel_all(fake, IDENTITY) == ()


def test_a_duplicate_that_already_ran_is_reported_not_hidden() -> None:
    fake = FakeIbmService(listing_lag=100.0, queue_seconds=10.0)
    fake.duplicate_submit(2)
    first = submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    assert first.duplicates_cancelled == ()  # IBM's list showed neither
    fake.sleep(200)  # both ran meanwhile; the submit step is retried (say its output was lost)
    again = submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    assert again.action == SubmitAction.ADOPTED and len(again.duplicates_finished) == 1
    assert "1 duplicate(s) had already finished" in again.message


def test_other_identities_are_other_jobs() -> None:
    fake = FakeIbmService()
    first = submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep)
    edited = submit_once(fake, JobIdentity("lab", "bell", IDENTITY.uid, 2), REQUEST, sleep=fake.sleep)
    recreated = submit_once(fake, JobIdentity("lab", "bell", "another-uid", 1), REQUEST, sleep=fake.sleep)
    assert len({first.job_id, edited.job_id, recreated.job_id}) == 3 and len(fake.submissions) == 3
    assert submit_once(fake, IDENTITY, REQUEST, sleep=fake.sleep).job_id == first.job_id


def test_the_submission_carries_the_identity_tag_first_and_the_options() -> None:
    fake = FakeIbmService()
    request = SubmitRequest(backend="ibm_fez", primitive="estimator", pubs=[("c", "ZZ")], precision=0.01,
                            max_execution_time=300, tags=("ignored",))  # fmt: skip
    submit_once(fake, IDENTITY, request, extra_tags=("team.quantum",), sleep=fake.sleep)
    (sent,) = fake.submissions
    assert sent.tags == (TAG, "qiskit-argo.name.lab.bell", "team.quantum")
    assert (sent.backend, sent.primitive, sent.precision) == ("ibm_fez", "estimator", 0.01)
    assert sent.max_execution_time == 300


def test_sessions_and_the_probe_on_the_fake() -> None:
    fake = FakeIbmService()
    info = fake.backend_info("ibm_torino")
    assert (info.name, info.num_qubits, info.operational) == ("ibm_torino", 133, True)
    session = fake.open_session("ibm_torino", mode="session", max_time=600)
    inside = SubmitRequest(backend="ibm_torino", primitive="sampler", pubs=[], session_id=session)
    assert submit_once(fake, IDENTITY, inside, sleep=fake.sleep).action == SubmitAction.SUBMITTED
    fake.close_session(session)
    with pytest.raises(IbmPermanentError) as raised:
        submit_once(fake, JobIdentity("lab", "late", None, 1), inside, sleep=fake.sleep)
    assert raised.value.failure == IbmFailure.REQUEST_REFUSED and len(fake.submissions) == 1
