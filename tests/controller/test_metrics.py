"""The controller's Prometheus metrics, scraped over HTTP from the real operator.

Same harness as ``test_scenarios.py`` (the real kopf operator against the strict emulator, and
envtest when ``KUBEBUILDER_ASSETS`` is set); the test plays the user and Argo, then reads
``/metrics`` exactly as Prometheus does and parses it with prometheus-client's own parser.

Counters live for the whole test process, so every assertion selects the test's own namespace
(a fresh one per test). ``tests/deploy/test_monitoring.py`` checks the alert rules and the
dashboard against the same registry this scrape serves.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families
from qiskit_argo_controller import metrics

from qiskit_argo.steps import STEPS
from tests.argo_fake import BACKEND, IBM_JSON, IBM_SCHEDULE, METRICS, SUBMISSION_JSON, SUMMARY, ArgoFake
from tests.controller.cluster import Argo, Cluster, ServiceArgo, bell_spec, eventually

pytestmark = pytest.mark.timeout(60)

SHERBROOKE = {"type": "ibm", "fakeBackend": "fake_sherbrooke", "maxConcurrentJobs": 2}
READY_BACKEND = {"phase": "Ready", "device": "fake_sherbrooke", "capabilities": {"numQubits": 127}}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> tuple[Samples, set[str]]:
    """Every sample ``/metrics`` serves, by (sample name, labels), and the family names."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:  # noqa: S310 - local
        text = answer.read().decode()
    samples: Samples = {}
    families: set[str] = set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, families


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(cluster: Cluster) -> AsyncIterator[Callable[[], tuple[Samples, set[str]]]]:
    """A started controller whose metrics are served on a free port, as ``--metrics-port`` does."""
    controller = await cluster.controller().start()
    assert controller.op is not None
    port = _free_port()
    server, thread = metrics.serve(port, [reconciler.book for reconciler in controller.op.reconcilers.values()])
    try:
        yield lambda: scrape(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def _until(read: Callable[[], tuple[Samples, set[str]]], check: Callable[[Samples], bool], what: str) -> Samples:
    async def probe() -> Samples | None:
        samples, _ = await asyncio.to_thread(read)
        return samples if check(samples) else None

    found: Samples = await eventually(probe, what=what)
    return found


async def _run_aer(cluster: Cluster, name: str, drive: Callable[[ArgoFake], object]) -> None:
    await cluster.create_job(name, bell_spec())
    workflow = await cluster.workflow_of(name)
    await Argo(cluster, workflow["metadata"]["name"])(drive)


def _succeeds(fake: ArgoFake) -> None:
    fake.start()
    for step, outputs in (
        ("validate", {"metrics": METRICS}),
        ("schedule", {"backend": BACKEND}),
        ("execute-aer", {"summary": SUMMARY}),
        ("store-results", {"summary": SUMMARY}),
    ):
        fake.run_step(step)
        fake.succeed_step(step, outputs)
    fake.finish("Succeeded")


def _fails_validation(fake: ArgoFake) -> None:
    fake.start()
    fake.run_step("validate")
    fake.fail_step("validate", "InvalidCircuit: line 6: index 5 is out-of-range for register 'q'")


async def test_aer_jobs_by_phase_backend_shots_and_latencies(
    cluster: Cluster, served: Callable[[], tuple[Samples, set[str]]]
) -> None:
    ns = cluster.namespace
    await _run_aer(cluster, "good", _succeeds)
    await cluster.phase("good", "Succeeded")
    await _run_aer(cluster, "bad", _fails_validation)
    await cluster.phase("bad", "Failed")
    await cluster.create_job("waiting", bell_spec())
    await cluster.phase("waiting", "Pending")

    samples = await _until(
        served,
        lambda s: (
            value(s, "qiskit_argo_jobs_finished_total", namespace=ns) == 2
            and value(s, "qiskit_argo_jobs", namespace=ns) == 3
        ),
        "two finished jobs and three known",
    )
    aer = BACKEND["name"]
    assert value(samples, "qiskit_argo_jobs", namespace=ns, backend=aer, phase="Succeeded") == 1
    assert value(samples, "qiskit_argo_jobs", namespace=ns, phase="Failed") == 1
    assert value(samples, "qiskit_argo_jobs", namespace=ns, phase="Pending") == 1
    assert value(samples, "qiskit_argo_jobs", namespace=ns, phase="Running") == 0  # every phase is listed
    assert value(samples, "qiskit_argo_jobs_finished_total", namespace=ns, phase="Succeeded", reason="Succeeded") == 1
    assert value(samples, "qiskit_argo_jobs_finished_total", namespace=ns, phase="Failed", reason="InvalidCircuit") == 1
    shots = SUMMARY["shots"] * SUMMARY["numBindings"] * SUMMARY["numPubs"]
    assert value(samples, "qiskit_argo_shots_total", namespace=ns, backend=aer) == shots
    assert value(samples, "qiskit_argo_job_duration_seconds_count", namespace=ns) == 2
    assert value(samples, "qiskit_argo_job_queue_seconds_count", namespace=ns, backend=aer) == 1
    assert value(samples, "qiskit_argo_workflow_creation_seconds_count", namespace=ns) == 3
    assert value(samples, "qiskit_argo_quantum_seconds_total", namespace=ns) == 0, "Aer meters no quantum time"
    assert value(samples, "qiskit_argo_workflows_total", outcome="created") >= 3
    assert value(samples, "qiskit_argo_reconcile_seconds_count") > 0
    # No label anywhere carries a job's name or uid.
    uids = {(await cluster.job(name))["metadata"]["uid"] for name in ("good", "bad", "waiting")}
    for (_, labels), _v in samples.items():
        assert not {label for _, label in labels} & ({"good", "bad", "waiting"} | uids), labels

    # A deleted job leaves the phase gauge.
    await cluster.api.ok("DELETE", cluster.job_path("waiting"))
    await _until(
        served,
        lambda s: (
            value(s, "qiskit_argo_jobs", namespace=ns, phase="Pending") == 0
            and value(s, "qiskit_argo_jobs", namespace=ns) == 2
        ),
        "the deleted job gone from qiskit_argo_jobs",
    )


async def test_a_restarted_controller_counts_nothing_twice(cluster: Cluster) -> None:
    ns = cluster.namespace
    first = await cluster.controller().start()
    await _run_aer(cluster, "good", _succeeds)
    await cluster.phase("good", "Succeeded")
    await first.stop()

    before, _ = _scrape_registry()
    second = await cluster.controller().start()
    assert second.op is not None
    job = second.op.reconciler("QiskitJob")
    await eventually(lambda: _known(job.book.counts()), what="the restarted controller lists the job")
    after, _ = _scrape_registry()
    for name in (
        "qiskit_argo_jobs_finished_total",
        "qiskit_argo_shots_total",
        "qiskit_argo_job_duration_seconds_count",
    ):
        assert (
            value(after, name, namespace=ns)
            == value(before, name, namespace=ns)
            == (SUMMARY["shots"] if name == "qiskit_argo_shots_total" else 1)
        ), name


async def _known(counts: dict[str, int]) -> bool | None:
    return True if counts.get("Succeeded") else None


def _scrape_registry() -> tuple[Samples, set[str]]:
    from prometheus_client import REGISTRY, generate_latest

    samples: Samples = {}
    families: set[str] = set()
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, families


async def _ibm_job(cluster: Cluster, name: str) -> str:
    """A job on the QiskitBackend sherbrooke; its Workflow's name."""
    await cluster.create_job(name, bell_spec(backend={"ref": "sherbrooke"}))
    workflow = await cluster.workflow_of(name)
    return str(workflow["metadata"]["name"])


async def test_ibm_submissions_quantum_seconds_failures_and_cancels(
    cluster: Cluster, served: Callable[[], tuple[Samples, set[str]]]
) -> None:
    ns = cluster.namespace
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE, READY_BACKEND)
    ibm_backend = json.loads(IBM_SCHEDULE["backend"])["name"]

    # One IBM job runs to the end: a submission, its metered quantum seconds.
    done = await _ibm_job(cluster, "done")

    def finished(fake: ArgoFake) -> None:
        fake.start()
        for step, outputs in (
            ("validate", {"metrics": METRICS}),
            ("schedule", IBM_SCHEDULE),
            ("ibm-submit", {"submission": SUBMISSION_JSON}),
            ("ibm-wait", {"summary": SUMMARY, "ibm": IBM_JSON}),
            ("store-results", {"summary": SUMMARY}),
        ):
            fake.run_step(step)
            fake.succeed_step(step, outputs)
        fake.finish("Succeeded")

    await Argo(cluster, done)(finished)
    await cluster.phase("done", "Succeeded")

    # One whose submission IBM refuses.
    refused = await _ibm_job(cluster, "refused")

    def refusing(fake: ArgoFake) -> None:
        fake.start()
        for step, outputs in (("validate", {"metrics": METRICS}), ("schedule", IBM_SCHEDULE)):
            fake.run_step(step)
            fake.succeed_step(step, outputs)
        fake.run_step("ibm-submit")
        fake.fail_step("ibm-submit", "IbmRequestRefused: IBM Quantum refused the job (HTTP 400)")

    await Argo(cluster, refused)(refusing)
    await cluster.phase("refused", "Failed")

    # One deleted while it waits at IBM: the cancel Workflow.
    waiting = await _ibm_job(cluster, "waiting")

    def at_ibm(fake: ArgoFake) -> None:
        fake.start()
        for step, outputs in (
            ("validate", {"metrics": METRICS}),
            ("schedule", IBM_SCHEDULE),
            ("ibm-submit", {"submission": SUBMISSION_JSON}),
        ):
            fake.run_step(step)
            fake.succeed_step(step, outputs)
        fake.run_step("ibm-wait")

    await Argo(cluster, waiting)(at_ibm)
    await _until(
        served,
        lambda s: value(s, "qiskit_argo_ibm_submissions_total", namespace=ns) == 2,
        "the second submission counted",
    )
    await cluster.delete_job("waiting")
    cancel = await eventually(lambda: _cancel_workflow(cluster), what="the cancel Workflow")
    await ServiceArgo(cluster, cancel)(lambda fake: (fake.start(), fake.succeed({"cancelled": {"cancelled": []}})))

    samples = await _until(
        served,
        lambda s: (
            value(s, "qiskit_argo_ibm_cancels_total", namespace=ns) == 1
            and value(s, "qiskit_argo_jobs_finished_total", namespace=ns) == 2
        ),
        "the cancel and both finished jobs counted",
    )
    ibm_job = json.loads(IBM_JSON)
    assert (
        value(samples, "qiskit_argo_ibm_submissions_total", namespace=ns, backend=ibm_backend, action="Submitted") == 2
    )
    assert (
        value(samples, "qiskit_argo_quantum_seconds_total", namespace=ns, backend=ibm_backend)
        == ibm_job["quantumSeconds"]
    )
    assert (
        value(
            samples,
            "qiskit_argo_ibm_submission_failures_total",
            namespace=ns,
            backend=ibm_backend,
            reason="IbmRequestRefused",
        )
        == 1
    )
    assert value(samples, "qiskit_argo_ibm_cancels_total", namespace=ns, backend=ibm_backend, trigger="delete") == 1
    assert (
        value(samples, "qiskit_argo_jobs_finished_total", namespace=ns, phase="Failed", reason="IbmRequestRefused") == 1
    )


