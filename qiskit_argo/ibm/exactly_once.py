"""Exactly once: one IBM Quantum job per QiskitJob identity, whatever fails, is retried or duplicated.

Pure logic over an ``IbmService``; the steps (submit, wait, cancel) are thin wrappers around it.

``submit_once`` — the submit step. It tags the submission with the identity tag
(``qiskit_argo.ibm.tags``) and

1. looks for jobs already carrying the tag; if there are any (an earlier attempt submitted, then
   died or lost the answer), it adopts the oldest and submits nothing;
2. otherwise submits once. If the submission raises a transient error the job may still exist
   (the request reached IBM, the response was lost), so it looks for the tag again, a few times,
   before giving up with a transient error (a retry starts at 1 and finds it then);
3. after submitting, it looks for the tag again (until IBM's list shows the new job, a few
   times): qiskit-ibm-runtime retries a POST on a 5xx (``api/session.py``:
   ``PostForcelistRetry``), so one call may have created several jobs. It keeps the oldest and
   cancels every other one.

The kept job is always the oldest carrying the tag (ties by id), so every attempt, concurrent or
retried, keeps the same one. ``record`` gets its id as soon as it is known (before duplicates are
cancelled): the step writes its output there.

``wait`` — the wait step. It re-attaches to the job by id and polls until it is final; it never
submits. A failed or cancelled job is a permanent error with IBM's message; a status call that
fails transiently is retried a few times, then the step fails transiently (Argo retries it and it
re-attaches). Given the tag, it also cancels any other job carrying it once IBM's list shows its
own (a duplicate the list still hid from the submit step). ``cancel_all`` — deleting or
suspending a QiskitJob: cancels every job carrying its tag (by tag, so a submission whose id was
never recorded is cancelled too).

The limit: IBM's list must show a new job within the time the submit step looks for it plus
Argo's backoff before the retry (``lookup_attempts`` × ``lookup_delay``, then the retry's own
first look). A job still hidden by then is submitted again; the duplicate is cancelled by the
retry's or the wait step's look once the list catches up, unless both ran by then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from qiskit_argo.ibm.errors import IbmFailure, IbmPermanentError, IbmTransientError
from qiskit_argo.ibm.service import IbmService, JobInfo, JobReport, SubmitRequest, Usage, oldest_first
from qiskit_argo.ibm.state import FINAL_STATES, JobState
from qiskit_argo.ibm.tags import JobIdentity, identity_tag, job_tags

__all__ = [
    "SubmitAction",
    "SubmitOutcome",
    "WaitOutcome",
    "submit_once",
    "wait",
    "cancel_all",
]


class SubmitAction(StrEnum):
    """What ``submit_once`` did to get its job."""

    #: Nothing found by tag; submitted, and the submission answered.
    SUBMITTED = "Submitted"
    #: Nothing found by tag; submitted, the answer was lost, and the job was found by tag.
    RECOVERED = "Recovered"
    #: An earlier attempt's job was found by tag; nothing submitted.
    ADOPTED = "Adopted"


@dataclass(frozen=True)
class SubmitOutcome:
    """The job kept for the identity, how it was got, and what happened to its duplicates."""

    job_id: str
    tag: str
    action: SubmitAction
    #: Duplicates cancelled now or found already cancelled (they never run, or stopped).
    duplicates_cancelled: tuple[str, ...] = ()
    #: Duplicates found already finished (they ran: their usage is billed too).
    duplicates_finished: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """One line for status and logs."""
        said = {
            SubmitAction.SUBMITTED: "submitted",
            SubmitAction.RECOVERED: "submitted (the answer was lost; found by its tag)",
            SubmitAction.ADOPTED: "adopted the job an earlier attempt submitted",
        }[self.action]
        line = f"IBM job {self.job_id}: {said}"
        if self.duplicates_cancelled:
            line += f"; {len(self.duplicates_cancelled)} duplicate(s) cancelled"
        if self.duplicates_finished:
            line += f"; {len(self.duplicates_finished)} duplicate(s) had already finished"
        return line


@dataclass(frozen=True)
class WaitOutcome:
    """A job that finished with a result."""

    job_id: str
    result: Any
    usage: Usage
    #: Status calls made, and how many of them failed transiently (and were retried).
    polls: int
    transient_errors: int
    #: Other unfinished jobs carrying the job's tag, cancelled before waiting (``wait(tag=...)``).
    duplicates_cancelled: tuple[str, ...] = ()


def _tagged(service: IbmService, tag: str) -> list[JobInfo]:
    """The jobs carrying exactly ``tag``, oldest first (a service matching loosely is not trusted)."""
    return oldest_first([job for job in service.find_jobs(tag) if tag in job.tags])


def _look_again(
    service: IbmService, tag: str, attempts: int, delay: float, sleep: Callable[[float], None]
) -> list[JobInfo]:
    """The jobs carrying ``tag``, asking up to ``attempts`` times ``delay`` seconds apart (IBM's
    list may not show a job at once); ``[]`` if none showed or every lookup failed transiently."""
    for attempt in range(attempts):
        if attempt:
            sleep(delay)
        try:
            found = _tagged(service, tag)
        except IbmTransientError:
            continue
        if found:
            return found
    return []


def _keep_first(
    service: IbmService,
    tag: str,
    jobs: list[JobInfo],
    action: SubmitAction,
    record: Callable[[str], None] | None,
) -> SubmitOutcome:
    keep, *duplicates = oldest_first(jobs)
    if record is not None:
        record(keep.job_id)
    cancelled: list[str] = []
    finished: list[str] = []
    for duplicate in duplicates:
        state = service.status(duplicate.job_id).state
        if state not in FINAL_STATES and service.cancel(duplicate.job_id):
            cancelled.append(duplicate.job_id)
            continue
        if state not in FINAL_STATES:  # it finished between the two calls
            state = service.status(duplicate.job_id).state
        (cancelled if state == JobState.CANCELLED else finished).append(duplicate.job_id)
    return SubmitOutcome(keep.job_id, tag, action, tuple(cancelled), tuple(finished))


def submit_once(
    service: IbmService,
    identity: JobIdentity,
    request: SubmitRequest,
    *,
    extra_tags: Iterable[str] = (),
    record: Callable[[str], None] | None = None,
    lookup_attempts: int = 3,
    lookup_delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SubmitOutcome:
    """Make sure exactly one IBM job runs for ``identity``: adopt the one already tagged, else
    submit ``request`` (its tags replaced by the identity's), then cancel duplicates.

    Raises ``IbmPermanentError`` (nothing was submitted, or IBM refused) or ``IbmTransientError``
    (retrying, by running this again, is safe: it looks for the tag first).
    """
    tag = identity_tag(identity)
    request = request.with_tags(job_tags(identity, extra_tags))
    existing = _tagged(service, tag)
    if existing:
        return _keep_first(service, tag, existing, SubmitAction.ADOPTED, record)
    try:
        job_id = service.submit(request)
    except IbmTransientError as error:
        found = _look_again(service, tag, lookup_attempts, lookup_delay, sleep)
        if not found:
            raise IbmTransientError(
                f"IBM Quantum: submitting to {request.backend} failed ({error.failure}: {error.ibm_message}) and no "
                f"job carries tag {tag} yet; a retry looks for it first and submits only if IBM has none",
                failure=error.failure,
                ibm_message=error.ibm_message,
            ) from None
        return _keep_first(service, tag, found, SubmitAction.RECOVERED, record)
    found = _after_submit(service, tag, job_id, lookup_attempts, lookup_delay, sleep)
    if all(job.job_id != job_id for job in found):  # IBM's list does not show it yet
        found.append(JobInfo(job_id, request.tags, created=None, backend=request.backend))
    return _keep_first(service, tag, found, SubmitAction.SUBMITTED, record)


def _after_submit(
    service: IbmService, tag: str, job_id: str, attempts: int, delay: float, sleep: Callable[[float], None]
) -> list[JobInfo]:
    """The jobs carrying ``tag`` once IBM's list shows ``job_id`` (until then it may hide
    duplicates too), asking up to ``attempts`` times; what it last showed if it never does."""
    found: list[JobInfo] | None = None
    error: IbmTransientError | None = None
    for attempt in range(attempts):
        if attempt:
            sleep(delay)
        try:
            found = _tagged(service, tag)
        except IbmTransientError as failed:
            error = failed
            continue
        if any(job.job_id == job_id for job in found):
            break
    if found is None:
        assert error is not None
        raise IbmTransientError(
            f"IBM Quantum: job {job_id} was submitted but the jobs tagged {tag} could not be listed to find "
            f"duplicates ({error.failure}: {error.ibm_message}); a retry adopts it and looks again",
            failure=error.failure,
            ibm_message=error.ibm_message,
        )
    return found


def wait(
    service: IbmService,
    job_id: str,
    *,
    poll_interval: float = 10.0,
    timeout: float | None = None,
    max_consecutive_errors: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_report: Callable[[JobReport], None] | None = None,
    tag: str | None = None,
) -> WaitOutcome:
    """Re-attach to ``job_id`` and wait until it is final; never submits.

    With the identity ``tag``, it also cancels every other unfinished job carrying it, as soon as
    IBM's list shows ``job_id`` (a duplicate the list still hid when the submit step looked); a
    failed listing is tried again at the next poll, never an error.

    Returns the result and usage of a job that is done. Raises ``IbmPermanentError`` when it
    failed or was cancelled at IBM (with IBM's message), or when IBM rejects the credentials or
    does not know the job; ``IbmTransientError`` after ``max_consecutive_errors`` failed status
    calls in a row, or when ``timeout`` seconds pass first (a retry re-attaches).
    """
    started = clock()
    swept: tuple[str, ...] | None = None if tag is not None else ()
    polls = errors = streak = 0
    while True:
        polls += 1
        if swept is None and tag is not None:
            swept = _sweep(service, tag, job_id)
        try:
            report = service.status(job_id)
        except IbmTransientError as error:
            errors += 1
            streak += 1
            if streak >= max_consecutive_errors:
                raise IbmTransientError(
                    f"IBM Quantum: the status of job {job_id} could not be read {streak} times in a row "
                    f"({error.failure}: {error.ibm_message}); a retry re-attaches to the same job",
                    failure=error.failure,
                    ibm_message=error.ibm_message,
                ) from None
            sleep(poll_interval)
            continue
        streak = 0
        if on_report is not None:
            on_report(report)
        if report.state == JobState.DONE:
            return WaitOutcome(job_id, service.result(job_id), service.usage(job_id), polls, errors, swept or ())
        if report.state == JobState.FAILED:
            raise IbmPermanentError(
                f"IBM Quantum job {job_id} failed: {report.message or 'IBM gave no reason'}",
                failure=IbmFailure.JOB_FAILED,
                ibm_message=report.message,
            )
        if report.state == JobState.CANCELLED:
            raise IbmPermanentError(
                f"IBM Quantum job {job_id} was cancelled at IBM{f' ({report.message})' if report.message else ''}; "
                "resubmit the QiskitJob to run it again",
                failure=IbmFailure.JOB_CANCELLED,
                ibm_message=report.message,
            )
        if timeout is not None and clock() - started >= timeout:
            raise IbmTransientError(
                f"IBM Quantum job {job_id} is still {report.state.value.lower()} after {timeout:g} s; "
                "a retry re-attaches to it",
                failure=IbmFailure.TIMEOUT,
            )
        sleep(poll_interval)


def _sweep(service: IbmService, tag: str, keep: str) -> tuple[str, ...] | None:
    """Cancel the unfinished jobs carrying ``tag`` other than ``keep``, once IBM's list shows ``keep``
    (until then it may hide duplicates too): the ids cancelled, or ``None`` to try again next poll."""
    try:
        found = _tagged(service, tag)
        if all(job.job_id != keep for job in found):
            return None
        return tuple(job.job_id for job in found if job.job_id != keep and service.cancel(job.job_id))
    except IbmTransientError:
        return None


def cancel_all(service: IbmService, identity: JobIdentity) -> tuple[str, ...]:
    """Cancel every unfinished job carrying ``identity``'s tag; the ids cancelled now."""
    tag = identity_tag(identity)
    return tuple(job.job_id for job in _tagged(service, tag) if service.cancel(job.job_id))
