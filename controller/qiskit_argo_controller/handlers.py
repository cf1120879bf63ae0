"""The kopf wiring: for every kind in ``CONTROLLERS``, two thin handlers that hand its events and
its Workflows' events to that kind's ``Reconciler``.

``operator(options)`` returns everything ``kopf.operator``/``kopf.run`` needs (a registry with the
handlers, settings, the memo carrying the reconcilers, namespaces, peering), so the CLI, the tests
and the benchmark run exactly the same operator.

Handlers, all kopf *event* handlers (``@kopf.on.event``), per kind:

* the kind's resource listed / created / changed / deleted → ``Reconciler.object_event``.
  Transient failures (API down, conflicts that kept coming) are retried here with backoff
  (``Options.backoff`` doubling to a minute) for as long as the resource exists; a 403 is
  retried every minute (someone has to fix the RBAC); a 422 on a write the controller makes is
  a bug and is not retried.
* Workflow event (server-side label selector ``app.kubernetes.io/managed-by=qiskit-argo``; the
  kind's owner label, e.g. ``qiskit-argo.io/job``, present) → ``Reconciler.workflow_event``: the
  status follows the Workflow as soon as Argo writes it. Transient failures are retried with
  backoff for up to ``Options.event_retry_seconds``; the next event of that Workflow or of its
  owner, or a restart, catches up after that.
* a liveness probe ``<noun>s`` counting the kind's resources by phase.

Why event handlers and not kopf's create/update/resume handlers: those need a *diff base*, a
copy of the spec kopf keeps on the object — in an annotation here (the CRD's structural schema
prunes anything kopf would put in ``status``). A job's spec holds its circuit (up to 256 KiB), so
that copy alone can exceed the API server's 256 KiB limit on all annotations together: every
kopf patch then fails with 422 and kopf backs off, further each time. And kopf writes that
annotation once per resource it lists for the first time. Event handlers need neither a diff
base nor progress records: **kopf writes nothing on our resources**, and the reconciler decides
from the resource itself (its ``resourceVersion``, generation and status) what, if anything, is
left to do.

There is deliberately no per-resource timer or daemon: kopf would put a finalizer on every
running job for it (blocking ``kubectl delete`` whenever the controller is down) and write it
twice per job. At startup kopf lists every resource and Workflow again, so a restart re-reads
everything.

**A new kind** is a new module beside ``jobs.py`` (a ``Reconciler`` subclass: what one pass does
for that kind) and one line in ``CONTROLLERS``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import kopf

from qiskit_argo.api import Kind
from qiskit_argo.naming import LABEL_MANAGED_BY, MANAGED_BY
from qiskit_argo_controller.backends import BackendReconciler
from qiskit_argo_controller.budgets import BudgetReconciler
from qiskit_argo_controller.jobs import JobReconciler
from qiskit_argo_controller.kube import ARGO_GROUP, ARGO_VERSION, WORKFLOWS, Forbidden, Invalid, Kube, Transient
from qiskit_argo_controller.options import DEFAULT_PEERING, Options
from qiskit_argo_controller.reconcile import Reconciler
from qiskit_argo_controller.sessions import SessionReconciler

__all__ = ["CONTROLLERS", "Options", "Operator", "operator", "login", "DEFAULT_PEERING"]

#: Every kind the controller serves: one line per kind, its module's ``Reconciler`` subclass.
CONTROLLERS: tuple[type[Reconciler], ...] = (
    JobReconciler,
    BackendReconciler,
    SessionReconciler,
    BudgetReconciler,
)

WORKFLOW_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY}"


@dataclass
class Operator:
    """Arguments for ``kopf.operator(**op.kwargs())`` plus the reconcilers, for tests to look at."""

    options: Options
    registry: kopf.OperatorRegistry
    settings: kopf.OperatorSettings
    kube: Kube
    #: One per kind, by kind name (``"QiskitJob"``).
    reconcilers: dict[str, Reconciler]
    memo: kopf.Memo = field(default_factory=kopf.Memo)

    def reconciler(self, kind: Kind | str) -> Reconciler:
        """The reconciler of ``kind`` (a ``Kind`` or its name)."""
        return self.reconcilers[kind if isinstance(kind, str) else kind.kind]

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


async def _retrying(
    what: str,
    attempt: Callable[[], Awaitable[None]],
    logger: Any,
    *,
    backoff: float,
    give_up_after: float | None,
) -> None:
    """Run ``attempt`` until it succeeds: transient failures back off (doubling to a minute), a
    403 waits a minute, a 422 is reported and dropped. kopf does not retry event handlers."""
    loop = asyncio.get_running_loop()
    deadline = None if give_up_after is None else loop.time() + give_up_after
    delay = backoff
    while True:
        try:
            await attempt()
            return
        except Forbidden as error:
            wait = 60.0
            logger.error(f"Not allowed to {what} ({error.message}); check the controller's RBAC; retrying in 60s")
        except Invalid as error:
            # The API server refuses what this controller writes: a bug or a CRD/controller version
            # mismatch. Retrying the same request cannot help.
            logger.error(f"Could not {what}: the API server rejected a request: {error}")
            return
        except Transient as error:
            wait = delay
            delay = min(delay * 2, 60.0)
            logger.info(f"Retrying in {wait:g}s to {what}: {error}")
        if deadline is not None and loop.time() + wait > deadline:
            logger.warning(f"Gave up trying to {what}; the next change or a restart catches up")
            return
        await asyncio.sleep(wait)


def operator(options: Options, *, kube: Kube | None = None) -> Operator:
    """A registry with every kind's handlers, settings and memo, ready for ``kopf.operator``."""
    registry = kopf.OperatorRegistry()
    settings = kopf.OperatorSettings()
    settings.posting.level = logging.WARNING  # handler chatter stays in the logs; Events are ours
    settings.scanning.disabled = True  # fixed resources: no cluster-wide CRD/namespace watching
    settings.watching.label_selectors[ARGO_GROUP, WORKFLOWS] = WORKFLOW_SELECTOR
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.peering.clusterwide = not options.namespaces
    if options.batch_window is not None:
        settings.batching.batch_window = options.batch_window

    kube = kube or Kube(lambda: login(settings))
    reconcilers = {controller.kind.kind: controller(kube, options) for controller in CONTROLLERS}
    for reconciler in reconcilers.values():
        reconciler.bind(reconcilers)
    op = Operator(options=options, registry=registry, settings=settings, kube=kube, reconcilers=reconcilers)
    op.memo["reconcilers"] = reconcilers

    @kopf.on.login(registry=registry)
    def credentials(**_: Any) -> kopf.ConnectionInfo | None:
        info = login(settings)
        if info is None:
            raise kopf.LoginError("no in-cluster service account and no kubeconfig context")
        return info

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        await kube.close()

    for reconciler in reconcilers.values():
        _register(reconciler, registry, settings, options)
    return op