async def _cancel_workflow(cluster: Cluster) -> str | None:
    for workflow in await cluster.workflows():
        if (workflow["metadata"].get("labels") or {}).get("qiskit-argo.io/service") == "ibm-cancel":
            return str(workflow["metadata"]["name"])
    return None


def test_budget_metrics_follow_observe_budget() -> None:
    """What the budget reconciler hands ``observe_budget`` is what a scrape shows; a deleted
    budget's series go (``forget_budget``)."""
    status = {
        "spent": {"quantumSeconds": "120.5", "amount": "192.80"},
        "reserved": {"quantumSeconds": "60", "amount": "96.00"},
        "remaining": {"quantumSeconds": "419.5", "amount": "671.20"},
        "reservations": [{"uid": "u1"}, {"uid": "u2"}],
        "conditions": [{"type": "NearlyExhausted", "status": "True"}, {"type": "Exhausted", "status": "False"}],
    }
    metrics.observe_budget("team-metrics", "monthly", status, currency="USD")
    samples, _ = _scrape_registry()
    labels = {"namespace": "team-metrics", "budget": "monthly"}
    assert value(samples, "qiskit_argo_budget_spent_quantum_seconds", **labels) == 120.5
    assert value(samples, "qiskit_argo_budget_remaining_amount", currency="USD", **labels) == pytest.approx(671.2)
    assert value(samples, "qiskit_argo_budget_reservations", **labels) == 2
    assert value(samples, "qiskit_argo_budget_condition", condition="NearlyExhausted", **labels) == 1
    assert value(samples, "qiskit_argo_budget_condition", condition="Exhausted", **labels) == 0
    metrics.forget_budget("team-metrics", "monthly")
    samples, _ = _scrape_registry()
    assert value(samples, "qiskit_argo_budget_reservations", **labels) == 0
    assert not [key for key in samples if ("budget", "monthly") in key[1]]


def test_reconcile_errors_are_counted_by_class() -> None:
    from qiskit_argo_controller.kube import Forbidden

    before = value(_scrape_registry()[0], "qiskit_argo_reconcile_errors_total", trigger="t", error="Forbidden")
    with pytest.raises(Forbidden), metrics.timed("t"):
        raise Forbidden(403, "Forbidden", "no")
    with pytest.raises(KeyError), metrics.timed("t"):
        raise KeyError("x")
    samples, _ = _scrape_registry()
    assert value(samples, "qiskit_argo_reconcile_errors_total", trigger="t", error="Forbidden") == before + 1
    assert value(samples, "qiskit_argo_reconcile_errors_total", trigger="t", error="Other") >= 1


def test_every_step_is_known_to_the_metrics() -> None:
    assert metrics.IBM_SUBMIT_STEP in STEPS
