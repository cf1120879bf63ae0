"""What the controller does for one QiskitJob: its one Workflow exists and follows the job's
``spec.suspend``, and the job's status follows the Workflow.

The shared machinery (events, one pass at a time, the freshest job and Workflow, the status
patch, Events, metrics) is ``reconcile.Reconciler``; this module is what a pass does for a job.
Every decision about meaning is a pure function of ``qiskit_argo``: ``workflows.build`` makes
the Workflow, ``status.next_status`` the status, ``status.is_terminal`` says the job is
finished, ``status.suspend_patch``/``workflow_belongs_to``/``workflow_expected`` answer for the
child; here they are only put in order around API calls.

A pass reads the job; an unreadable spec → Failed/InvalidSpec, written once. A finished job
(``is_terminal``) gets at most its ``observedGeneration`` moved. Otherwise it finds the Workflow
(GET by its deterministic name when none is known; created when it never existed: 409
AlreadyExists → adopted when its ownerReference/label says it is this job's, the job fails with
WorkflowConflict when not; if the status says there was one and it is gone → WorkflowDeleted).
When the Workflow's ``spec.suspend`` differs from the job's, the job is read again first (the
user's latest word), then the Workflow is patched. Then the status is computed and written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from qiskit_argo import workflows
from qiskit_argo.api import QISKIT_JOB, Phase, QiskitJob, QiskitJobStatus
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.manifests import parse_job
from qiskit_argo.reasons import Reason
from qiskit_argo.status import (
    Failure,
    TransitionEvent,
    invalid_spec_status,
    is_terminal,
    next_status,
    parse_status,
    suspend_patch,
    transition_event,
    workflow_belongs_to,
    workflow_expected,
)
from qiskit_argo_controller import metrics
from qiskit_argo_controller.kube import AlreadyExists, Invalid, NotFound, Transient
from qiskit_argo_controller.reconcile import (
    Logger,
    Pass,
    Reconciler,
    Retry,
    Status,
    meta,
    resource_version,
    slim_workflow,
)

__all__ = ["JobReconciler", "OWNED_STATUS_KEYS", "read_job"]

#: The status keys the controller owns (the QiskitJobStatus fields); anything else in ``status``
#: was written by someone else and is left alone.
OWNED_STATUS_KEYS: frozenset[str] = frozenset(
    (field.alias or name) for name, field in QiskitJobStatus.model_fields.items()
)


def read_job(raw: Mapping[str, Any]) -> QiskitJob:
    """The job as the models read it (status leniently); ``ValueError`` with one line if it cannot be read."""
    try:
        job = parse_job(dict(raw), source="")
    except InvalidJobError as error:
        raise ValueError(str(error)) from None
    job.status = parse_status(raw.get("status"))
    return job


class JobReconciler(Reconciler):
    """QiskitJobs: one Workflow each, its status copied back."""

    kind = QISKIT_JOB
    owned_status_keys = OWNED_STATUS_KEYS
    phases = tuple(phase.value for phase in Phase)

    def parse_status(self, raw: Any) -> QiskitJobStatus | None:
        return parse_status(raw)

    def is_terminal(self, status: Status, generation: int | None) -> bool:
        return is_terminal(cast(QiskitJobStatus, status), generation)

    def transition_event(self, status: Status) -> TransitionEvent:
        return transition_event(cast(QiskitJobStatus, status))

    async def once(self, run: Pass) -> None:
        raw, logger = run.raw, run.logger
        try:
            job = read_job(raw)
        except ValueError as error:
            logger.warning(f"Invalid spec, not retrying until the job changes: {error}")
            new = invalid_spec_status(
                parse_status(raw.get("status")),
                generation=meta(raw).get("generation"),
                message=str(error),
                now=self.clock(),
            )
            await self.write(run, new, None)
            return

        previous = job.status
        if is_terminal(previous, job.metadata.generation):
            # Finished: nothing to create or follow; at most observedGeneration moves.
            await self.write(run, next_status(job, None, self.clock()), None)
            return

        workflow, missing, failure = await self._ensure_workflow(raw, job, previous, logger, fresh=run.fresh_workflow)
        if workflow is not None and not missing and failure is None:
            workflow = await self._follow_suspend(raw, job, workflow, logger)
            if workflow is None:
                return  # the job is gone
        new = next_status(job, workflow, self.clock(), workflow_missing=missing, failure=failure)
        await self.write(run, new, resource_version(workflow) if workflow is not None else None)

    async def _follow_suspend(
        self, raw: Mapping[str, Any], job: QiskitJob, workflow: dict[str, Any], logger: Logger
    ) -> dict[str, Any] | None:
        """The Workflow, its ``spec.suspend`` patched to the job's latest word when they differ;
        None when the job is gone."""
        patch = suspend_patch(job, workflow)
        if patch is None:
            return workflow
        latest = await self.kube.get(self.kind, job.namespace, job.name)
        if latest is None:
            return None
        if resource_version(latest) != resource_version(raw):
            raise Retry(conflict=False, job=latest)  # the user spoke again: act on the latest word
        wf_name = str(meta(workflow).get("name"))
        try:
            answer = await self.kube.patch_workflow(job.namespace, wf_name, patch)
        except NotFound:
            raise Retry(conflict=False, job=raw) from None  # deleted meanwhile: find out
        seen = self.remember(job.namespace, wf_name, answer, deleted=False, keep=True)
        verb = Reason.SUSPENDED if job.spec.suspend else Reason.RESUMED
        logger.info(f"{verb} Workflow {wf_name}")
        self.kube.event(raw, type="Normal", reason=verb, message=f"{verb} Workflow {wf_name}")
        return seen.body if seen.body is not None else slim_workflow(answer)

    async def _ensure_workflow(
        self,
        raw: Mapping[str, Any],
        job: QiskitJob,
        previous: QiskitJobStatus | None,
        logger: Logger,
        *,
        fresh: bool,
    ) -> tuple[dict[str, Any] | None, bool, Failure | None]:
        """The job's Workflow, created if it never existed: ``(workflow, missing, failure)``."""
        name = self.names.child_name(job.name, job.metadata.uid, job.namespace)
        seen = await self.latest_workflow(job.namespace, name, fresh=fresh)
        if seen is not None and seen.deleted:
            return seen.body, True, None  # it existed and is gone (perhaps after finishing)
        if seen is not None and seen.body is not None:
            if workflow_belongs_to(seen.body, job):
                return seen.body, False, None
            return None, False, self._conflict(name, job, seen.body)
        if workflow_expected(previous):
            return None, True, None  # it existed (the status says so) and is gone

        manifest = workflows.build(job, limits=self.options.limits)
        try:
            created = await self.kube.create_workflow(manifest)
        except AlreadyExists:
            existing = await self.kube.get_workflow(job.namespace, name)
            if existing is None:
                raise Transient(409, "AlreadyExists", f"Workflow {name} exists but cannot be read yet") from None
            if not workflow_belongs_to(existing, job):
                return None, False, self._conflict(name, job, existing)
            metrics.WORKFLOWS_CREATED.labels("adopted").inc()
            logger.info(f"Adopted the existing Workflow {name}: it belongs to this job")
            seen = self.remember(job.namespace, name, existing, deleted=False, keep=True)
            return seen.body or slim_workflow(existing), False, None
        except Invalid as error:
            metrics.WORKFLOWS_CREATED.labels("rejected").inc()
            message = f"the API server rejected Workflow {name}: {error.message}"
            logger.error(message)
            return None, False, Failure(Reason.WORKFLOW_REJECTED, message)
        metrics.WORKFLOWS_CREATED.labels("created").inc()
        logger.info(f"Created Workflow {name}")
        self.kube.event(raw, type="Normal", reason=Reason.WORKFLOW_CREATED, message=f"Created Workflow {name}")
        seen = self.remember(job.namespace, name, created, deleted=False, keep=True)
        return seen.body or slim_workflow(created), False, None

    @staticmethod
    def _conflict(name: str, job: QiskitJob, workflow: Mapping[str, Any]) -> Failure:
        owners = [
            f"{owner.get('kind')}/{owner.get('name')} (uid {owner.get('uid')})"
            for owner in meta(workflow).get("ownerReferences") or []
            if isinstance(owner, Mapping)
        ]
        metrics.WORKFLOWS_CREATED.labels("conflict").inc()
        return Failure(
            Reason.WORKFLOW_CONFLICT,
            f"Workflow {job.namespace}/{name} already exists and is not this job's "
            f"(uid {job.metadata.uid}; it belongs to {', '.join(owners) or 'no owner'}); "
            "delete that Workflow or give the job another name",
        )
