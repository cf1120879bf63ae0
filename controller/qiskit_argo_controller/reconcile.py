"""What the controller does for one QiskitJob: its one Workflow exists, follows the job, and the
job's status follows the Workflow.

Every decision about meaning is made by the pure functions of ``qiskit_argo`` (``workflows.build``
for the child, ``status.next_status`` for the status, ``status.suspend_patch``,
``status.workflow_belongs_to``); this module only sequences the API calls around them, through
``kube.Kube``:

* ``reconcile_job`` (the job was created or its spec changed, or the controller started):
  read the job; an unreadable spec → Failed/InvalidSpec once, no retries. Otherwise get the
  Workflow by its deterministic name; if absent, create it (409 AlreadyExists → adopt it when
  its ownerReference/label says it is this job's, fail the job with WorkflowConflict when not);
  if the status says we had one and it is gone → Failed/WorkflowDeleted. Make the Workflow's
  ``spec.suspend`` follow the job's. Then write the status.
* ``workflow_event`` (the Workflow changed or was deleted): find the job by label, write the
  status computed from the Workflow as the event carries it.
* Writing the status: compute, compare with what is stored, and merge-patch only the difference,
  guarded by the job's resourceVersion; a 409 re-reads the job and computes again. An Event is
  recorded for every phase transition, once, after the patch that made it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from qiskit_argo import workflows
from qiskit_argo.api import TERMINAL_PHASES, Phase, QiskitJob, QiskitJobStatus
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.manifests import parse_job
from qiskit_argo.naming import LABEL_JOB, LABEL_JOB_UID, workflow_name
from qiskit_argo.request import Limits
from qiskit_argo.status import (
    REASON_INVALID_SPEC,
    REASON_WORKFLOW_CONFLICT,
    REASON_WORKFLOW_REJECTED,
    Failure,
    invalid_spec_status,
    next_status,
    parse_status,
    phase_changed,
    suspend_patch,
    workflow_belongs_to,
)
from qiskit_argo_controller import metrics
from qiskit_argo_controller.kube import AlreadyExists, Conflict, Invalid, Kube, NotFound, Transient

__all__ = ["Reconciler", "StatusConflict", "status_patch", "utc_now", "OWNED_STATUS_KEYS"]

#: The status keys the controller owns (the QiskitJobStatus fields); anything else in ``status``
#: was written by someone else and is left alone.
OWNED_STATUS_KEYS: frozenset[str] = frozenset(
    (field.alias or name) for name, field in QiskitJobStatus.model_fields.items()
)

Logger = logging.Logger | logging.LoggerAdapter[Any]


class StatusConflict(Transient):
    """The job kept changing under us for every retry; kopf retries the handler later."""


def utc_now() -> datetime:
    """Kubernetes timestamps have second precision."""
    return datetime.now(UTC).replace(microsecond=0)


def _diff(old: Any, new: Any) -> Any:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        patch: dict[str, Any] = {}
        for key in set(old) | set(new):
            if key not in new:
                patch[key] = None
            elif old.get(key) != new[key]:
                patch[key] = _diff(old.get(key), new[key])
        return patch
    return new


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) turning the stored status into ``new``; {} when equal.

    Only the keys the controller owns are touched; lists are replaced whole, removed keys are null.
    """
    old = old if isinstance(old, Mapping) else {}
    patch: dict[str, Any] = {}
    for key in OWNED_STATUS_KEYS:
        if key in new:
            if old.get(key) != new[key]:
                patch[key] = _diff(old.get(key), new[key])
        elif key in old:
            patch[key] = None
    return patch


