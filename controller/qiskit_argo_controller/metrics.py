"""Prometheus metrics of the controller (``/metrics`` on ``--metrics-port``).

Two sources, both bounded: every label is a namespace, a QiskitBackend or QiskitBudget name (a
Kubernetes object the platform team creates; at most as many as exist in the namespace), a phase,
a reason (``qiskit_argo.reasons.Reason``, anything else reads ``Other``), a currency (ISO 4217) or
a small fixed word. Never a job's name or uid.

* **State, read at scrape time** (``State``, a custom collector): each kind's ``PhaseBook`` — the
  last phase the reconcilers wrote for every resource, e.g. ``qiskit_argo_jobs{namespace,backend,
  phase}`` — and the QiskitBudgets' last status (``observe_budget``).
* **Counters and histograms** fed by one hook in ``Reconciler.write`` (``written``), called after
  every pass with the status that was stored and the status this pass computed. A change counts
  only when this pass *wrote* it (its guarded status patch succeeded), so a change is counted once
  per process, and a restarted controller, which finds the change already stored, does not count
  it again. Counters start at zero in each process; use ``rate``/``increase`` on them.

``qiskit_argo_workflows_total`` and ``ibm_cancel_requested`` are called where the Workflows are
created (``jobs.py``); ``timed`` wraps every pass (latency and errors).
"""

from __future__ import annotations

import re
import time
from collections import Counter as _Tally
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from prometheus_client import Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from qiskit_argo.reasons import Reason

__all__ = [
    "PhaseBook",
    "State",
    "STATE",
    "RECONCILE_SECONDS",
    "RECONCILE_ERRORS",
    "STATUS_PATCHES",
    "CONFLICTS",
    "WORKFLOWS_CREATED",
    "WORKFLOW_CREATION_SECONDS",
    "JOBS_FINISHED",
    "JOB_DURATION_SECONDS",
    "JOB_QUEUE_SECONDS",
    "SHOTS",
    "QUANTUM_SECONDS",
    "COST",
    "IBM_SUBMISSIONS",
    "IBM_SUBMISSION_FAILURES",
    "IBM_CANCELS",
    "JOBS_METRIC",
    "BUDGETS_METRIC",
    "timed",
    "written",
    "ibm_cancel_requested",
    "observe_budget",
    "forget_budget",
    "serve",
]

#: The phase gauge of QiskitJobs (the only one with a ``backend`` label) and of QiskitBudgets.
JOBS_METRIC = "qiskit_argo_jobs"
BUDGETS_METRIC = "qiskit_argo_budgets"

_PRE_RUNNING = frozenset({None, "Pending", "Validating", "Scheduling"})
_TERMINAL = frozenset({"Succeeded", "Failed"})
_REASONS = frozenset(reason.value for reason in Reason)
#: A QiskitBackend/QiskitBudget name (DNS-1123 subdomain) or ``aer``; anything else reads ``other``.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_STEP_FAILED = frozenset({"Failed", "Error"})
#: The step whose failure counts as a failed IBM submission.
IBM_SUBMIT_STEP = "ibm-submit"
#: The budget conditions exported as ``qiskit_argo_budget_condition``.
BUDGET_CONDITIONS = ("Exhausted", "NearlyExhausted")

# -- counters and histograms ---------------------------------------------------------------------

