"""Exactly once through the steps themselves: ``qiskit-argo-step ibm-submit`` / ``ibm-wait`` run as Argo
runs them (a fresh output directory per attempt, a retry after exit 1 or a killed pod), talking to a
``FakeIbmService`` (``qiskit_argo.ibm.connect.using``) with IBM's faults armed. After each scenario,
counted at the fake IBM: exactly one job ran for the QiskitJob — the one ``ibm.json`` names — every
duplicate was cancelled before it ran and is recorded, and a permanent failure exits 2 with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo.api import IbmJobStatus
from qiskit_argo.errors import EXIT_PERMANENT, EXIT_TRANSIENT
from qiskit_argo.ibm import connect
from qiskit_argo.ibm.fake import FakeIbmService, FakeJob, Killed
from qiskit_argo.ibm.job_steps import identity_of
from qiskit_argo.ibm.tags import identity_tag
from qiskit_argo.request import ExecutionRequest
from tests.ibm.steputil import JobFiles, Ran, make_job, run_in_process

pytest.importorskip("qiskit_ibm_runtime")

#: Argo's retry backoff between attempts (the job's default: 10s, doubling).
BACKOFF = (10.0, 20.0, 40.0, 80.0, 160.0)


def bell_counts(job: FakeJob) -> Any:
    """What IBM returns for the Bell PUB: a ``PrimitiveResult`` with one register ``c``."""
    from qiskit.primitives import PrimitiveResult, SamplerPubResult
    from qiskit.primitives.containers import BitArray, DataBin

    results = []
    for pub in job.request.pubs:
        shots = pub[2] if len(pub) > 2 and pub[2] else job.request.shots or 1000
        bits = BitArray.from_counts({"00": shots // 2, "11": shots - shots // 2 - 3, "01": 3}, num_bits=2)
        results.append(SamplerPubResult(DataBin(c=bits), metadata={"shots": shots}))
    return PrimitiveResult(results, metadata={})


@pytest.fixture
def fake() -> Iterator[FakeIbmService]:
    service = FakeIbmService(("ibm_torino",), result_for=bell_counts)
    with connect.using(service, sleep=service.sleep, clock=service.clock):
        yield service


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JobFiles:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "not-used-the-fake-answers")
    monkeypatch.setenv("QISKIT_ARGO_IBM_POLL_SECONDS", "10")
    return ibm_job(tmp_path / "inputs", device="ibm_torino", name="torino", shots=1000)


def ibm_job(root: Path, **options: Any) -> JobFiles:
    """A job on a real (not local-testing) IBM backend, whose key is in Secret ibm-quantum."""
    files = make_job(root, fake=False, **options)
    files.secret = ("ibm-quantum", "token")
    return files


class Attempts:
    """Run a step as Argo's retryStrategy does: a new output directory per attempt, again after exit 1
    or a killed pod (with the backoff on the fake's clock), never after exit 0 or 2."""

    def __init__(self, root: Path, fake: FakeIbmService, capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.fake, self.capsys = root, fake, capsys
        self.count = 0

    def run(self, name: str, argv_for: Any, limit: int = 6) -> tuple[Ran, Path]:
        for attempt in range(1, limit + 1):
            self.count += 1
            out = self.root / f"{name}-{attempt}"
            try:
                ran = run_in_process(argv_for(out), self.capsys)
            except Killed:
                ran = Ran(137, "", "the pod was killed")
            if ran.code in (0, EXIT_PERMANENT) or attempt == limit:
                return ran, out
            self.fake.sleep(BACKOFF[min(attempt - 1, len(BACKOFF) - 1)])
        raise AssertionError("unreachable")


def run_job(job: JobFiles, fake: FakeIbmService, root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    attempts = Attempts(root, fake, capsys)
    submitted, submit_out = attempts.run("submit", job.submit_argv)
    assert submitted.code == 0, submitted.stderr
    submit_attempts = attempts.count
    waited, wait_out = attempts.run("wait", lambda out: job.wait_argv(submit_out, out))
    return {
        "submitted": submitted,
        "waited": waited,
        "submit_out": submit_out,
        "wait_out": wait_out,
        "submission": json.loads((submit_out / "submission.json").read_text()),
        "submit_attempts": submit_attempts,
        "wait_attempts": attempts.count - submit_attempts,
    }


def tag_of(job: JobFiles) -> str:
    return identity_tag(identity_of(ExecutionRequest.model_validate_json(job.request.read_text())))


def assert_exactly_one_ran(fake: FakeIbmService, job: JobFiles, run: dict[str, Any]) -> IbmJobStatus:
    fake.run_all()
    assert run["waited"].code == 0, run["waited"].stderr
    status = IbmJobStatus.model_validate_json((run["wait_out"] / "ibm.json").read_text())
    ran = fake.ran(tag_of(job))
    assert [j.job_id for j in ran] == [status.job_id] == [run["submission"]["jobId"]], "exactly one job ran"
    assert status.state == "Done" and not fake.unfinished(tag_of(job))
    others = {j.job_id for j in fake.tagged(tag_of(job))} - {status.job_id}
    assert others == set(status.duplicates_cancelled), "every other job was cancelled, and recorded"
    document = json.loads((run["wait_out"] / "part.json").read_text())
    assert document["ibm"]["job_id"] == status.job_id and document["ibm"]["quantum_seconds"] == 2.0
    assert document["pub_results"][0]["data"]["c"]["counts"][0]["00"] == 500
    return status


def test_the_happy_path_submits_once(job: JobFiles, fake: FakeIbmService, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    run = run_job(job, fake, tmp_path, capsys)
    status = assert_exactly_one_ran(fake, job, run)
    assert run["submission"]["action"] == "Submitted" and len(fake.submissions) == 1
    assert (run["submit_attempts"], run["wait_attempts"]) == (1, 1)
    assert status.quantum_seconds == 2.0 and status.estimated_quantum_seconds == 2.0
    assert status.created and status.running and status.finished
    assert json.loads((run["submit_out"] / "ibm-jobs.json").read_text()) == {}, "no local store for IBM itself"
    submitted = fake.submissions[0]
    assert submitted.tags[0] == tag_of(job) and submitted.shots == 1000 and submitted.seed is None
    (pub,) = submitted.pubs
    assert pub[0].num_qubits == 133 and set(pub[0].count_ops()) <= {"cz", "rz", "sx", "x", "measure"}, "ISA"


def test_a_lost_response_is_recovered_by_tag(job: JobFiles, fake: FakeIbmService, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fake.lose_response()
    run = run_job(job, fake, tmp_path, capsys)
    assert_exactly_one_ran(fake, job, run)
    assert run["submission"]["action"] == "Recovered" and len(fake.submissions) == 1


def test_5xx_duplicates_are_cancelled_and_recorded(job: JobFiles, fake: FakeIbmService, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fake.duplicate_submit(3)
    run = run_job(job, fake, tmp_path, capsys)
    status = assert_exactly_one_ran(fake, job, run)
    assert len(fake.submissions) == 3 and len(run["submission"]["duplicatesCancelled"]) == 2
    assert status.duplicates_cancelled == run["submission"]["duplicatesCancelled"]
    assert status.job_id == fake.tagged(tag_of(job))[0].job_id, "the oldest is kept"


def test_duplicates_the_list_hid_are_cancelled_by_the_wait_step(
    job: JobFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeIbmService(("ibm_torino",), result_for=bell_counts, listing_lag=8.0)
    fake.duplicate_submit(2)
    with connect.using(fake, sleep=fake.sleep, clock=fake.clock):
        run = run_job(job, fake, tmp_path, capsys)
    status = assert_exactly_one_ran(fake, job, run)
    assert len(status.duplicates_cancelled) == 1


def test_a_pod_killed_after_submitting_is_adopted_on_retry(job: JobFiles, fake: FakeIbmService, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fake.die_after_submit()
    run = run_job(job, fake, tmp_path, capsys)
    assert not (tmp_path / "submit-1" / "submission.json").exists(), "killed before writing its output"
    assert_exactly_one_ran(fake, job, run)
    assert run["submit_attempts"] == 2 and run["submission"]["action"] == "Adopted" and len(fake.submissions) == 1


def test_a_5xx_that_created_nothing_is_retried_and_submits_once(
    job: JobFiles, fake: FakeIbmService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.refuse_submit()
    run = run_job(job, fake, tmp_path, capsys)
    assert_exactly_one_ran(fake, job, run)
    assert run["submit_attempts"] == 2 and len(fake.submissions) == 1


def test_flaky_status_polling_is_ridden_out(job: JobFiles, fake: FakeIbmService, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fake.flaky("status", 3)
    run = run_job(job, fake, tmp_path, capsys)
    assert_exactly_one_ran(fake, job, run)
    assert run["wait_attempts"] == 1
    ibm = json.loads((run["wait_out"] / "part.json").read_text())["ibm"]
    assert ibm["transient_errors"] == 3 and ibm["polls"] > 3


def test_a_wait_retried_n_times_reattaches_and_never_submits(
    job: JobFiles, fake: FakeIbmService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.flaky("status", 5 * 3)  # three attempts fail 5 times in a row each: exit 1, Argo retries
    run = run_job(job, fake, tmp_path, capsys)
    assert_exactly_one_ran(fake, job, run)
    assert run["wait_attempts"] == 4 and len(fake.submissions) == 1 and fake.calls["submit"] == 1
    for attempt in (1, 2, 3):
        assert not (tmp_path / f"wait-{attempt}" / "part.json").exists()


def test_a_wait_that_times_out_fails_transiently_and_the_retry_reattaches(
    job: JobFiles, fake: FakeIbmService, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("QISKIT_ARGO_IBM_WAIT_SECONDS", "15")
    first = Attempts(tmp_path, fake, capsys)
    submitted, submit_out = first.run("submit", job.submit_argv)
    once = run_in_process(job.wait_argv(submit_out, tmp_path / "wait-once"), capsys)
    assert once.code == EXIT_TRANSIENT and once.last_line.startswith("TransientFailure: "), once.stderr
    assert "still queued" in once.last_line
    run = run_job(job, fake, tmp_path / "again", capsys)
    assert_exactly_one_ran(fake, job, run)
    assert run["submission"]["action"] == "Adopted"


@pytest.mark.parametrize(
    ("arm", "reason"),
    [
        (lambda fake, job_id: fake.fail_job(job_id), "IbmJobFailed"),
        (lambda fake, job_id: fake.cancel_at_ibm(job_id), "IbmJobCancelled"),
    ],
    ids=["failed", "cancelled"],
)
def test_a_job_failed_or_cancelled_at_ibm_fails_permanently_with_ibms_words(
    job: JobFiles, fake: FakeIbmService, tmp_path: Path, capsys: pytest.CaptureFixture[str], arm: Any, reason: str
) -> None:
    submitted = run_in_process(job.submit_argv(tmp_path / "submit"), capsys)
    job_id = json.loads((tmp_path / "submit" / "submission.json").read_text())["jobId"]
    arm(fake, job_id)
    waited = run_in_process(job.wait_argv(tmp_path / "submit", tmp_path / "wait"), capsys)
    assert submitted.code == 0 and waited.code == EXIT_PERMANENT, waited.stderr
    assert waited.last_line.startswith(f"{reason}: IBM Quantum job {job_id}"), waited.last_line
    status = IbmJobStatus.model_validate_json((tmp_path / "wait" / "ibm.json").read_text())
    assert status.job_id == job_id and status.state == ("Failed" if reason == "IbmJobFailed" else "Cancelled")
    if reason == "IbmJobFailed":
        assert status.message and "1517" in status.message
    assert not (tmp_path / "wait" / "part.json").exists()


def test_rejected_credentials_fail_permanently(job: JobFiles, fake: FakeIbmService, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fake.reject_credentials()
    ran = run_in_process(job.submit_argv(tmp_path / "submit"), capsys)
    assert ran.code == EXIT_PERMANENT and ran.last_line.startswith("CredentialsRejected: "), ran.stderr
    assert "credentialsSecretRef" in ran.last_line and fake.submissions == []


def test_an_unknown_backend_fails_permanently(job: JobFiles, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fake = FakeIbmService(("ibm_fez",))
    with connect.using(fake, sleep=fake.sleep, clock=fake.clock):
        ran = run_in_process(job.submit_argv(tmp_path / "submit"), capsys)
    assert ran.code == EXIT_PERMANENT and ran.last_line.startswith("BackendUnavailable: "), ran.stderr
    assert "ibm_torino" in ran.last_line and fake.submissions == []


def test_an_unknown_job_id_fails_permanently(job: JobFiles, fake: FakeIbmService, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "submit").mkdir()
    (tmp_path / "submit" / "ibm-jobs.json").write_text("{}")
    submission = json.dumps({"jobId": "d0000000000000000999", "tag": tag_of(job), "action": "Submitted",
                             "duplicatesCancelled": [], "sessionId": None, "message": ""})  # fmt: skip
    ran = run_in_process(job.wait_argv(tmp_path / "submit", tmp_path / "wait", submission), capsys)
    assert ran.code == EXIT_PERMANENT and ran.last_line.startswith("IbmJobNotFound: "), ran.stderr
    assert fake.calls["submit"] == 0, "the wait step never submits"


def test_the_session_id_travels_to_the_submission(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "x" * 20)
    fake = FakeIbmService(("ibm_torino",), result_for=bell_counts)
    session = fake.open_session("ibm_torino", mode="session")
    files = ibm_job(tmp_path / "inputs", device="ibm_torino", name="torino", shots=1000, session_id=session)
    with connect.using(fake, sleep=fake.sleep, clock=fake.clock):
        run = run_job(files, fake, tmp_path, capsys)
    status = assert_exactly_one_ran(fake, files, run)
    assert fake.submissions[0].session_id == session == run["submission"]["sessionId"] == status.session_id


def test_ibm_options_reach_the_submission(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "x" * 20)
    fake = FakeIbmService(("ibm_torino",))
    files = ibm_job(tmp_path / "inputs", device="ibm_torino", name="torino", primitive="estimator",
                     resilience_level=2, max_execution_time=300, observables=[{"ZZ": 1.0}, {"XX": 0.5}])  # fmt: skip
    with connect.using(fake, sleep=fake.sleep, clock=fake.clock):
        assert run_in_process(files.submit_argv(tmp_path / "submit"), capsys).code == 0
    (request,) = fake.submissions
    assert (request.primitive, request.resilience_level, request.max_execution_time) == ("estimator", 2, 300)
    circuit, observables = request.pubs[0][:2]
    layout = circuit.layout.final_index_layout()
    assert [o.num_qubits for o in observables] == [133, 133], "observables follow the layout"
    for observable, label in zip(observables, ("ZZ", "XX"), strict=True):
        (pauli,) = observable.paulis
        assert {pauli[q].to_label() for q in layout} == {label[0]}


@pytest.mark.parametrize(
    ("reserved", "job_limit", "sent"),
    [("0", None, None), ("0", 300, 300), ("120", None, 120), ("120", 300, 120), ("500", 300, 300), ("{}", 60, 60)],
)
def test_the_reservation_bounds_max_execution_time(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, reserved: str,
                                                   job_limit: int | None, sent: int | None) -> None:  # fmt: skip
    """IBM stops the job at what was reserved: the smaller of the reservation and the job's own limit."""
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "x" * 20)
    fake = FakeIbmService(("ibm_torino",))
    files = ibm_job(tmp_path / "inputs", device="ibm_torino", name="torino", max_execution_time=job_limit)
    files.max_execution_time = reserved
    with connect.using(fake, sleep=fake.sleep, clock=fake.clock):
        assert run_in_process(files.submit_argv(tmp_path / "submit"), capsys).code == 0
    (request,) = fake.submissions
    assert request.max_execution_time == sent


@pytest.mark.parametrize("reserved", ["-1", "1.5", "ten", "1" * 13])
def test_a_bad_max_execution_time_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, reserved: str) -> None:  # fmt: skip
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "x" * 20)
    fake = FakeIbmService(("ibm_torino",))
    files = ibm_job(tmp_path / "inputs", device="ibm_torino", name="torino")
    files.max_execution_time = reserved
    with connect.using(fake, sleep=fake.sleep, clock=fake.clock):
        ran = run_in_process(files.submit_argv(tmp_path / "submit"), capsys)
    assert ran.code == 2 and not fake.submissions
    assert ran.last_line.startswith("InvalidSpec: max-execution-time parameter:"), ran.stderr
