"""The kopf wiring: thin handlers that hand the job or Workflow body to ``Reconciler``.

``operator(options)`` returns everything ``kopf.operator``/``kopf.run`` needs (a registry with the
handlers, settings, the memo carrying the reconciler, namespaces, peering), so the CLI, the tests
and the benchmark run exactly the same operator.

Handlers:

* QiskitJob created / updated (``spec``) / found at startup → ``reconcile_job``; failures that may
  pass (API down, conflicts that kept coming) are retried by kopf with backoff; an unreadable spec
  is written as Failed/InvalidSpec and never retried.
* Workflow event (server-side label selector ``app.kubernetes.io/managed-by=qiskit-argo``) →
  ``workflow_event``: the status follows the Workflow as soon as Argo writes it; DELETED → the
  job fails with WorkflowDeleted unless the Workflow had finished. kopf does not retry event
  handlers, so this one retries transient failures itself, with backoff, for up to
  ``Options.event_retry_seconds``; a newer event of the same Workflow is processed right after.

There is deliberately no per-job timer or daemon: kopf would put a finalizer on every running
job for it (blocking ``kubectl delete`` whenever the controller is down) and write it twice per
job. At startup kopf lists every job and Workflow again, so a restart re-reads everything.

kopf keeps its own bookkeeping in annotations under ``qiskit-argo.io/`` on the job (never in
``status``, which the CRD defines); no handler returns a value, so kopf writes nothing into
``status`` either.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import kopf

from qiskit_argo.api import GROUP, PLURAL, VERSION
from qiskit_argo.naming import LABEL_MANAGED_BY, MANAGED_BY
from qiskit_argo.request import Limits
from qiskit_argo_controller.kube import ARGO_GROUP, ARGO_VERSION, WORKFLOWS, Forbidden, Invalid, Kube, Transient
from qiskit_argo_controller.reconcile import Reconciler

__all__ = ["Options", "Operator", "operator", "login", "DEFAULT_PEERING"]

DEFAULT_PEERING = "qiskit-argo"
WORKFLOW_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY}"


@dataclass(frozen=True)
class Options:
    """How one controller process runs."""

    #: Namespaces to serve; empty means all of them (cluster-wide).
    namespaces: tuple[str, ...] = ()
    #: How long a Workflow event keeps retrying transient API failures before it gives up (the
    #: next event of that Workflow, or a restart, catches up).
    event_retry_seconds: float = 300.0
    #: Platform limits passed to every job's validate step (None: the step's built-in limits).
    limits: Limits | None = None
    #: Run without peering (a single replica, tests); otherwise replicas elect one active peer.
    standalone: bool = False
    peering: str = DEFAULT_PEERING
    #: Peering priority; the highest live peer acts, the others stand by. Random by default.
    priority: int | None = None
    #: ``http://0.0.0.0:8080/healthz`` style URL for kopf's liveness probe, or None.
    liveness: str | None = None
    #: kopf's per-object event batching window (seconds); kopf's default when None.
    batch_window: float | None = None
    #: First retry delay of a failing job handler (seconds); doubles up to a minute.
    backoff: float = 1.0


@dataclass
class Operator:
    """Arguments for ``kopf.operator(**op.kwargs())`` plus the reconciler, for tests to look at."""

    options: Options
    registry: kopf.OperatorRegistry
    settings: kopf.OperatorSettings
    reconciler: Reconciler
    memo: kopf.Memo = field(default_factory=kopf.Memo)

    def kwargs(self) -> dict[str, Any]:
        options = self.options
        priority = options.priority if options.priority is not None else random.randint(1, 2**31 - 1)
        return {
            "registry": self.registry,
            "settings": self.settings,
            "memo": self.memo,
            "clusterwide": not options.namespaces,
            "namespaces": list(options.namespaces),
            "standalone": options.standalone,
            "peering_name": None if options.standalone else options.peering,
            "priority": priority,
            "liveness_endpoint": options.liveness,
        }


def login(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo | None:
    """In-cluster service account first, else the current kubeconfig context (kopf's own logins)."""
    return kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)


