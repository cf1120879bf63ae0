"""``LocalTestingService(store=...)``: local testing mode's jobs in a file, seen alike by every process.

Submitting records the job queued; the first ``status``/``result`` in any process runs it, once
(two processes asking at the same time get the one result: unseeded, two runs would differ);
cancelling a queued job means it never runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo.ibm import IbmFailure, IbmPermanentError, JobState, SubmitRequest
from qiskit_argo.ibm.local_mode import STORE_KIND, LocalTestingService
from tests.ibm.steputil import REPO, bell

pytest.importorskip("qiskit_ibm_runtime")
pytest.importorskip("qiskit_aer")

DEVICE = "fake_manila"


@pytest.fixture(scope="module")
def isa() -> Any:
    from qiskit.transpiler import generate_preset_pass_manager

    from qiskit_argo.ibm.local_mode import fake_backend_named

    manager = generate_preset_pass_manager(optimization_level=1, backend=fake_backend_named(DEVICE), seed_transpiler=3)
    return manager.run(bell())


def _request(isa: Any, tag: str, seed: int | None = None, shots: int = 4000) -> SubmitRequest:
    return SubmitRequest(DEVICE, "sampler", [(isa, None, shots)], tags=(tag,), shots=shots, seed=seed)


def test_submit_records_a_queued_job_and_status_runs_it(isa: Any, tmp_path: Path) -> None:
    store = tmp_path / "jobs.json"
    job_id = LocalTestingService(store).submit(_request(isa, "t1", seed=5))
    record = json.loads(store.read_text())["jobs"][job_id]
    assert record["state"] == "QUEUED" and json.loads(store.read_text())["kind"] == STORE_KIND
    other = LocalTestingService(store)  # another process, as far as the store is concerned
    assert [job.job_id for job in other.find_jobs("t1")] == [job_id] and other.find_jobs("t2") == []
    assert other.usage(job_id).final is False
    assert other.status(job_id).state == JobState.DONE
    counts = other.result(job_id)[0].data.c.get_counts()
    assert sum(counts.values()) == 4000
    usage = LocalTestingService(store).usage(job_id)
    assert usage.final and usage.quantum_seconds == 0 and usage.metrics["timestamps"]["finished"]
    assert LocalTestingService(store).cancel(job_id) is False, "finished: nothing to cancel"


def test_a_cancelled_queued_job_never_runs(isa: Any, tmp_path: Path) -> None:
    store = tmp_path / "jobs.json"
    service = LocalTestingService(store)
    job_id = service.submit(_request(isa, "t"))
    assert service.cancel(job_id) is True
    assert service.status(job_id).state == JobState.CANCELLED
    with pytest.raises(IbmPermanentError) as raised:
        service.result(job_id)
    assert raised.value.failure == IbmFailure.JOB_CANCELLED
    assert "result" not in json.loads(store.read_text())["jobs"][job_id]


_ASK = """
import json, sys
from pathlib import Path
from qiskit_argo.ibm.local_mode import LocalTestingService
service = LocalTestingService(Path(sys.argv[1]))
service.status(sys.argv[2])
print(json.dumps(service.result(sys.argv[2])[0].data.c.get_counts(), sort_keys=True))
"""


def test_two_processes_asking_at_once_run_the_job_once(isa: Any, tmp_path: Path) -> None:
    store = tmp_path / "jobs.json"
    job_id = LocalTestingService(store).submit(_request(isa, "t", seed=None))  # unseeded: two runs would differ
    asking = [
        subprocess.Popen(
            [sys.executable, "-c", _ASK, str(store), job_id], stdout=subprocess.PIPE, text=True, cwd=REPO
        )  # fmt: skip
        for _ in range(2)
    ]
    answers = [process.communicate(timeout=300)[0] for process in asking]
    assert all(process.returncode == 0 for process in asking)
    assert answers[0] == answers[1] and json.loads(answers[0])
    stored = LocalTestingService(store).result(job_id)[0].data.c.get_counts()
    assert json.dumps(stored, sort_keys=True) == answers[0].strip()


def test_an_empty_object_is_an_empty_store_and_anything_else_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "jobs.json"
    store.write_text("{}")
    assert LocalTestingService(store).find_jobs("t") == []
    store.write_text('{"jobs": []}')
    with pytest.raises(IbmPermanentError, match=r"^ibm-jobs artifact .*: not a local-testing job store"):
        LocalTestingService(store).find_jobs("t")
    with pytest.raises(IbmPermanentError) as raised:
        LocalTestingService(tmp_path / "none.json").status("local-123")
    assert raised.value.failure == IbmFailure.JOB_NOT_FOUND


def test_a_failed_simulation_is_a_failed_job_with_the_reason(isa: Any, tmp_path: Path) -> None:
    from qiskit import QuantumCircuit

    service = LocalTestingService(tmp_path / "jobs.json")
    not_isa = QuantumCircuit(2)
    not_isa.h(0)
    not_isa.measure_all()
    job_id = service.submit(SubmitRequest(DEVICE, "sampler", [(not_isa, None, 10)], tags=("t",), shots=10))
    report = service.status(job_id)
    assert report.state == JobState.FAILED and report.message and report.message.startswith("local testing mode: ")
    with pytest.raises(IbmPermanentError) as raised:
        service.result(job_id)
    assert raised.value.failure == IbmFailure.JOB_FAILED