RECONCILE_SECONDS = Histogram(
    "qiskit_argo_reconcile_seconds",
    "Time to reconcile one resource, by trigger (the kind's noun: it changed; workflow: its Workflow "
    "changed or a timer fired).",
    ["trigger"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECONCILE_ERRORS = Counter(
    "qiskit_argo_reconcile_errors_total",
    "Passes that ended in an error (retried with backoff), by trigger and error class "
    "(Transient, StatusConflict, Forbidden, Invalid, NotFound, Conflict, AlreadyExists, Other).",
    ["trigger", "error"],
)
STATUS_PATCHES = Counter("qiskit_argo_status_patches_total", "QiskitJob status patches written.")
CONFLICTS = Counter(
    "qiskit_argo_status_conflicts_total", "Status patches refused with 409 (stale resourceVersion) and retried."
)
WORKFLOWS_CREATED = Counter("qiskit_argo_workflows_total", "Workflows created or adopted, by outcome.", ["outcome"])
WORKFLOW_CREATION_SECONDS = Histogram(
    "qiskit_argo_workflow_creation_seconds",
    "From a QiskitJob's creation to the status naming its Workflow (second resolution).",
    ["namespace"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)
JOBS_FINISHED = Counter(
    "qiskit_argo_jobs_finished_total",
    "QiskitJobs that reached Succeeded or Failed, by namespace, backend, phase and reason.",
    ["namespace", "backend", "phase", "reason"],
)
JOB_DURATION_SECONDS = Histogram(
    "qiskit_argo_job_duration_seconds",
    "From a QiskitJob's creation to its completion (status.completionTime), by outcome.",
    ["namespace", "backend", "phase"],
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
)
JOB_QUEUE_SECONDS = Histogram(
    "qiskit_argo_job_queue_seconds",
    "Queue wait: from a QiskitJob's creation until this controller first saw it Running (or "
    "Succeeded without having seen Running).",
    ["namespace", "backend"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400),
)
SHOTS = Counter(
    "qiskit_argo_shots_total",
    "Shots executed by succeeded QiskitJobs (shots per binding x bindings x PUBs of the result).",
    ["namespace", "backend"],
)
QUANTUM_SECONDS = Counter(
    "qiskit_argo_quantum_seconds_total",
    "Quantum time IBM metered (status.ibm.quantumSeconds) of finished QiskitJobs.",
    ["namespace", "backend"],
)
COST = Counter(
    "qiskit_argo_cost_total",
    "Money charged to finished QiskitJobs (status.cost.charged.amount), in the currency label's unit.",
    ["namespace", "backend", "currency"],
)
IBM_SUBMISSIONS = Counter(
    "qiskit_argo_ibm_submissions_total",
    "IBM Quantum jobs submitted: status.ibm.jobId appeared, by how the submit step got it "
    "(Submitted, Recovered, Adopted, Other).",
    ["namespace", "backend", "action"],
)
IBM_SUBMISSION_FAILURES = Counter(
    "qiskit_argo_ibm_submission_failures_total",
    "QiskitJobs that failed in their ibm-submit step (no IBM job), by reason.",
    ["namespace", "backend", "reason"],
)
IBM_CANCELS = Counter(
    "qiskit_argo_ibm_cancels_total",
    "ibm-cancel Workflows created, by what asked for them (delete, suspend).",
    ["namespace", "backend", "trigger"],
)

# -- state read at scrape time -------------------------------------------------------------------


class PhaseBook(Collector):
    """The last known phase of every resource of one kind this controller has seen, exported as a
    gauge ``qiskit_argo_<noun>s{namespace,phase}`` listing every phase of each namespace seen
    (zeros included); the jobs' gauge (``JOBS_METRIC``) has a ``backend`` label as well (the
    chosen QiskitBackend, ``aer``, or empty before the schedule step chose).

    Kept as plain dicts keyed by (namespace, name); a resource's entry goes when it goes.
    """

    def __init__(self, phases: Iterable[str], *, metric: str, what: str) -> None:
        self.phases: tuple[str, ...] = tuple(str(phase) for phase in phases)
        self.metric = metric
        self.what = what
        self.by_backend = metric == JOBS_METRIC
        self._phases: dict[tuple[str, str], str] = {}
        self._backends: dict[tuple[str, str], str] = {}

    def set(self, namespace: str, name: str, phase: str) -> None:
        self._phases[(namespace, name)] = phase

    def set_backend(self, namespace: str, name: str, backend: str) -> None:
        self._backends[(namespace, name)] = backend

    def forget(self, namespace: str, name: str) -> None:
        self._phases.pop((namespace, name), None)
        self._backends.pop((namespace, name), None)
        if self.metric == BUDGETS_METRIC:
            forget_budget(namespace, name)

    def counts(self) -> dict[str, int]:
        """Resources by phase, every phase listed (the liveness probe's answer)."""
        tally = _Tally(self._phases.values())
        return {phase: tally.get(phase, 0) for phase in self.phases}

    def collect(self) -> Iterator[Metric]:
        labels = ["namespace", "backend", "phase"] if self.by_backend else ["namespace", "phase"]
        family = GaugeMetricFamily(self.metric, f"{self.what} by {', '.join(labels)}.", labels=labels)
        groups: dict[tuple[str, ...], _Tally[str]] = {}
        for key, phase in list(self._phases.items()):
            group: tuple[str, ...] = (key[0], self._backends.get(key, "")) if self.by_backend else (key[0],)
            groups.setdefault(group, _Tally())[phase] += 1
        for group, tally in sorted(groups.items()):
            for phase in self.phases:
                family.add_metric([*group, phase], tally.get(phase, 0))
        yield family


class State(Collector):
    """What the reconcilers hold in memory, read at scrape time: every kind's ``PhaseBook`` and
    the QiskitBudgets' last status (``observe_budget``)."""

    def __init__(self) -> None:
        self.books: list[PhaseBook] = []
        #: (namespace, budget) -> (status as written, currency)
        self.budgets: dict[tuple[str, str], tuple[Mapping[str, Any], str]] = {}

    def collect(self) -> Iterator[Metric]:
        for book in list(self.books):
            yield from book.collect()
        yield from self._budget_families()

    def _budget_families(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for usage in ("spent", "reserved", "remaining"):
            families[f"{usage}_qs"] = GaugeMetricFamily(
                f"qiskit_argo_budget_{usage}_quantum_seconds",
                f"A QiskitBudget's {usage} quantum seconds in its current period (status.{usage}).",
                labels=["namespace", "budget"],
            )
            families[f"{usage}_amount"] = GaugeMetricFamily(
                f"qiskit_argo_budget_{usage}_amount",
                f"A QiskitBudget's {usage} money in its current period (status.{usage}), in the currency label's unit.",
                labels=["namespace", "budget", "currency"],
            )
        reservations = GaugeMetricFamily(
            "qiskit_argo_budget_reservations",
            "Jobs holding a reservation on a QiskitBudget (status.reservations).",
            labels=["namespace", "budget"],
        )
        conditions = GaugeMetricFamily(
            "qiskit_argo_budget_condition",
            "1 when a QiskitBudget's condition (Exhausted, NearlyExhausted) is True, else 0.",
            labels=["namespace", "budget", "condition"],
        )
        for (namespace, name), (status, currency) in sorted(self.budgets.items()):
            for usage in ("spent", "reserved", "remaining"):
                found = status.get(usage)
                values = found if isinstance(found, Mapping) else {}
                seconds = _number(values.get("quantumSeconds"))
                if seconds is not None:
                    families[f"{usage}_qs"].add_metric([namespace, name], seconds)
                amount = _number(values.get("amount"))
                if amount is not None:
                    families[f"{usage}_amount"].add_metric([namespace, name, currency], amount)
            held = status.get("reservations")
            reservations.add_metric([namespace, name], len(held) if isinstance(held, list) else 0)
            true = {
                c.get("type")
                for c in status.get("conditions") or []
                if isinstance(c, Mapping) and c.get("status") == "True"
            }
            for condition in BUDGET_CONDITIONS:
                conditions.add_metric([namespace, name, condition], 1 if condition in true else 0)
        yield from families.values()
        yield reservations
        yield conditions


#: The one collector of this process's state, registered once on the default registry.
STATE = State()
REGISTRY.register(STATE)


def observe_budget(namespace: str, name: str, status: Mapping[str, Any] | None, *, currency: str = "") -> None:
    """Export a QiskitBudget's status (the wire form: ``spent``/``reserved``/``remaining`` with
    ``quantumSeconds``/``amount`` decimal strings, ``reservations``, ``conditions``). Call it with
    every status the budget reconciler writes or reads; ``currency`` is ``spec.currency``.
    A ``Reconciler`` whose book is ``qiskit_argo_budgets`` gets this from ``written`` already."""
    if not isinstance(status, Mapping):
        forget_budget(namespace, name)
        return
    STATE.budgets[(namespace, name)] = (dict(status), currency if _CURRENCY.match(currency or "") else "")


def forget_budget(namespace: str, name: str) -> None:
    """The QiskitBudget is gone: its series go."""
    STATE.budgets.pop((namespace, name), None)


# -- helpers -------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        return None
    return float(found) if found.is_finite() else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _name(value: Any) -> str:
    """A bounded name label: a Kubernetes object name, ``""`` when unset, else ``other``."""
    if value in (None, ""):
        return ""
    return value if isinstance(value, str) and _NAME.match(value) else "other"


def _reason(value: Any) -> str:
    if value in (None, ""):
        return ""
    return value if value in _REASONS else "Other"


def _seconds_since(start: Any, end: datetime | None = None) -> float | None:
    began = _time(start)
    if began is None:
        return None
    return max(((end or datetime.now(UTC)) - began).total_seconds(), 0.0)


def _shots(status: Mapping[str, Any]) -> int:
    result = status.get("result")
    if not isinstance(result, Mapping):
        return 0
    counts = [result.get("shots"), result.get("numBindings", 1), result.get("numPubs", 1)]
    whole = [n for n in counts if isinstance(n, int) and not isinstance(n, bool) and n >= 0]
    if len(whole) != len(counts):
        return 0
    return whole[0] * whole[1] * whole[2]


# -- hooks ---------------------------------------------------------------------------------------


@contextmanager
def timed(trigger: str) -> Iterator[None]:
    """Time one pass; count it as an error when it raises (the handlers retry it)."""
    start = time.perf_counter()
    try:
        yield
    except Exception as error:
        name = type(error).__name__
        known = ("Transient", "StatusConflict", "Forbidden", "Invalid", "NotFound", "Conflict", "AlreadyExists")
        RECONCILE_ERRORS.labels(trigger, name if name in known else "Other").inc()
        raise
    finally:
        RECONCILE_SECONDS.labels(trigger).observe(time.perf_counter() - start)


def written(book: PhaseBook, raw: Mapping[str, Any], stored: Mapping[str, Any] | None, new: Any, patched: bool) -> None:
    """The hook in ``Reconciler.write``: a pass ended with status ``new`` (a status model) over the
    ``stored`` one; ``patched``: this pass wrote the difference (only then do counters move)."""
    found = raw.get("metadata")
    metadata: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
    if book.by_backend:
        book.set_backend(namespace, name, _name(getattr(getattr(new, "backend", None), "name", None)))
    if book.metric == BUDGETS_METRIC:
        currency = _get(raw, "spec", "currency")
        observe_budget(namespace, name, new.dump(), currency=currency if isinstance(currency, str) else "USD")
    if patched and book.metric == JOBS_METRIC:
        _job_changed(namespace, metadata, stored if isinstance(stored, Mapping) else {}, new.dump())


def _job_changed(namespace: str, metadata: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Count what the status patch just written changed, once."""
    before, now = old.get("phase"), new.get("phase")
    backend = _name(_get(new, "backend", "name"))
    created = metadata.get("creationTimestamp")
    if new.get("workflowName") and not old.get("workflowName"):
        waited = _seconds_since(created)
        if waited is not None:
            WORKFLOW_CREATION_SECONDS.labels(namespace).observe(waited)
    if before in _PRE_RUNNING and (now == "Running" or (now == "Succeeded")):
        waited = _seconds_since(created)
        if waited is not None:
            JOB_QUEUE_SECONDS.labels(namespace, backend).observe(waited)
    job_id = _get(new, "ibm", "jobId")
    if job_id and not _get(old, "ibm", "jobId"):
        action = _get(new, "ibm", "action")
        IBM_SUBMISSIONS.labels(
            namespace, backend, action if action in ("Submitted", "Recovered", "Adopted") else "Other"
        ).inc()
    if now not in _TERMINAL or before in _TERMINAL:
        return
    reason = _reason(new.get("reason"))
    JOBS_FINISHED.labels(namespace, backend, now, reason).inc()
    took = _seconds_since(created, _time(new.get("completionTime")) or datetime.now(UTC))
    if took is not None:
        JOB_DURATION_SECONDS.labels(namespace, backend, now).observe(took)
    if now == "Succeeded":
        shots = _shots(new)
        if shots:
            SHOTS.labels(namespace, backend).inc(shots)
    seconds = _number(_get(new, "ibm", "quantumSeconds"))
    if seconds:
        QUANTUM_SECONDS.labels(namespace, backend).inc(max(seconds, 0.0))
    amount = _number(_get(new, "cost", "charged", "amount"))
    currency = _get(new, "cost", "charged", "currency")
    if amount and amount > 0 and isinstance(currency, str) and _CURRENCY.match(currency):
        COST.labels(namespace, backend, currency).inc(amount)
    if now == "Failed" and not job_id:
        steps = new.get("steps") or []
        if any(
            isinstance(step, Mapping) and step.get("name") == IBM_SUBMIT_STEP and step.get("phase") in _STEP_FAILED
            for step in steps
        ):
            IBM_SUBMISSION_FAILURES.labels(namespace, backend, reason).inc()


def ibm_cancel_requested(raw: Mapping[str, Any]) -> None:
    """The hook where a job's ibm-cancel Workflow is created: deleted or suspended job ``raw``."""
    namespace = str(_get(raw, "metadata", "namespace"))
    trigger = "delete" if _get(raw, "metadata", "deletionTimestamp") else "suspend"
    IBM_CANCELS.labels(namespace, _name(_get(raw, "status", "backend", "name")), trigger).inc()


def serve(port: int, books: Iterable[PhaseBook]) -> Any:
    """Export every kind's phase gauge (``books``, replacing any earlier ones) and expose
    ``/metrics`` on ``port`` (0 = don't). Returns prometheus-client's ``(server, thread)`` or None."""
    STATE.books = list(books)
    if port:
        return start_http_server(port)
    return None
