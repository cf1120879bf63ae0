"""A real run in qiskit-ibm-runtime's local testing mode: a Bell pair on FakeSherbrooke, through the same
primitives, options and exactly-once logic used against IBM Quantum."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from qiskit_argo.ibm import (
    IbmFailure,
    IbmPermanentError,
    IbmService,
    JobIdentity,
    JobState,
    SubmitAction,
    SubmitRequest,
    identity_tag,
    submit_once,
    wait,
)

pytest.importorskip("qiskit_ibm_runtime")
pytest.importorskip("qiskit_aer")

from qiskit import QuantumCircuit  # noqa: E402
from qiskit.quantum_info import SparsePauliOp  # noqa: E402
from qiskit.transpiler import generate_preset_pass_manager  # noqa: E402

from qiskit_argo.ibm.local_mode import LocalTestingService, fake_backend_named  # noqa: E402

SHOTS = 4000
DEVICE = "fake_sherbrooke"


@pytest.fixture(scope="module")
def service() -> LocalTestingService:
    return LocalTestingService()


@pytest.fixture(scope="module")
def bell_isa() -> Any:
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    manager = generate_preset_pass_manager(optimization_level=1, backend=fake_backend_named(DEVICE), seed_transpiler=7)
    return manager.run(bell)


def test_the_probe_sees_the_eagle(service: LocalTestingService) -> None:
    info = service.backend_info(DEVICE)
    assert (info.name, info.num_qubits, info.operational, info.pending_jobs) == (DEVICE, 127, True, 0)
    assert set(info.basis_gates) == {"ecr", "id", "rz", "sx", "x"}, "measure, delay, control flow are not gates"
    assert isinstance(service, IbmService)


def test_a_bell_pair_on_fake_sherbrooke_is_noisy_and_close_to_half_half(
    service: LocalTestingService, bell_isa: Any
) -> None:
    assert set(bell_isa.count_ops()) <= {"ecr", "rz", "sx", "x", "measure", "barrier"}, "ISA for the device"
    identity = JobIdentity("lab", "bell", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 1)
    request = SubmitRequest(backend=DEVICE, primitive="sampler", pubs=[(bell_isa,)], shots=SHOTS, seed=1234)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # only primitives 0.51 does not deprecate
        submitted = submit_once(service, identity, request)
    assert submitted.action == SubmitAction.SUBMITTED
    reports: list[JobState] = []
    waited = wait(service, submitted.job_id, poll_interval=0.02, tag=identity_tag(identity),
                  on_report=lambda report: reports.append(report.state))  # fmt: skip
    counts = waited.result[0].data.meas.get_counts()
    assert sum(counts.values()) == SHOTS
    ideal = counts.get("00", 0) + counts.get("11", 0)
    errors = SHOTS - ideal
    assert 0 < errors < 0.1 * SHOTS, counts  # the device's noise: a few, not many
    assert all(0.4 * SHOTS < counts.get(key, 0) < 0.6 * SHOTS for key in ("00", "11")), counts
    assert reports[-1] == JobState.DONE
    assert waited.usage.quantum_seconds == 0 and waited.usage.final, "local testing mode bills nothing"
    # Run again for the same identity: adopted by its tag, nothing new submitted.
    again = submit_once(service, identity, request)
    assert again.action == SubmitAction.ADOPTED and again.job_id == submitted.job_id
    assert [job.job_id for job in service.find_jobs(identity_tag(identity))] == [submitted.job_id]


def test_the_estimator_on_a_small_fake_device(service: LocalTestingService) -> None:
    # (A 127-qubit estimator run is simulated whole: more memory than Aer allows by default.)
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    manager = generate_preset_pass_manager(optimization_level=1, backend=fake_backend_named("fake_manila"),
                                           seed_transpiler=7)  # fmt: skip
    circuit = manager.run(bell)
    observable = SparsePauliOp("ZZ").apply_layout(circuit.layout)
    request = SubmitRequest(backend="fake_manila", primitive="estimator", pubs=[(circuit, observable)],
                            precision=0.05, seed=7)  # fmt: skip
    outcome = submit_once(service, JobIdentity("lab", "zz", None, 1), request)
    value = float(wait(service, outcome.job_id, poll_interval=0.02).result[0].data.evs)
    assert 0.8 < value <= 1.05, value


def test_an_unknown_fake_backend_is_permanent(service: LocalTestingService) -> None:
    request = SubmitRequest(backend="fake_nowhere", primitive="sampler", pubs=[])
    with pytest.raises(IbmPermanentError) as raised:
        submit_once(service, JobIdentity("lab", "x", None, 1), request)
    assert raised.value.failure == IbmFailure.BACKEND_UNAVAILABLE


def test_sessions_are_accepted_and_ignored(service: LocalTestingService) -> None:
    session = service.open_session(DEVICE, mode="session", max_time=60)
    assert session.startswith("local-session-")
    service.close_session(session)