def _raw(body: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy({key: body[key] for key in body})


async def _run_job_handler(
    reconciler: Reconciler, body: Mapping[str, Any], logger: Any, retry: int, backoff: float
) -> None:
    try:
        await reconciler.reconcile_job(_raw(body), logger)
    except Forbidden as error:
        raise kopf.TemporaryError(f"not allowed ({error.message}); check the controller's RBAC", delay=60) from error
    except Invalid as error:
        # The API server refuses what this controller writes: a bug or a CRD/controller version
        # mismatch. Retrying the same request cannot help.
        raise kopf.PermanentError(f"the API server rejected a request: {error}") from error
    except Transient as error:
        delay = min(60.0, backoff * 2**retry)
        raise kopf.TemporaryError(f"{error}; retrying in {delay:g}s", delay=delay) from error


def operator(options: Options, *, kube: Kube | None = None) -> Operator:
    """A registry with the controller's handlers, settings and memo, ready for ``kopf.operator``."""
    registry = kopf.OperatorRegistry()
    settings = kopf.OperatorSettings()
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # handler chatter stays in the logs; Events are ours
    settings.scanning.disabled = True  # fixed resources: no cluster-wide CRD/namespace watching
    settings.watching.label_selectors[ARGO_GROUP, WORKFLOWS] = WORKFLOW_SELECTOR
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.peering.clusterwide = not options.namespaces
    if options.batch_window is not None:
        settings.batching.batch_window = options.batch_window

    reconciler = Reconciler(kube or Kube(lambda: login(settings)), limits=options.limits)
    op = Operator(options=options, registry=registry, settings=settings, reconciler=reconciler)
    op.memo["reconciler"] = reconciler
    jobs: dict[str, Any] = {"group": GROUP, "version": VERSION, "plural": PLURAL, "registry": registry}

    def job_logger(body: Mapping[str, Any]) -> kopf.LocalObjectLogger:
        return kopf.LocalObjectLogger(body=kopf.Body(cast(kopf.RawBody, dict(body))), settings=settings)

    @kopf.on.login(registry=registry)
    def credentials(**_: Any) -> kopf.ConnectionInfo | None:
        info = login(settings)
        if info is None:
            raise kopf.LoginError("no in-cluster service account and no kubeconfig context")
        return info

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        await reconciler.kube.close()

    @kopf.on.probe(id="jobs", registry=registry)
    def jobs_by_phase(**_: Any) -> dict[str, int]:
        return reconciler.book.counts()

    @kopf.on.resume(**jobs, backoff=options.backoff)
    @kopf.on.create(**jobs, backoff=options.backoff)
    @kopf.on.update(**jobs, field="spec", backoff=options.backoff)
    async def job_changed(body: kopf.Body, retry: int, **_: Any) -> None:
        await _run_job_handler(reconciler, body, job_logger(body), retry, options.backoff)

    @kopf.on.event(**jobs)
    async def job_event(event: kopf.RawEvent, **_: Any) -> None:
        if event.get("type") == "DELETED":
            reconciler.job_deleted(event["object"])

    @kopf.on.event(ARGO_GROUP, ARGO_VERSION, WORKFLOWS, labels={LABEL_MANAGED_BY: MANAGED_BY}, registry=registry)
    async def workflow_changed(event: kopf.RawEvent, logger: Any, **_: Any) -> None:
        # kopf does not retry event handlers: retry transient failures here, with backoff.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.event_retry_seconds
        delay = options.backoff
        while True:
            try:
                await reconciler.workflow_event(event.get("type"), event["object"], job_logger)
                return
            except Transient as error:
                if loop.time() + delay > deadline:
                    logger.warning(f"Gave up copying the Workflow's status to its job: {error}")
                    return
                logger.info(f"Retrying in {delay:g}s to copy the Workflow's status to its job: {error}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except (Forbidden, Invalid) as error:
                logger.error(f"Could not copy the Workflow's status to its job: {error}")
                return

    op.memo["book"] = reconciler.book
    return op
