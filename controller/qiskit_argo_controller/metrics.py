"""Prometheus metrics of the controller: resources by phase (one gauge per kind, e.g.
``qiskit_argo_jobs``), reconcile durations, API outcomes (shared by every kind)."""

from __future__ import annotations

import time
from collections import Counter as _Tally
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

__all__ = ["PhaseBook", "RECONCILE_SECONDS", "STATUS_PATCHES", "CONFLICTS", "WORKFLOWS_CREATED", "timed", "serve"]

RECONCILE_SECONDS = Histogram(
    "qiskit_argo_reconcile_seconds",
    "Time to reconcile one QiskitJob, by trigger (job: the job changed; workflow: its Workflow changed).",
    ["trigger"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STATUS_PATCHES = Counter("qiskit_argo_status_patches_total", "QiskitJob status patches written.")
CONFLICTS = Counter(
    "qiskit_argo_status_conflicts_total", "Status patches refused with 409 (stale resourceVersion) and retried."
)
WORKFLOWS_CREATED = Counter("qiskit_argo_workflows_total", "Workflows created or adopted, by outcome.", ["outcome"])


class PhaseBook(Collector):
    """The last known phase of every resource of one kind this controller has seen, exported as a
    gauge ``qiskit_argo_<noun>s{phase}`` (``qiskit_argo_jobs``) listing every phase, seen or not.

    Kept as a plain dict keyed by (namespace, name); a resource's entry goes when it goes.
    """

    def __init__(self, phases: Iterable[str], *, metric: str, what: str) -> None:
        self.phases: tuple[str, ...] = tuple(str(phase) for phase in phases)
        self.metric = metric
        self.what = what
        self._phases: dict[tuple[str, str], str] = {}

    def set(self, namespace: str, name: str, phase: str) -> None:
        self._phases[(namespace, name)] = phase

    def forget(self, namespace: str, name: str) -> None:
        self._phases.pop((namespace, name), None)

    def counts(self) -> dict[str, int]:
        tally = _Tally(self._phases.values())
        return {phase: tally.get(phase, 0) for phase in self.phases}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.metric, f"{self.what} by phase.", labels=["phase"])
        for phase, count in self.counts().items():
            family.add_metric([phase], count)
        yield family


@contextmanager
def timed(trigger: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        RECONCILE_SECONDS.labels(trigger).observe(time.perf_counter() - start)


def serve(port: int, books: Iterable[PhaseBook]) -> None:
    """Expose ``/metrics`` on ``port`` (0 = don't) with every kind's phase gauge registered once."""
    for book in books:
        REGISTRY.register(book)
    if port:
        start_http_server(port)
