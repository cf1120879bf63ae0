"""What the controller does for one QiskitJob: its one Workflow exists and follows the job's
``spec.suspend``, and the job's status follows the Workflow.

Every decision about meaning is made by the pure functions of ``qiskit_argo`` (``workflows.build``
for the child, ``status.next_status`` for the status, ``status.suspend_patch``,
``status.workflow_belongs_to``); this module only sequences the API calls around them, through
``kube.Kube``.

One **pass** does everything for a job, whatever woke it (the job changed, its Workflow changed,
the controller started), from the freshest state it can know:

* the job: the event's body when it is newer than anything a pass already handled, else a GET;
* the Workflow: the newest version this process has seen, by ``resourceVersion`` — from the
  Workflow watch, a GET, or the answer to our own create or patch. A queued older Workflow
  event never replaces a newer one, so a late event cannot move the status backwards.

A pass reads the job; an unreadable spec → Failed/InvalidSpec, written once. Otherwise it finds
the Workflow (GET by its deterministic name when none is known; created when it never existed:
409 AlreadyExists → adopted when its ownerReference/label says it is this job's, the job fails
with WorkflowConflict when not; if the status says there was one and it is gone →
WorkflowDeleted). When the Workflow's ``spec.suspend`` differs from the job's, the job is read
again first (the user's latest word), then the Workflow is patched. Then the status is computed,
compared with the stored one, and only the difference is merge-patched, guarded by the job's
``resourceVersion``. A 409 re-reads **both** the job and the Workflow and runs the pass again.

Passes of one job never overlap in this process, and requests that arrive while a pass runs
are covered by one more pass after it (not one each). A job event whose ``resourceVersion`` a
pass already handled (the echo of our own status patch) costs nothing; a Workflow event older
than the Workflow the last pass used costs nothing.

An Event is recorded for every phase transition, once: after the patch that made it, and not
again when the same phase is merely rewritten (a status set to null by someone else is rebuilt
without a second Event).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qiskit_argo import workflows
from qiskit_argo.api import API_VERSION, TERMINAL_PHASES, Phase, QiskitJob, QiskitJobStatus
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
    suspend_patch,
    workflow_belongs_to,
)
from qiskit_argo_controller import metrics
from qiskit_argo_controller.kube import AlreadyExists, Conflict, Invalid, Kube, NotFound, Transient

__all__ = [
    "Reconciler",
    "StatusConflict",
    "status_patch",
    "utc_now",
    "read_job",
    "slim_workflow",
    "newer",
    "OWNED_STATUS_KEYS",
]

#: The status keys the controller owns (the QiskitJobStatus fields); anything else in ``status``
#: was written by someone else and is left alone.
OWNED_STATUS_KEYS: frozenset[str] = frozenset(
    (field.alias or name) for name, field in QiskitJobStatus.model_fields.items()
)

Logger = logging.Logger | logging.LoggerAdapter[Any]
LoggerFor = Callable[[Mapping[str, Any]], Logger]


class StatusConflict(Transient):
    """The job kept changing under us for every retry; the caller retries the pass later."""


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


def _meta(raw: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = raw.get("metadata") if isinstance(raw, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _rv(raw: Mapping[str, Any] | None) -> str | None:
    value = _meta(raw).get("resourceVersion")
    return str(value) if value not in (None, "") else None


def newer(candidate: str | None, known: str | None) -> bool:
    """Whether ``candidate`` is a later ``resourceVersion`` of the same object than ``known``.

    resourceVersions are etcd revisions: integers that grow with every write. Kubernetes asks
    clients to treat them as opaque; should one ever not be an integer, any *different* version
    counts as newer (the object changed), never an equal one.
    """
    if candidate is None:
        return False
    if known is None:
        return True
    try:
        return int(candidate) > int(known)
    except ValueError:
        return candidate != known


def read_job(raw: Mapping[str, Any]) -> QiskitJob:
    """The job as the models read it (status leniently); ``ValueError`` with one line if it cannot be read."""
    try:
        job = parse_job(dict(raw), source="")
    except InvalidJobError as error:
        raise ValueError(str(error)) from None
    job.status = parse_status(raw.get("status"))
    return job


def slim_workflow(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """What the controller keeps of a Workflow between passes: identity, ``spec.suspend`` and status.

    A job's Workflow carries the whole job (a circuit of up to 256 KiB) in its spec; none of that
    is needed to follow it.
    """
    meta = _meta(workflow)
    slim: dict[str, Any] = {
        "apiVersion": workflow.get("apiVersion"),
        "kind": workflow.get("kind"),
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "labels", "ownerReferences")
            if key in meta
        },
        "spec": {},
    }
    spec = workflow.get("spec")
    if isinstance(spec, Mapping) and "suspend" in spec:
        slim["spec"]["suspend"] = spec["suspend"]
    if "status" in workflow:
        slim["status"] = workflow["status"]
    return slim


@dataclass
class _Seen:
    """The newest version of one Workflow this process has seen."""

    rv: str | None
    #: The slim Workflow (``slim_workflow``), or None when its job needs it no more (finished).
    body: dict[str, Any] | None
    deleted: bool = False


@dataclass
class _JobState:
    """What this process knows about one job between passes."""

    uid: str | None
    #: The job's resourceVersion a pass last completed on (its own status patch's answer included).
    handled_rv: str | None = None
    #: The resourceVersion of the Workflow that pass used.
    workflow_rv: str | None = None
    #: The status that pass left is final for the job's generation: Workflow events change nothing.
    terminal: bool = False
    #: (phase, reason) of the last phase-transition Event this process recorded for the job.
    announced: tuple[str, str | None] | None = None
    #: Sync requests made, and the requests covered by the last completed pass.
    requested: int = 0
    synced: int = 0
    #: The newest job body an event brought that no pass has taken yet.
    hint: Mapping[str, Any] | None = None


class _Retry(Exception):
    """Run the pass again from fresh reads (a 409, or the job changed before a Workflow patch)."""

    def __init__(self, conflict: bool, job: Mapping[str, Any] | None = None) -> None:
        super().__init__("retry")
        self.conflict = conflict
        self.job = job


class Reconciler:
    """The controller's behaviour, independent of kopf: give it events, it makes the API calls."""

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
        self._jobs: dict[tuple[str, str], _JobState] = {}
        self._workflows: dict[tuple[str, str], _Seen] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    # -- what woke us ------------------------------------------------------------------------

    async def job_event(self, event_type: str | None, raw: Mapping[str, Any], logger: Logger) -> None:
        """The job was listed, created, changed or deleted."""
        meta = _meta(raw)
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        key = (namespace, name)
        if event_type == "DELETED":
            self.job_deleted(raw)
            return
        if meta.get("deletionTimestamp"):
            return  # going away: the garbage collector takes its Workflow
        state = self._state(key, meta.get("uid"))
        if state.handled_rv is not None and not newer(_rv(raw), state.handled_rv):
            return  # a version a pass already handled (e.g. the echo of our own status patch)
        await self._sync(key, raw, logger)

    async def workflow_event(self, event_type: str | None, workflow: Mapping[str, Any], logger_for: LoggerFor) -> None:
        """A Workflow labelled as ours was listed, changed or deleted."""
        meta = _meta(workflow)
        found = meta.get("labels")
        labels: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        namespace, job_name, wf_name = meta.get("namespace"), labels.get(LABEL_JOB), meta.get("name")
        if not isinstance(namespace, str) or not isinstance(job_name, str) or not isinstance(wf_name, str):
            return
        key = (namespace, job_name)
        state = self._jobs.get(key)
        deleted = event_type == "DELETED"
        if state is None:
            # Its job has not been seen (yet): the job's own event finds this Workflow here. A
            # deleted Workflow of an unknown job needs no memory.
            if deleted:
                self._workflows.pop((namespace, wf_name), None)
            else:
                self._remember(namespace, wf_name, workflow, deleted=False, keep=True)
            return
        if labels.get(LABEL_JOB_UID) not in (None, state.uid):
            return  # a Workflow of an earlier job with the same name
        self._remember(namespace, wf_name, workflow, deleted=deleted, keep=not state.terminal)
        if state.terminal:
            return  # the job is finished for its generation: nothing a Workflow does changes that
        if not deleted and not newer(_rv(workflow), state.workflow_rv):
            return  # the last pass already used this version (or a newer one)
        if deleted:
            logger_for(self._stub(key, state)).info(f"Workflow {wf_name} was deleted")
        await self._sync(key, None, logger_for(self._stub(key, state)))

    def job_deleted(self, raw: Mapping[str, Any]) -> None:
        meta = _meta(raw)
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        self._jobs.pop((namespace, name), None)
        self._locks.pop((namespace, name), None)
        uid = meta.get("uid")
        self._workflows.pop((namespace, workflow_name(name, uid if isinstance(uid, str) else None, namespace)), None)
        self.book.forget(namespace, name)

    # -- bookkeeping -------------------------------------------------------------------------

    def _state(self, key: tuple[str, str], uid: Any) -> _JobState:
        uid = uid if isinstance(uid, str) else None
        state = self._jobs.get(key)
        if state is None or (uid is not None and state.uid not in (None, uid)):
            state = _JobState(uid=uid)  # first sight, or a new job with an old job's name
            self._jobs[key] = state
        elif state.uid is None:
            state.uid = uid
        return state

    @staticmethod
    def _stub(key: tuple[str, str], state: _JobState) -> dict[str, Any]:
        """Enough of a job for a logger (kopf's object identity in every log line)."""
        return {
            "apiVersion": API_VERSION,
            "kind": "QiskitJob",
            "metadata": {"namespace": key[0], "name": key[1], "uid": state.uid},
        }

    def _remember(self, namespace: str, name: str, workflow: Mapping[str, Any], *, deleted: bool, keep: bool) -> _Seen:
        """Keep the newest version of a Workflow: an older one never replaces a newer one."""
        key = (namespace, name)
        seen = self._workflows.get(key)
        rv = _rv(workflow)
        if seen is not None and not (newer(rv, seen.rv) or (deleted and not seen.deleted and rv == seen.rv)):
            if seen.body is None and keep and workflow is not None and rv == seen.rv and not seen.deleted:
                seen.body = slim_workflow(workflow)  # the same version again, wanted again
            return seen
        seen = _Seen(rv=rv, body=slim_workflow(workflow) if workflow is not None and keep else None, deleted=deleted)
        self._workflows[key] = seen
        return seen

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    # -- one pass ----------------------------------------------------------------------------

    async def _sync(self, key: tuple[str, str], hint: Mapping[str, Any] | None, logger: Logger) -> None:
        """Run a pass for the job unless one that started after this request already finished.

        Requests that wait while a pass runs are covered together by the next pass, which takes
        the newest job body any of them brought.
        """
        state = self._jobs[key]
        if hint is not None and (state.hint is None or newer(_rv(hint), _rv(state.hint))):
            state.hint = hint
        state.requested += 1
        ticket = state.requested
        async with self._lock(key):
            if self._jobs.get(key) is not state or state.synced >= ticket:
                return  # the job is gone, or a later pass covered this request
            covered = state.requested
            raw, state.hint = state.hint, None
            with metrics.timed("job" if hint is not None else "workflow"):
                await self._pass(key, state, raw, logger)
            state.synced = covered

    async def _pass(
        self, key: tuple[str, str], state: _JobState, hint: Mapping[str, Any] | None, logger: Logger
    ) -> None:
        namespace, name = key
        raw: Mapping[str, Any] | None = hint
        if raw is not None and state.handled_rv is not None and not newer(_rv(raw), state.handled_rv):
            raw = None  # a pass meanwhile handled this version or a newer one: read the newest
        fresh_workflow = False
        for attempt in range(self.conflict_retries):
            if raw is None:
                raw = await self.kube.get_job(namespace, name)
            if raw is None or _meta(raw).get("deletionTimestamp"):
                return
            if _meta(raw).get("uid") not in (None, state.uid):
                return  # replaced by a new job of the same name: its own event runs its passes
            try:
                await self._once(key, state, raw, logger, fresh_workflow=fresh_workflow)
                return
            except _Retry as again:
                raw, fresh_workflow = again.job, True
                if again.conflict:
                    metrics.CONFLICTS.inc()
                    logger.debug(f"Status conflict (attempt {attempt + 1}); reading the job and its Workflow again")
                    await asyncio.sleep(random.uniform(0, 0.05 * (attempt + 1)))
        raise StatusConflict(409, "Conflict", f"status of {namespace}/{name} kept changing; retrying later")

    async def _once(
        self,
        key: tuple[str, str],
        state: _JobState,
        raw: Mapping[str, Any],
        logger: Logger,
        *,
        fresh_workflow: bool,
    ) -> None:
        try:
            job = read_job(raw)
        except ValueError as error:
            logger.warning(f"Invalid spec, not retrying until the job changes: {error}")
            new = invalid_spec_status(
                parse_status(raw.get("status")),
                generation=_meta(raw).get("generation"),
                message=str(error),
                now=self.clock(),
            )
            await self._write(key, state, raw, new, None, logger)
            return

        previous = job.status
        reopened = (
            previous is not None
            and previous.reason == REASON_INVALID_SPEC
            and previous.observed_generation != job.metadata.generation
        )
        if previous is not None and previous.phase in TERMINAL_PHASES and not reopened:
            # Finished: nothing to create or follow; at most observedGeneration moves.
            await self._write(key, state, raw, next_status(job, None, self.clock()), None, logger)
            return

        workflow, missing, failure = await self._ensure_workflow(raw, job, previous, logger, fresh=fresh_workflow)
        if workflow is not None and not missing and failure is None:
            patch = suspend_patch(job, workflow)
            if patch is not None:
                latest = await self.kube.get_job(job.namespace, job.name)
                if latest is None:
                    return
                if _rv(latest) != _rv(raw):
                    raise _Retry(conflict=False, job=latest)  # the user spoke again: act on the latest word
                wf_name = str(_meta(workflow).get("name"))
                try:
                    answer = await self.kube.patch_workflow(job.namespace, wf_name, patch)
                except NotFound:
                    raise _Retry(conflict=False, job=raw) from None  # deleted meanwhile: find out
                seen = self._remember(job.namespace, wf_name, answer, deleted=False, keep=True)
                workflow = seen.body if seen.body is not None else slim_workflow(answer)
                verb = "Suspended" if job.spec.suspend else "Resumed"
                logger.info(f"{verb} Workflow {wf_name}")
                self.kube.event(raw, type="Normal", reason=verb, message=f"{verb} Workflow {wf_name}")
        new = next_status(job, workflow, self.clock(), workflow_missing=missing, failure=failure)
        await self._write(key, state, raw, new, _rv(workflow) if workflow is not None else None, logger)

    async def _workflow_of(self, job: QiskitJob, name: str, *, fresh: bool) -> _Seen | None:
        """The newest known version of the job's Workflow; a GET when none is known (or ``fresh``)."""
        key = (job.namespace, name)
        seen = self._workflows.get(key)
        if seen is not None and seen.body is None and not seen.deleted:
            fresh = True  # we kept only its resourceVersion
        if seen is None or fresh:
            got = await self.kube.get_workflow(job.namespace, name)
            if got is not None:
                seen = self._remember(job.namespace, name, got, deleted=False, keep=True)
            elif seen is not None and not seen.deleted:
                # The API says it is gone before its DELETED event came: it is gone.
                seen = _Seen(rv=seen.rv, body=seen.body, deleted=True)
                self._workflows[key] = seen
        return seen

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
        name = workflow_name(job.name, job.metadata.uid, job.namespace)
        seen = await self._workflow_of(job, name, fresh=fresh)
        if seen is not None and seen.deleted:
            return seen.body, True, None  # it existed and is gone (perhaps after finishing)
        if seen is not None and seen.body is not None:
            if workflow_belongs_to(seen.body, job):
                return seen.body, False, None
            return None, False, self._conflict(name, job, seen.body)
        if previous is not None and previous.workflow_name and previous.reason != REASON_INVALID_SPEC:
            return None, True, None  # it existed (the status says so) and is gone

        manifest = workflows.build(job, limits=self.limits)
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
            seen = self._remember(job.namespace, name, existing, deleted=False, keep=True)
            return seen.body or slim_workflow(existing), False, None
        except Invalid as error:
            metrics.WORKFLOWS_CREATED.labels("rejected").inc()
            message = f"the API server rejected Workflow {name}: {error.message}"
            logger.error(message)
            return None, False, Failure(REASON_WORKFLOW_REJECTED, message)
        metrics.WORKFLOWS_CREATED.labels("created").inc()
        logger.info(f"Created Workflow {name}")
        self.kube.event(raw, type="Normal", reason="WorkflowCreated", message=f"Created Workflow {name}")
        seen = self._remember(job.namespace, name, created, deleted=False, keep=True)
        return seen.body or slim_workflow(created), False, None

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

    # -- writing the status ------------------------------------------------------------------

    async def _write(
        self,
        key: tuple[str, str],
        state: _JobState,
        raw: Mapping[str, Any],
        new: QiskitJobStatus,
        workflow_rv: str | None,
        logger: Logger,
    ) -> None:
        """Merge-patch the difference under the job's resourceVersion; no difference, no request.

        A 409 raises ``_Retry``: the pass runs again from a fresh job and a fresh Workflow.
        """
        namespace, name = key
        stored = raw.get("status") if isinstance(raw.get("status"), Mapping) else None
        patch = status_patch(stored, new.dump())
        phase = str(new.phase)
        self.book.set(namespace, name, phase)
        handled_rv = _rv(raw)
        if patch:
            body = {"metadata": {"resourceVersion": _rv(raw)}, "status": patch}
            try:
                answer = await self.kube.patch_job_status(namespace, name, body)
            except Conflict:
                raise _Retry(conflict=True) from None
            except NotFound:
                return
            metrics.STATUS_PATCHES.inc()
            self._announce(state, raw, parse_status(stored), new, logger)
            handled_rv = _rv(answer) or handled_rv
        elif state.announced is None:
            state.announced = (phase, new.reason)  # what the stored status already says was announced
        state.handled_rv = handled_rv
        state.workflow_rv = workflow_rv
        state.terminal = phase in TERMINAL_PHASES and new.reason != REASON_INVALID_SPEC
        if state.terminal:
            # Finished for this generation: the Workflow's status is needed no more.
            wf = self._workflows.get((namespace, workflow_name(name, state.uid, namespace)))
            if wf is not None:
                wf.body = None

    def _announce(
        self,
        state: _JobState,
        raw: Mapping[str, Any],
        old: QiskitJobStatus | None,
        new: QiskitJobStatus,
        logger: Logger,
    ) -> None:
        """One Event per real transition: not when a status set to null is merely rebuilt."""
        phase = str(new.phase)
        now = (phase, new.reason)
        before = (str(old.phase), old.reason) if old is not None else state.announced
        if before == now:
            return
        state.announced = now
        failed = phase == Phase.FAILED.value
        reason = (new.reason or phase) if failed else phase
        message = new.message or phase
        shown = before[0] if before is not None else "—"
        logger.log(logging.WARNING if failed else logging.INFO, f"Phase {shown} → {phase}: {message}")
        self.kube.event(raw, type="Warning" if failed else "Normal", reason=reason, message=message)