def _register(
    reconciler: Reconciler, registry: kopf.OperatorRegistry, settings: kopf.OperatorSettings, options: Options
) -> None:
    """The kind's three handlers: its resources' events, its Workflows' events, its probe."""
    kind = reconciler.kind

    def owner_logger(body: Mapping[str, Any]) -> kopf.LocalObjectLogger:
        return kopf.LocalObjectLogger(body=kopf.Body(cast(kopf.RawBody, dict(body))), settings=settings)

    @kopf.on.probe(id=f"{kind.noun}s", registry=registry)
    def by_phase(**_: Any) -> dict[str, int]:
        return reconciler.book.counts()

    @kopf.on.event(kind.group, kind.version, kind.plural, id=f"{kind.noun}_changed", registry=registry)
    async def changed(event: kopf.RawEvent, logger: Any, **_: Any) -> None:
        raw = event["object"]  # read, never changed: no copy of a body that may hold a 256 KiB circuit
        await _retrying(
            f"bring the {kind.noun} and its Workflow up to date",
            lambda: reconciler.object_event(event.get("type"), raw, logger),
            logger,
            backoff=options.backoff,
            give_up_after=None,
        )

    @kopf.on.event(
        ARGO_GROUP,
        ARGO_VERSION,
        WORKFLOWS,
        id=f"{kind.noun}_workflow_changed",
        labels={LABEL_MANAGED_BY: MANAGED_BY, reconciler.names.owner_label: kopf.PRESENT},
        registry=registry,
    )
    async def workflow_changed(event: kopf.RawEvent, logger: Any, **_: Any) -> None:
        workflow = event["object"]
        await _retrying(
            f"copy the Workflow's status to its {kind.noun}",
            lambda: reconciler.workflow_event(event.get("type"), workflow, owner_logger),
            logger,
            backoff=options.backoff,
            give_up_after=options.event_retry_seconds,
        )
