"""Talking to IBM Quantum: one narrow interface, its implementations, and exactly-once submission.

Layout (one concept per module; none imports qiskit-ibm-runtime at import time):

* ``service`` — ``IbmService``, the interface every step that talks to IBM uses, and the values
  that travel through it (``SubmitRequest``, ``JobInfo``, ``JobReport``, ``Usage``, ``BackendInfo``);
* ``state`` — ``JobState``, IBM's job states in our words (the library's strings and enum both);
* ``errors`` — ``IbmPermanentError``/``IbmTransientError`` with an ``IbmFailure`` word, and
  ``ibm_call``, which translates what qiskit-ibm-runtime raises and redacts secrets;
* ``tags`` — ``JobIdentity`` and the identity tag that names a QiskitJob's one IBM job;
* ``exactly_once`` — ``submit_once``, ``wait`` and ``cancel_all``: the logic of the submit, wait
  and cancel steps, pure over an ``IbmService``;
* ``credentials`` — ``Credentials``/``Token``: the API key from the step's environment, never shown;
* ``primitives`` — running a request with the primitives qiskit-ibm-runtime does not deprecate;
* ``runtime`` — ``RuntimeService``: IBM Quantum through ``QiskitRuntimeService``;
* ``local_mode`` — ``LocalTestingService``: qiskit-ibm-runtime's local testing mode (fake backends);
* ``fake`` — ``FakeIbmService``: IBM in memory for tests, counting submissions, injecting faults;
* ``connect`` — ``service_for``: which service a step talks to, from the schedule step's target
  (a fake backend: local testing mode; else IBM Quantum with the pod's key), and ``using``, the
  one hook through which tests hand the steps a ``FakeIbmService``;
* ``isa`` — the job's PUBs as ISA circuits for the chosen device, and their one ``SubmitRequest``;
* ``job_steps`` — the ibm-submit and ibm-wait steps (files in, files out; ibm-wait writes the run's one part);
* ``service_steps`` — the ibm-probe, ibm-cancel, session-open and session-close steps.

The design (DESIGN.md, "Everything that talks to IBM runs in a step of ours" and "Exactly once"):
only the submit, wait, cancel, probe and session steps use this package, in the one pod that gets
the API key; the controller never does.
"""

from __future__ import annotations

from qiskit_argo.ibm.errors import IbmError, IbmFailure, IbmPermanentError, IbmTransientError, ibm_call
from qiskit_argo.ibm.exactly_once import SubmitAction, SubmitOutcome, WaitOutcome, cancel_all, submit_once, wait
from qiskit_argo.ibm.service import BackendInfo, IbmService, JobInfo, JobReport, SubmitRequest, Usage
from qiskit_argo.ibm.state import JobState, job_state
from qiskit_argo.ibm.tags import JobIdentity, identity_tag, job_tags

__all__ = [
    "IbmService",
    "SubmitRequest",
    "JobInfo",
    "JobReport",
    "Usage",
    "BackendInfo",
    "JobState",
    "job_state",
    "IbmError",
    "IbmFailure",
    "IbmPermanentError",
    "IbmTransientError",
    "ibm_call",
    "JobIdentity",
    "identity_tag",
    "job_tags",
    "SubmitAction",
    "SubmitOutcome",
    "WaitOutcome",
    "submit_once",
    "wait",
    "cancel_all",
]
