"""``JobState``: an IBM Quantum job's state in our own words, from whatever the client library says.

qiskit-ibm-runtime answers ``job.status()`` in two shapes: a job of the service
(``runtime_job_v2.py``: ``RuntimeJobV2``) returns a string, one of ``JobStatus = Literal[
"INITIALIZING", "QUEUED", "RUNNING", "CANCELLED", "DONE", "ERROR"]`` or, for a word its
``API_TO_JOB_STATUS`` table does not know, the API's own status upper-cased (e.g. ``COMPLETED``,
``FAILED``); a job of local testing mode (``fake_provider/local_runtime_job.py``:
``LocalRuntimeJob``, a ``qiskit.primitives.PrimitiveJob``) returns the enum
``qiskit.providers.JobStatus`` (``JobStatus.DONE``, ...). ``job_state`` reads both.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["JobState", "FINAL_STATES", "job_state"]


class JobState(StrEnum):
    """Where an IBM job is."""

    #: Accepted, not running yet (INITIALIZING, VALIDATING and QUEUED).
    QUEUED = "Queued"
    RUNNING = "Running"
    #: Finished with a result.
    DONE = "Done"
    #: Finished without a result: IBM says why (ERROR, FAILED, cancelled for running too long).
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    #: A word this version does not know: not final, keep asking.
    UNKNOWN = "Unknown"


FINAL_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})

_WORDS: dict[str, JobState] = {
    # RuntimeJobV2's JobStatus literal, and qiskit.providers.JobStatus member names
    "INITIALIZING": JobState.QUEUED,
    "VALIDATING": JobState.QUEUED,
    "QUEUED": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "DONE": JobState.DONE,
    "ERROR": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
    # the API's own words (API_TO_JOB_STATUS's keys, and what it passes through upper-cased)
    "COMPLETED": JobState.DONE,
    "FAILED": JobState.FAILED,
    "CANCELLED - RAN TOO LONG": JobState.FAILED,
}


def job_state(raw: object) -> JobState:
    """Our state for what ``job.status()`` returned: a string or an enum member (by its name)."""
    word = raw.name if hasattr(raw, "name") and not isinstance(raw, str) else raw
    if not isinstance(word, str):
        return JobState.UNKNOWN
    return _WORDS.get(word.strip().upper(), JobState.UNKNOWN)
