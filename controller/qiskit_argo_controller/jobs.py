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

**Before the Workflow is created** the pass reads the namespace's catalogue: with
``spec.sessionRef``, the QiskitSession (missing or not Ready → Pending/SessionNotReady, no
Workflow, checked again when the session changes and every ``Options.session_recheck_seconds``;
Closing/Closed/Failed → Failed/SessionClosed); the QiskitBackends (``catalogue.snapshot``, passed
to ``workflows.build``); and it writes ConfigMap ``qiskit-argo-semaphores`` (``snapshot.
write_semaphores``) before the create, so no Workflow ever names a semaphore that is not there.

**Budgets.** Right before the create, the job's need (``budget.need_for``; None: it can only
run free) is reserved in every QiskitBudget of the namespace that applies, all or none
(``budgets.Ledger``), the finalizer ``qiskit-argo.io/budget`` added first; a refusal fails the
job with BudgetExceeded and no Workflow. The reservation reaches the Workflow
(``workflows.build(reservation=...)``) and ``status.cost``. Once the status is terminal the
reservations are settled with ``budget.charge_for`` (``status.cost.charged``), then the finalizer
goes; a job deleted before it ended is settled first (in full when its IBM job may have run).

**The simulator cache.** When a job is finished, the namespace's Argo memoization ConfigMap
``qiskit-argo-result-cache`` is pruned (``cache.CachePruner``: soon, then on a slow timer).