def _meta(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = raw.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def read_job(raw: Mapping[str, Any]) -> QiskitJob:
    """The job as the models read it (status leniently); ``ValueError`` with one line if it cannot be read."""
    try:
        job = parse_job(dict(raw), source="")
    except InvalidJobError as error:
        raise ValueError(str(error)) from None
    job.status = parse_status(raw.get("status"))
    return job


Compute = Callable[[Mapping[str, Any]], QiskitJobStatus | None]


class Reconciler:
    """The controller's behaviour, independent of kopf: give it bodies, it makes the API calls."""

    def __init__(
        self,
        kube: Kube,
        *,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = utc_now,
        book: metrics.PhaseBook | None = None,
        conflict_retries: int = 8,
    ) -> None:
        self.kube = kube
        self.limits = limits
        self.clock = clock
        self.book = book or metrics.PhaseBook()
        self.conflict_retries = conflict_retries
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, namespace: str, name: str) -> asyncio.Lock:
        """One job is worked on by one task at a time in this process (the job's and its Workflow's
        handlers would otherwise race each other into 409s and double Events)."""
        lock = self._locks.get((namespace, name))
        if lock is None:
            lock = asyncio.Lock()
            self._locks[(namespace, name)] = lock
        return lock

    # -- the job changed ---------------------------------------------------------------------

    async def reconcile_job(self, raw: Mapping[str, Any], logger: Logger) -> None:
        meta = _meta(raw)
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        if meta.get("deletionTimestamp"):
            return
        async with self._lock(namespace, name):
            with metrics.timed("job"):
                await self._reconcile_job(raw, logger)

    async def _reconcile_job(self, raw: Mapping[str, Any], logger: Logger) -> None:
        try:
            job = read_job(raw)
        except ValueError as error:
            logger.warning(f"Invalid spec, not retrying until the job changes: {error}")
            message = str(error)
            await self._write_status(
                raw,
                lambda fresh: invalid_spec_status(
                    parse_status(fresh.get("status")),
                    generation=_meta(fresh).get("generation"),
                    message=message,
                    now=self.clock(),
                ),
                logger,
            )
            return

        previous = job.status
        reopened = (
            previous is not None
            and previous.reason == REASON_INVALID_SPEC
            and previous.observed_generation != job.metadata.generation
        )
        if previous is not None and previous.phase in TERMINAL_PHASES and not reopened:
            # Finished: nothing to create or follow; at most observedGeneration moves.
            await self._write_status(raw, self._computer(None, missing=False, failure=None), logger)
            return

        workflow, missing, failure = await self._ensure_workflow(raw, job, previous, logger)
        if workflow is not None and failure is None:
            patch = suspend_patch(job, workflow)
            if patch is not None:
                workflow = await self.kube.patch_workflow(job.namespace, workflow["metadata"]["name"], patch)
                verb = "Suspended" if job.spec.suspend else "Resumed"
                logger.info(f"{verb} Workflow {workflow['metadata']['name']}")
                self.kube.event(
                    raw, type="Normal", reason=verb, message=f"{verb} Workflow {workflow['metadata']['name']}"
                )
        await self._write_status(raw, self._computer(workflow, missing=missing, failure=failure), logger)

    def _computer(self, workflow: Mapping[str, Any] | None, *, missing: bool, failure: Failure | None) -> Compute:
        def compute(fresh: Mapping[str, Any]) -> QiskitJobStatus | None:
            try:
                job = read_job(fresh)
            except ValueError:
                return None  # changed into something unreadable meanwhile: the next event handles it
            return next_status(job, workflow, self.clock(), workflow_missing=missing, failure=failure)

        return compute

    async def _ensure_workflow(
        self, raw: Mapping[str, Any], job: QiskitJob, previous: QiskitJobStatus | None, logger: Logger
    ) -> tuple[dict[str, Any] | None, bool, Failure | None]:
        """The job's Workflow, created if it never existed: ``(workflow, missing, failure)``."""
        name = workflow_name(job.name, job.metadata.uid, job.namespace)
        workflow = await self.kube.get_workflow(job.namespace, name)
        if workflow is not None:
            if workflow_belongs_to(workflow, job):
                return workflow, False, None
            return None, False, self._conflict(name, job, workflow)
        if previous is not None and previous.workflow_name and previous.reason != REASON_INVALID_SPEC:
            return None, True, None  # it existed (the status says so) and is gone

        manifest = workflows.build(job, limits=self.limits)
        try:
            workflow = await self.kube.create_workflow(manifest)
        except AlreadyExists:
            workflow = await self.kube.get_workflow(job.namespace, name)
            if workflow is None:
                raise Transient(409, "AlreadyExists", f"Workflow {name} exists but cannot be read yet") from None
            if not workflow_belongs_to(workflow, job):
                return None, False, self._conflict(name, job, workflow)
            metrics.WORKFLOWS_CREATED.labels("adopted").inc()
            logger.info(f"Adopted the existing Workflow {name}: it belongs to this job")
            return workflow, False, None
        except Invalid as error:
            metrics.WORKFLOWS_CREATED.labels("rejected").inc()
            message = f"the API server rejected Workflow {name}: {error.message}"
            logger.error(message)
            return None, False, Failure(REASON_WORKFLOW_REJECTED, message)
        metrics.WORKFLOWS_CREATED.labels("created").inc()
        logger.info(f"Created Workflow {name}")
        self.kube.event(raw, type="Normal", reason="WorkflowCreated", message=f"Created Workflow {name}")
        return workflow, False, None

    @staticmethod
    def _conflict(name: str, job: QiskitJob, workflow: Mapping[str, Any]) -> Failure:
        owners = [
            f"{owner.get('kind')}/{owner.get('name')} (uid {owner.get('uid')})"
            for owner in _meta(workflow).get("ownerReferences") or []
            if isinstance(owner, Mapping)
        ]
        metrics.WORKFLOWS_CREATED.labels("conflict").inc()
        return Failure(
            REASON_WORKFLOW_CONFLICT,
            f"Workflow {job.namespace}/{name} already exists and is not this job's "
            f"(uid {job.metadata.uid}; it belongs to {', '.join(owners) or 'no owner'}); "
            "delete that Workflow or give the job another name",
        )

    # -- its Workflow changed ----------------------------------------------------------------

    async def workflow_event(self, event_type: str | None, workflow: Mapping[str, Any], logger_for: LoggerFor) -> None:
        meta = _meta(workflow)
        labels = meta.get("labels") or {}
        namespace, job_name = meta.get("namespace"), labels.get(LABEL_JOB)
        if not isinstance(namespace, str) or not isinstance(job_name, str):
            return
        async with self._lock(namespace, job_name):
            with metrics.timed("workflow"):
                raw = await self.kube.get_job(namespace, job_name)
                if raw is None or _meta(raw).get("deletionTimestamp"):
                    return  # the job is gone (and the garbage collector takes its Workflow)
                uid = _meta(raw).get("uid")
                if labels.get(LABEL_JOB_UID) not in (None, uid):
                    return  # a Workflow of an earlier job with the same name
                try:
                    job = read_job(raw)
                except ValueError:
                    return  # the job's own handler reports InvalidSpec
                if not workflow_belongs_to(workflow, job) or meta.get("name") != workflow_name(
                    job.name, job.metadata.uid, job.namespace
                ):
                    return
                deleted = event_type == "DELETED"
                logger = logger_for(raw)
                if deleted:
                    logger.info(f"Workflow {meta.get('name')} was deleted")
                await self._write_status(raw, self._computer(workflow, missing=deleted, failure=None), logger)

    def job_deleted(self, raw: Mapping[str, Any]) -> None:
        meta = _meta(raw)
        self.book.forget(str(meta.get("namespace")), str(meta.get("name")))

    # -- writing the status ------------------------------------------------------------------

    async def _write_status(self, raw: Mapping[str, Any], compute: Compute, logger: Logger) -> None:
        """Compute, compare, merge-patch the difference under the job's resourceVersion; on 409 re-read
        and compute again. No difference, no request."""
        meta = _meta(raw)
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        current: Mapping[str, Any] | None = raw
        for attempt in range(self.conflict_retries):
            if current is None or _meta(current).get("deletionTimestamp"):
                return
            new = compute(current)
            if new is None:
                return
            stored = current.get("status") if isinstance(current.get("status"), Mapping) else {}
            wanted = new.dump()
            patch = status_patch(stored, wanted)
            self.book.set(namespace, name, new.phase if isinstance(new.phase, str) else Phase(new.phase).value)
            if not patch:
                return
            body = {"metadata": {"resourceVersion": _meta(current).get("resourceVersion")}, "status": patch}
            try:
                await self.kube.patch_job_status(namespace, name, body)
            except Conflict:
                metrics.CONFLICTS.inc()
                logger.debug(f"Status conflict (attempt {attempt + 1}); reading the job again")
                await asyncio.sleep(random.uniform(0, 0.05 * (attempt + 1)))
                current = await self.kube.get_job(namespace, name)
                continue
            except NotFound:
                return
            metrics.STATUS_PATCHES.inc()
            self._announce(current, parse_status(stored), new, logger)
            return
        raise StatusConflict(409, "Conflict", f"status of {namespace}/{name} kept changing; retrying later")

    def _announce(
        self, raw: Mapping[str, Any], old: QiskitJobStatus | None, new: QiskitJobStatus, logger: Logger
    ) -> None:
        if not phase_changed(old, new):
            return
        phase = new.phase if isinstance(new.phase, str) else Phase(new.phase).value
        failed = phase == Phase.FAILED.value
        reason = (new.reason or phase) if failed else phase
        message = new.message or phase
        before = old.phase if old is not None else "—"
        logger.log(logging.WARNING if failed else logging.INFO, f"Phase {before} → {phase}: {message}")
        self.kube.event(raw, type="Warning" if failed else "Normal", reason=reason, message=message)


LoggerFor = Callable[[Mapping[str, Any]], Logger]