**IBM cancel.** While its Workflow may reach IBM (``status.needs_finalizer``: the schedule step
chose ibm, or a ref/selector/session could, and the IBM job is not final) the job carries the
finalizer ``qiskit-argo.io/ibm-cancel`` — added before the Workflow is created, removed once
the job finished, the schedule step chose aer, or the IBM job is final. Deleting the job
(``deletionTimestamp``) while its IBM job may be live creates the ``ibm-cancel`` Workflow
(``workflows.cancel_workflow``; Event IbmCancelRequested) and waits for it at most
``Options.cancel_timeout_seconds`` from the deletionTimestamp: then, or as soon as the cancel
Workflow finishes, the finalizer goes (Event IbmCancelFailed when it failed or did not finish:
the IBM job may still run). Suspending a job whose IBM job may be live creates the same cancel
Workflow (Argo's suspend stops no running pod).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, cast

from qiskit_argo import budget, catalogue, workflows
from qiskit_argo.api import (
    QISKIT_BACKEND,
    QISKIT_JOB,
    CostAmount,
    JobCost,
    Phase,
    QiskitJob,
    QiskitJobStatus,
    SecretKeyRef,
)
from qiskit_argo.budget import Need, Refusal
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.ibm.tags import JobIdentity
from qiskit_argo.manifests import parse_job
from qiskit_argo.reasons import Reason
from qiskit_argo.status import (
    CancelTarget,
    Failure,
    TransitionEvent,
    cancel_target,
    ibm_possibly_live,
    invalid_spec_status,
    is_terminal,
    needs_finalizer,
    next_status,
    parse_status,
    parse_time,
    session_gate,
    suspend_patch,
    transition_event,
    workflow_belongs_to,
    workflow_completed,
    workflow_expected,
    workflow_generation,
    workflow_phase,
)
from qiskit_argo.status._argo import get
from qiskit_argo_controller import metrics, snapshot
from qiskit_argo_controller.budgets import BUDGET_FINALIZER, ledger_for
from qiskit_argo_controller.cache import CachePruner
from qiskit_argo_controller.kube import AlreadyExists, Conflict, Invalid, NotFound, Transient
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

__all__ = ["JobReconciler", "OWNED_STATUS_KEYS", "IBM_CANCEL_FINALIZER", "BUDGET_FINALIZER", "read_job", "cost_of"]

#: Present on a job while its IBM job may be live: deleting the job cancels that IBM job first.
IBM_CANCEL_FINALIZER = "qiskit-argo.io/ibm-cancel"
#: How often a deleted job's pass looks at its cancel Workflow again (its events wake it sooner).
_CANCEL_POLL = 5.0

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


def _has(raw: Mapping[str, Any], finalizer: str) -> bool:
    finalizers = meta(raw).get("finalizers")
    return isinstance(finalizers, list) and finalizer in finalizers


def cost_of(need: Need, *, how: str | None = None) -> CostAmount:
    """``need`` as the status shows it (``status.cost.reserved`` / ``charged``)."""
    return CostAmount(
        quantum_seconds=budget.decimal_text(need.quantum_seconds),
        amount=budget.decimal_text(need.amount),
        currency=need.currency,
        how=how if how is not None else need.how,
    )


def _with_cost(status: QiskitJobStatus, **fields: Any) -> QiskitJobStatus:
    cost = status.cost or JobCost()
    return status.model_copy(update={"cost": cost.model_copy(update=fields)})


#: What ``_reserve`` did: nothing needed (None), the need and the budgets holding it, or a refusal.
_Reserved = tuple[Need, list[str]] | Failure | None


class _Outcome:
    """What ``_ensure_workflow`` found: the Workflow, or why there is none."""

    def __init__(
        self,
        workflow: dict[str, Any] | None = None,
        *,
        missing: bool = False,
        failure: Failure | None = None,
        waiting: Failure | None = None,
        raw: Mapping[str, Any] | None = None,
        reserved: tuple[Need, list[str]] | None = None,
    ) -> None:
        self.workflow = workflow
        self.missing = missing
        self.failure = failure
        self.waiting = waiting
        #: What this pass reserved for the job, and in which budgets.
        self.reserved = reserved
        #: The job as the last write of this pass left it (a finalizer added), or None: unchanged.
        self.raw = raw


class JobReconciler(Reconciler):
    """QiskitJobs: one Workflow each, its status copied back."""

    kind = QISKIT_JOB
    owned_status_keys = OWNED_STATUS_KEYS
    phases = tuple(phase.value for phase in Phase)
    finalizer = IBM_CANCEL_FINALIZER
    #: Every finalizer a job may carry: while one is there, a deleted job still gets passes.
    finalizers: tuple[str, ...] = (IBM_CANCEL_FINALIZER, BUDGET_FINALIZER)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (namespace, session) -> jobs waiting for it (SessionNotReady), to wake when it changes.
        self._waiting: dict[tuple[str, str], set[str]] = defaultdict(set)
        #: Jobs (namespace, name, uid) whose cancel Workflow this process created or found while
        #: suspended: not asked for again.
        self._cancels: set[tuple[str, str, str | None]] = set()
        #: The identity each job's IBM job was tagged with (read once from its whole Workflow).
        self._identities: dict[tuple[str, str, str | None], JobIdentity] = {}
        self.ledger = ledger_for(self.kube, self.clock)
        #: Prunes the simulator cache ConfigMap of the namespaces where jobs finish.
        self.cache = CachePruner(self.kube, self.options, clock=self.clock)

    def finalizing(self, raw: Mapping[str, Any]) -> bool:
        return any(_has(raw, finalizer) for finalizer in self.finalizers)

    def object_deleted(self, raw: Mapping[str, Any]) -> None:
        super().object_deleted(raw)
        namespace, name = str(meta(raw).get("namespace")), str(meta(raw).get("name"))
        for memo in [memo for memo in (*self._cancels, *self._identities) if memo[:2] == (namespace, name)]:
            self._cancels.discard(memo)
            self._identities.pop(memo, None)

    async def session_changed(self, namespace: str, session: str, logger: Logger) -> None:
        """A QiskitSession changed: the jobs waiting for it run a pass now."""
        for name in sorted(self._waiting.pop((namespace, session), set())):
            key = (namespace, name)
            if key in self._objects:
                await self._sync(key, None, logger)

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
            if meta(raw).get("deletionTimestamp"):
                # Nothing can be known about an IBM job of an unreadable spec: its reservation is
                # charged in full, and the IBM-cancel finalizer goes.
                run, _ = await self._settle_budgets(run, None, in_full=True)
                await self._release(run)
                return
            logger.warning(f"Invalid spec, not retrying until the job changes: {error}")
            new = invalid_spec_status(
                parse_status(raw.get("status")),
                generation=meta(raw).get("generation"),
                message=str(error),
                now=self.clock(),
            )
            await self.write(run, new, None)
            return

        if meta(raw).get("deletionTimestamp"):
            await self._finalize(run, job)
            return

        previous = job.status
        if is_terminal(previous, job.metadata.generation):
            # Finished: nothing to create or follow; at most observedGeneration moves.
            run = await self._keep_finalizer(run, job, previous)
            new = next_status(job, None, self.clock())
            run, new = await self._settle_if_done(run, job, new)
            await self.write(run, new, None)
            self._finished(run)
            return

        found = await self._ensure_workflow(run, job, previous, fresh=run.fresh_workflow)
        if found.raw is not None:
            run = dataclasses.replace(run, raw=found.raw)
        workflow = found.workflow
        if workflow is not None and not found.missing and found.failure is None:
            workflow = await self._follow_suspend(run.raw, job, workflow, logger)
            if workflow is None:
                return  # the job is gone
            if job.spec.suspend:
                await self._cancel_when_suspended(run, job, previous, workflow)
        new = next_status(
            job,
            workflow,
            self.clock(),
            workflow_missing=found.missing,
            failure=found.failure,
            waiting=found.waiting,
        )
        if found.reserved is not None:
            need, names = found.reserved
            new = _with_cost(new, reserved=cost_of(need), budgets=names)
        if found.waiting is None:
            run = await self._keep_finalizer(run, job, new)
        run, new = await self._settle_if_done(run, job, new)
        await self.write(run, new, resource_version(workflow) if workflow is not None else None)
        self._finished(run)

    def _finished(self, run: Pass) -> None:
        """A finished job may have added entries to the namespace's simulator cache: prune it."""
        if run.state.terminal:
            self.cache.wake(run.key[0])

    # -- budgets: reserve before the Workflow, settle when the job ends -----------------------

    async def _reserve(self, run: Pass, job: QiskitJob, snapshot_: catalogue.Catalogue) -> tuple[Pass, _Reserved]:
        """Reserve the job's need in the budgets that apply (the budget finalizer first): ``(run,
        None)`` when it needs none, ``(run, (need, names))`` when reserved, ``(run, Failure)`` when refused."""
        need = budget.need_for(job, snapshot_)
        if need is None:
            return run, None
        names = await self.ledger.applicable(job.namespace, need, run.logger)
        if not names:
            return run, None
        run = await self._set_finalizer(run, True, BUDGET_FINALIZER)
        outcome = await self.ledger.reserve(job.namespace, str(job.metadata.uid), job.name, need, run.logger)
        if isinstance(outcome, Refusal):
            run.logger.warning(f"Budget exceeded: {outcome.message}")
            return run, Failure(Reason.BUDGET_EXCEEDED, outcome.message)
        return run, ((need, outcome) if outcome else None)

    async def _settle_budgets(self, run: Pass, charge: Need | None, *, in_full: bool = False) -> tuple[Pass, list[str]]:
        """Settle the job's reservations (``charge``; ``in_full``: each reservation as charged),
        then remove the budget finalizer: the job, and the budgets that held a reservation."""
        if not _has(run.raw, BUDGET_FINALIZER):
            return run, []
        uid = str(meta(run.raw).get("uid") or "")
        settled = await self.ledger.settle(run.namespace, uid, None if in_full else charge, run.logger) if uid else []
        return await self._set_finalizer(run, False, BUDGET_FINALIZER), settled

    async def _settle_if_done(self, run: Pass, job: QiskitJob, status: QiskitJobStatus) -> tuple[Pass, QiskitJobStatus]:
        """A finished job's reservations settled with what it used (``budget.charge_for``), shown
        in ``status.cost.charged``; nothing to do for a job that held none."""
        if not is_terminal(status, job.metadata.generation):
            return run, status
        cost = status.cost
        unshown = cost is not None and cost.reserved is not None and cost.charged is None
        if not _has(run.raw, BUDGET_FINALIZER) and not unshown:
            return run, status
        backends = await snapshot.read_backends(self.kube, job.namespace, run.logger)
        charge = budget.charge_for(job.model_copy(update={"status": status}), catalogue.snapshot(backends, None))
        run, settled = await self._settle_budgets(run, charge)
        if unshown or settled:
            status = _with_cost(status, charged=cost_of(charge), budgets=(cost.budgets if cost else []) or settled)
        return run, status

    # -- the IBM-cancel finalizer -----------------------------------------------------------

    async def _set_finalizer(self, run: Pass, present: bool, finalizer: str = IBM_CANCEL_FINALIZER) -> Pass:
        """The job with ``finalizer`` present or absent (a guarded patch when it must change)."""
        finalizers = list(meta(run.raw).get("finalizers") or [])
        if (finalizer in finalizers) == present:
            return run
        wanted = [*finalizers, finalizer] if present else [f for f in finalizers if f != finalizer]
        try:
            answer = await self.kube.set_finalizers(
                self.kind, run.namespace, run.name, wanted, resource_version(run.raw)
            )
        except Conflict:
            raise Retry(conflict=True) from None
        except NotFound:
            return run
        verb = "Added" if present else "Removed"
        run.logger.info(f"{verb} finalizer {finalizer}")
        return dataclasses.replace(run, raw=answer)

    async def _keep_finalizer(self, run: Pass, job: QiskitJob, status: QiskitJobStatus | None) -> Pass:
        """Finalizer present exactly while ``needs_finalizer`` says so (added only once a Workflow
        exists or is about to: see ``_ensure_workflow``)."""
        wanted = needs_finalizer(job, status)
        present = _has(run.raw, IBM_CANCEL_FINALIZER)
        if wanted == present or (wanted and status is None):
            return run
        return await self._set_finalizer(run, wanted)

    async def _release(self, run: Pass) -> None:
        """Let a deleted job go: remove the finalizer (the API server then deletes the job)."""
        await self._set_finalizer(run, False)

    def _credentials(self, where: CancelTarget) -> SecretKeyRef | None:
        if not where.secret or not where.key or where.secret == workflows.NO_CREDENTIALS_SECRET:
            return None
        try:
            return SecretKeyRef(name=where.secret, key=where.key)
        except ValueError:
            return None

    async def _target(self, job: QiskitJob, workflow: Mapping[str, Any] | None) -> CancelTarget | None:
        """Where the job's IBM job runs: the schedule step's outputs, else its chosen QiskitBackend."""
        where = cancel_target(workflow)
        if where is not None:
            return where
        backend_name = job.status.backend.name if job.status and job.status.backend else None
        if not backend_name:
            return None
        raw = await self.kube.get(QISKIT_BACKEND, job.namespace, backend_name)
        backend = snapshot.parse_backend(raw) if raw is not None else None
        if backend is None or backend.spec.type != "ibm":
            return None
        ref = backend.spec.credentials_secret_ref
        return CancelTarget(workflows.target_of(backend), ref.name if ref else None, ref.key if ref else None)

    async def _identity(self, job: QiskitJob, wf_name: str) -> JobIdentity:
        """The identity the IBM job was tagged with: the generation the job's Workflow was made
        for (a suspend since then moved the job's own generation), read from the whole Workflow."""
        memo = (job.namespace, job.name, job.metadata.uid)
        known = self._identities.get(memo)
        if known is not None:
            return known
        full = await self.kube.get_workflow(job.namespace, wf_name)
        generation = workflow_generation(full)
        identity = JobIdentity.of(job)
        if generation is not None:
            identity = dataclasses.replace(identity, generation=generation)
            self._identities[memo] = identity
        return identity

    async def _cancel_workflow(
        self, run: Pass, job: QiskitJob, workflow: Mapping[str, Any] | None, wf_name: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The job's cancel Workflow, created if need be: ``(workflow, problem)``."""
        where = await self._target(job, workflow)
        ibm_id = job.status.ibm.job_id if job.status and job.status.ibm else None
        if where is None:
            return None, (
                "cannot tell where its IBM job runs (no schedule output and no ibm QiskitBackend in status.backend)"
                + (f"; cancel IBM job {ibm_id} at IBM" if ibm_id else "")
            )
        identity = await self._identity(job, wf_name)
        manifest = workflows.cancel_workflow(job, where.target, identity, credentials=self._credentials(where))
        name = str(manifest["metadata"]["name"])
        seen = await self.latest_workflow(job.namespace, name, fresh=False)
        if seen is not None and seen.body is not None and not seen.deleted:
            return seen.body, None
        if seen is not None and seen.deleted:
            return None, f"the cancel Workflow {name} was deleted before it finished"
        try:
            created = await self.kube.create_workflow(manifest)
        except AlreadyExists:
            existing = await self.kube.get_workflow(job.namespace, name)
            if existing is None:
                raise Transient(409, "AlreadyExists", f"Workflow {name} exists but cannot be read yet") from None
            return self.remember(job.namespace, name, existing, deleted=False, keep=True).body, None
        except Invalid as error:
            return None, f"the API server rejected the cancel Workflow {name}: {error.message}"
        device = where.target.get("device") or where.target.get("name") or "IBM"
        message = f"Created Workflow {name} to cancel the IBM job" + (f" {ibm_id}" if ibm_id else "") + f" on {device}"
        run.logger.info(message)
        self.kube.event(run.raw, type="Normal", reason=Reason.IBM_CANCEL_REQUESTED, message=message)
        metrics.ibm_cancel_requested(run.raw)
        return self.remember(job.namespace, name, created, deleted=False, keep=True).body, None

    async def _finalize(self, run: Pass, job: QiskitJob) -> None:
        """The job is being deleted and carries a finalizer: settle its budgets (a job that ended:
        what it used; one whose IBM job may have run: the reservation in full; else nothing), then
        cancel its IBM job, bounded, then let go."""
        wf_name = self.names.child_name(job.name, job.metadata.uid, job.namespace)
        seen = await self.latest_workflow(job.namespace, wf_name, fresh=False)
        workflow = seen.body if seen is not None else None
        live = ibm_possibly_live(job.status, workflow)
        if not live:
            # Before letting go (or charging nothing) for good, make sure with a fresh read: the
            # schedule step may have chosen ibm since the last Workflow event this process saw.
            seen = await self.latest_workflow(job.namespace, wf_name, fresh=True)
            workflow = seen.body if seen is not None else None
            live = ibm_possibly_live(job.status, workflow)
        if _has(run.raw, BUDGET_FINALIZER):
            if job.status is not None and is_terminal(job.status, job.metadata.generation):
                backends = await snapshot.read_backends(self.kube, job.namespace, run.logger)
                run, _ = await self._settle_budgets(run, budget.charge_for(job, catalogue.snapshot(backends, None)))
            elif live or (job.status is not None and job.status.ibm is not None):
                run, _ = await self._settle_budgets(run, None, in_full=True)
            else:
                run, _ = await self._settle_budgets(run, budget.charge_for(job, None))
        if not _has(run.raw, IBM_CANCEL_FINALIZER):
            return
        if not live:
            await self._release(run)
            return
        cancel, problem = await self._cancel_workflow(run, job, workflow, wf_name)
        ibm_id = job.status.ibm.job_id if job.status and job.status.ibm else None
        still = f"; IBM job {ibm_id} may still run: cancel it at IBM" if ibm_id else "; the IBM job may still run"
        if problem is not None:
            self._cancel_failed(run, f"Could not cancel at IBM: {problem}{still}")
            await self._release(run)
            return
        phase = workflow_phase(cancel)
        cancel_name = get(cancel, "metadata", "name")
        if phase == "Succeeded":
            run.logger.info(f"Workflow {cancel_name} cancelled the IBM job; letting the job go")
            await self._release(run)
            return
        if workflow_completed(cancel):
            said = get(cancel, "status", "message") or phase.lower()
            self._cancel_failed(run, f"Workflow {cancel_name} could not cancel the IBM job ({said}){still}")
            await self._release(run)
            return
        deleted_at = parse_time(meta(run.raw).get("deletionTimestamp")) or self.clock()
        waited = (self.clock() - deleted_at).total_seconds()
        bound = self.options.cancel_timeout_seconds
        if waited >= bound:
            self._cancel_failed(run, f"Workflow {cancel_name} did not finish within {bound:g}s of the delete{still}")
            await self._release(run)
            return
        self.requeue(run.key, min(bound - waited, _CANCEL_POLL), run.logger)

    def _cancel_failed(self, run: Pass, message: str) -> None:
        run.logger.warning(message)
        self.kube.event(run.raw, type="Warning", reason=Reason.IBM_CANCEL_FAILED, message=message)

    async def _cancel_when_suspended(
        self, run: Pass, job: QiskitJob, previous: QiskitJobStatus | None, workflow: Mapping[str, Any]
    ) -> None:
        """Suspending stops no running pod: an IBM job that may be live is cancelled at IBM."""
        if not ibm_possibly_live(previous, workflow) or workflow_completed(workflow):
            return
        memo = (job.namespace, job.name, job.metadata.uid)
        if memo in self._cancels:
            return
        wf_name = str(
            get(workflow, "metadata", "name") or self.names.child_name(job.name, job.metadata.uid, job.namespace)
        )
        _, problem = await self._cancel_workflow(run, job, workflow, wf_name)
        self._cancels.add(memo)
        if problem is not None:
            self._cancel_failed(run, f"Could not cancel the IBM job of the suspended job: {problem}")

    # -- the job's Workflow -------------------------------------------------------------------

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
        self, run: Pass, job: QiskitJob, previous: QiskitJobStatus | None, *, fresh: bool
    ) -> _Outcome:
        """The job's Workflow, created if it never existed (see ``_Outcome``): GET by its
        deterministic name when none is known; 409 AlreadyExists → adopted when it is this
        job's, WorkflowConflict when not; gone although the status names it → missing."""
        logger = run.logger
        name = self.names.child_name(job.name, job.metadata.uid, job.namespace)
        seen = await self.latest_workflow(job.namespace, name, fresh=fresh)
        if seen is not None and seen.deleted:
            return _Outcome(seen.body, missing=True)  # it existed and is gone (perhaps after finishing)
        if seen is not None and seen.body is not None:
            if workflow_belongs_to(seen.body, job):
                return _Outcome(seen.body)
            return _Outcome(failure=self._conflict(name, job, seen.body))
        if workflow_expected(previous):
            return _Outcome(missing=True)  # it existed (the status says so) and is gone

        # About to create it: the catalogue first (the session, the backends, the semaphores).
        session = None
        if job.spec.session_ref:
            exists, session = await snapshot.read_session(self.kube, job.namespace, job.spec.session_ref)
            waiting, failure = session_gate(job, session)
            if exists and session is None:
                waiting, failure = (
                    Failure(
                        Reason.SESSION_NOT_READY,
                        f"spec.sessionRef: QiskitSession {job.spec.session_ref} cannot be read by this controller; "
                        "fix it (kubectl describe qs); the job starts once it is Ready",
                    ),
                    None,
                )
            if failure is not None:
                return _Outcome(failure=failure)
            if waiting is not None:
                self._waiting[(job.namespace, job.spec.session_ref)].add(job.name)
                self.requeue(run.key, self.options.session_recheck_seconds, logger)
                return _Outcome(waiting=waiting)
        backends = await snapshot.read_backends(self.kube, job.namespace, logger)
        await snapshot.write_semaphores(self.kube, job.namespace, backends, logger)
        raw = run.raw
        if needs_finalizer(job, previous):
            # Before the Workflow exists: it may reach IBM, and a delete must find the finalizer.
            run = await self._set_finalizer(run, True)
        snapshot_ = catalogue.snapshot(backends, session)
        run, reserved = await self._reserve(run, job, snapshot_)
        changed = run.raw if run.raw is not raw else None
        if isinstance(reserved, Failure):
            return _Outcome(failure=reserved, raw=changed)

        manifest = workflows.build(
            job,
            catalogue=snapshot_,
            reservation=reserved[0] if reserved else None,
            limits=self.options.limits,
        )
        try:
            created = await self.kube.create_workflow(manifest)
        except AlreadyExists:
            existing = await self.kube.get_workflow(job.namespace, name)
            if existing is None:
                raise Transient(409, "AlreadyExists", f"Workflow {name} exists but cannot be read yet") from None
            if not workflow_belongs_to(existing, job):
                return _Outcome(failure=self._conflict(name, job, existing), raw=changed)
            metrics.WORKFLOWS_CREATED.labels("adopted").inc()
            logger.info(f"Adopted the existing Workflow {name}: it belongs to this job")
            seen = self.remember(job.namespace, name, existing, deleted=False, keep=True)
            return _Outcome(seen.body or slim_workflow(existing), raw=changed, reserved=reserved)
        except Invalid as error:
            metrics.WORKFLOWS_CREATED.labels("rejected").inc()
            message = f"the API server rejected Workflow {name}: {error.message}"
            logger.error(message)
            return _Outcome(failure=Failure(Reason.WORKFLOW_REJECTED, message), raw=changed, reserved=reserved)
        metrics.WORKFLOWS_CREATED.labels("created").inc()
        logger.info(f"Created Workflow {name}")
        self.kube.event(run.raw, type="Normal", reason=Reason.WORKFLOW_CREATED, message=f"Created Workflow {name}")
        seen = self.remember(job.namespace, name, created, deleted=False, keep=True)
        return _Outcome(seen.body or slim_workflow(created), raw=changed, reserved=reserved)

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
