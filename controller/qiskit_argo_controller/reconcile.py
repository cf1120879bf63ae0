"""What the controller does for any kind of ours: events in, one pass at a time per resource, the
status written once per pass. A kind's own module (``jobs.py`` for QiskitJob) subclasses
``Reconciler`` with what one pass does for that kind; everything else is here and shared.

Every decision about meaning is made by the pure functions of ``qiskit_argo`` (for a QiskitJob:
``workflows.build`` for the child, ``status.next_status`` for the status); the kind's module
sequences the API calls around them, through ``kube.Kube``.

One **pass** does everything for a resource, whatever woke it (it changed, its Workflow changed,
the controller started), from the freshest state it can know:

* the resource: the event's body when it is newer than anything a pass already handled, else a GET;
* its Workflow: the newest version this process has seen, by ``resourceVersion`` — from the
  Workflow watch, a GET, or the answer to our own create or patch (``remember``,
  ``latest_workflow``). A queued older Workflow event never replaces a newer one, so a late
  event cannot move the status backwards.

The kind's ``once`` computes the status and hands it to ``write``, which compares it with the
stored one and merge-patches only the difference, guarded by the resource's ``resourceVersion``.
A 409 (or the kind's ``Retry``) re-reads **both** the resource and its Workflow and runs the pass
again.

Passes of one resource never overlap in this process, and requests that arrive while a pass runs
are covered by one more pass after it (not one each). An event whose ``resourceVersion`` a pass
already handled (the echo of our own status patch) costs nothing; a Workflow event older than
the Workflow the last pass used costs nothing; once the status is terminal (the kind's
``is_terminal``), Workflow events cost nothing.

An Event is recorded for every phase transition, once: after the patch that made it, and not
again when the same phase is merely rewritten (a status set to null by someone else is rebuilt
without a second Event).

A kind that must act before its resource goes away names its ``finalizer``: a resource being
deleted (``deletionTimestamp``) that still carries it gets passes like any other (the kind's
``once`` does its duty, bounded, and removes it); one without it is left to the garbage
collector. A pass may ask to run again later (``requeue``: a bounded wait, a periodic probe, a
session that is not open yet): one timer per resource in this process, the earliest wins; a
restart re-lists everything, so nothing is lost with the timers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from qiskit_argo.api import Kind
from qiskit_argo.naming import KindNames, for_kind
from qiskit_argo.status import TransitionEvent
from qiskit_argo_controller import metrics
from qiskit_argo_controller.kube import Conflict, Kube, KubeError, NotFound, Transient
from qiskit_argo_controller.options import Options

__all__ = [
    "Reconciler",
    "Pass",
    "Retry",
    "Status",
    "StatusConflict",
    "Logger",
    "LoggerFor",
    "status_patch",
    "utc_now",
    "slim_workflow",
    "newer",
    "meta",
    "resource_version",
]

Logger = logging.Logger | logging.LoggerAdapter[Any]
LoggerFor = Callable[[Mapping[str, Any]], Logger]


class Status(Protocol):
    """What the shared code reads of a kind's status model."""

    @property
    def phase(self) -> Any: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def message(self) -> str | None: ...

    def dump(self) -> dict[str, Any]: ...


class StatusConflict(Transient):
    """The resource kept changing under us for every retry; the caller retries the pass later."""


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


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any], owned: Iterable[str]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) turning the stored status into ``new``; {} when equal.

    Only the ``owned`` keys are touched (anything else in ``status`` was written by someone else
    and is left alone); lists are replaced whole, removed keys are null.
    """
    old = old if isinstance(old, Mapping) else {}
    patch: dict[str, Any] = {}
    for key in owned:
        if key in new:
            if old.get(key) != new[key]:
                patch[key] = _diff(old.get(key), new[key])
        elif key in old:
            patch[key] = None
    return patch


def meta(raw: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``metadata`` of an object, or {}."""
    found = raw.get("metadata") if isinstance(raw, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def resource_version(raw: Mapping[str, Any] | None) -> str | None:
    value = meta(raw).get("resourceVersion")
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


def slim_workflow(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """What the controller keeps of a Workflow between passes: identity, ``spec.suspend`` and status.

    A job's Workflow carries the whole job (a circuit of up to 256 KiB) in its spec; none of that
    is needed to follow it.
    """
    found = meta(workflow)
    slim: dict[str, Any] = {
        "apiVersion": workflow.get("apiVersion"),
        "kind": workflow.get("kind"),
        "metadata": {
            key: found[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "labels", "ownerReferences")
            if key in found
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
class Seen:
    """The newest version of one Workflow this process has seen."""

    rv: str | None
    #: The slim Workflow (``slim_workflow``), or None when its owner needs it no more (finished).
    body: dict[str, Any] | None
    deleted: bool = False


@dataclass
class _State:
    """What this process knows about one resource between passes."""

    uid: str | None
    #: The resourceVersion a pass last completed on (its own status patch's answer included).
    handled_rv: str | None = None
    #: The resourceVersion of the Workflow that pass used.
    workflow_rv: str | None = None
    #: The status that pass left is final for the generation: Workflow events change nothing.
    terminal: bool = False
    #: (phase, reason) of the last phase-transition Event this process recorded for it.
    announced: tuple[str, str | None] | None = None
    #: Sync requests made, and the requests covered by the last completed pass.
    requested: int = 0
    synced: int = 0
    #: The newest body an event brought that no pass has taken yet.
    hint: Mapping[str, Any] | None = None


class Retry(Exception):
    """Run the pass again from fresh reads (a 409, or the resource changed before a Workflow patch).

    ``job``: the resource's body to start from (None: GET it).
    """

    def __init__(self, conflict: bool, job: Mapping[str, Any] | None = None) -> None:
        super().__init__("retry")
        self.conflict = conflict
        self.job = job


@dataclass(frozen=True)
class Pass:
    """One pass for one resource: which, its body as the pass read it, and where to log."""

    key: tuple[str, str]
    state: _State
    raw: Mapping[str, Any]
    logger: Logger
    #: Read the Workflow again instead of trusting the newest one seen (after a ``Retry``).
    fresh_workflow: bool

    @property
    def namespace(self) -> str:
        return self.key[0]

    @property
    def name(self) -> str:
        return self.key[1]


class Reconciler(ABC):
    """The controller's behaviour for one kind, independent of kopf: give it events, it makes the
    API calls. A kind's module subclasses it, sets ``kind``, ``owned_status_keys`` and ``phases``,
    and implements ``parse_status``, ``is_terminal``, ``transition_event`` and ``once``."""

    #: The kind served: its API path (``Kube.path``) and its children's labels (``naming.for_kind``).
    kind: ClassVar[Kind]
    #: The status keys the controller owns (the status model's fields, wire names).
    owned_status_keys: ClassVar[frozenset[str]]
    #: Every phase, for the ``qiskit_argo_<noun>s{phase}`` gauge.
    phases: ClassVar[tuple[str, ...]]
    #: The finalizer this kind puts on its resources while it has a duty before they go (None: none).
    finalizer: ClassVar[str | None] = None
    #: How long after a failed timer pass (an API error) it is tried again, in seconds.
    retry_timer_seconds: ClassVar[float] = 30.0

    def __init__(
        self,
        kube: Kube,
        options: Options | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        book: metrics.PhaseBook | None = None,
        conflict_retries: int = 8,
    ) -> None:
        self.kube = kube
        self.options = options or Options()
        self.clock = clock
        self.names: KindNames = for_kind(self.kind)
        self.book = book or metrics.PhaseBook(
            self.phases, metric=f"qiskit_argo_{self.kind.noun}s", what=f"{self.kind.kind}s"
        )
        self.conflict_retries = conflict_retries
        self._objects: dict[tuple[str, str], _State] = {}
        self._workflows: dict[tuple[str, str], Seen] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._fired: set[asyncio.Task[None]] = set()

    # -- what a kind says ----------------------------------------------------------------------

    @abstractmethod
    def parse_status(self, raw: Any) -> Status | None:
        """The stored status, read leniently (None: none, or nothing readable)."""

    @abstractmethod
    def is_terminal(self, status: Status, generation: int | None) -> bool:
        """Whether the status is final for the resource's generation (Workflow events change nothing)."""

    @abstractmethod
    def transition_event(self, status: Status) -> TransitionEvent:
        """The Event that announces a new phase."""

    @abstractmethod
    async def once(self, run: Pass) -> None:
        """One pass: read ``run.raw``, make the API calls its Workflow needs, ``write`` its status.
        Raise ``Retry`` to run the pass again from fresh reads."""

    def bind(self, reconcilers: Mapping[str, Reconciler]) -> None:
        """Meet the other kinds' reconcilers (by kind name), e.g. to wake the jobs of a session;
        most kinds need none."""
        return None

    def children(self, namespace: str, name: str, uid: str | None) -> tuple[str, ...]:
        """The Workflow names a resource may have (forgotten with it)."""
        return (self.names.child_name(name, uid, namespace),)

    # -- what woke us ------------------------------------------------------------------------

    async def object_event(self, event_type: str | None, raw: Mapping[str, Any], logger: Logger) -> None:
        """The resource was listed, created, changed or deleted."""
        found = meta(raw)
        namespace, name = str(found.get("namespace")), str(found.get("name"))
        key = (namespace, name)
        if event_type == "DELETED":
            self.object_deleted(raw)
            return
        if found.get("deletionTimestamp") and not self.finalizing(raw):
            return  # going away: the garbage collector takes its Workflow
        state = self._state(key, found.get("uid"))
        if state.handled_rv is not None and not newer(resource_version(raw), state.handled_rv):
            return  # a version a pass already handled (e.g. the echo of our own status patch)
        await self._sync(key, raw, logger)

    async def workflow_event(self, event_type: str | None, workflow: Mapping[str, Any], logger_for: LoggerFor) -> None:
        """A Workflow labelled as a child of this kind was listed, changed or deleted."""
        found = meta(workflow)
        labels_found = found.get("labels")
        labels: Mapping[str, Any] = labels_found if isinstance(labels_found, Mapping) else {}
        namespace, owner, wf_name = found.get("namespace"), labels.get(self.names.owner_label), found.get("name")
        if not isinstance(namespace, str) or not isinstance(owner, str) or not isinstance(wf_name, str):
            return
        key = (namespace, owner)
        state = self._objects.get(key)
        deleted = event_type == "DELETED"
        if state is None:
            # Its owner has not been seen (yet): the owner's own event finds this Workflow here. A
            # deleted Workflow of an unknown owner needs no memory.
            if deleted:
                self._workflows.pop((namespace, wf_name), None)
            else:
                self.remember(namespace, wf_name, workflow, deleted=False, keep=True)
            return
        if labels.get(self.names.uid_label) not in (None, state.uid):
            return  # a Workflow of an earlier resource with the same name
        self.remember(namespace, wf_name, workflow, deleted=deleted, keep=not state.terminal)
        if state.terminal:
            return  # finished for its generation: nothing a Workflow does changes that
        if not deleted and not newer(resource_version(workflow), state.workflow_rv):
            return  # the last pass already used this version (or a newer one)
        if deleted:
            logger_for(self._stub(key, state)).info(f"Workflow {wf_name} was deleted")
        await self._sync(key, None, logger_for(self._stub(key, state)))

    def object_deleted(self, raw: Mapping[str, Any]) -> None:
        found = meta(raw)
        namespace, name = str(found.get("namespace")), str(found.get("name"))
        self._objects.pop((namespace, name), None)
        self._locks.pop((namespace, name), None)
        timer = self._timers.pop((namespace, name), None)
        if timer is not None:
            timer.cancel()
        uid = found.get("uid")
        for child in self.children(namespace, name, uid if isinstance(uid, str) else None):
            self._workflows.pop((namespace, child), None)
        self.book.forget(namespace, name)

    def finalizing(self, raw: Mapping[str, Any]) -> bool:
        """Whether ``raw`` carries this kind's finalizer (its passes go on while it is deleted)."""
        finalizers = meta(raw).get("finalizers")
        return self.finalizer is not None and isinstance(finalizers, list) and self.finalizer in finalizers

    # -- timers ------------------------------------------------------------------------------

    def requeue(self, key: tuple[str, str], delay: float, logger: Logger) -> None:
        """Run a pass for the resource again in ``delay`` seconds (the earliest request wins)."""
        loop = asyncio.get_running_loop()
        old = self._timers.get(key)
        if old is not None and not old.cancelled() and old.when() <= loop.time() + delay:
            return
        if old is not None:
            old.cancel()

        def fire() -> None:
            task = loop.create_task(self._fire(key, logger))
            self._fired.add(task)
            task.add_done_callback(self._fired.discard)

        self._timers[key] = loop.call_later(max(delay, 0.0), fire)

    def requeued(self, key: tuple[str, str]) -> float | None:
        """Seconds until the resource's timer fires, or None (for tests and logs)."""
        timer = self._timers.get(key)
        if timer is None or timer.cancelled():
            return None
        return max(timer.when() - asyncio.get_running_loop().time(), 0.0)

    async def _fire(self, key: tuple[str, str], logger: Logger) -> None:
        self._timers.pop(key, None)
        if key not in self._objects:
            return
        try:
            await self._sync(key, None, logger)
        except KubeError as error:
            logger.info(f"A timed pass failed ({error}); trying again in {self.retry_timer_seconds:g}s")
            self.requeue(key, self.retry_timer_seconds, logger)

    # -- bookkeeping -------------------------------------------------------------------------

    def _state(self, key: tuple[str, str], uid: Any) -> _State:
        uid = uid if isinstance(uid, str) else None
        state = self._objects.get(key)
        if state is None or (uid is not None and state.uid not in (None, uid)):
            state = _State(uid=uid)  # first sight, or a new resource with an old one's name
            self._objects[key] = state
        elif state.uid is None:
            state.uid = uid
        return state

    def _stub(self, key: tuple[str, str], state: _State) -> dict[str, Any]:
        """Enough of a resource for a logger (kopf's object identity in every log line)."""
        return {
            "apiVersion": self.kind.api_version,
            "kind": self.kind.kind,
            "metadata": {"namespace": key[0], "name": key[1], "uid": state.uid},
        }

    def remember(self, namespace: str, name: str, workflow: Mapping[str, Any], *, deleted: bool, keep: bool) -> Seen:
        """Keep the newest version of a Workflow: an older one never replaces a newer one."""
        key = (namespace, name)
        seen = self._workflows.get(key)
        rv = resource_version(workflow)
        if seen is not None and not (newer(rv, seen.rv) or (deleted and not seen.deleted and rv == seen.rv)):
            if seen.body is None and keep and workflow is not None and rv == seen.rv and not seen.deleted:
                seen.body = slim_workflow(workflow)  # the same version again, wanted again
            return seen
        seen = Seen(rv=rv, body=slim_workflow(workflow) if workflow is not None and keep else None, deleted=deleted)
        self._workflows[key] = seen
        return seen

    async def latest_workflow(self, namespace: str, name: str, *, fresh: bool) -> Seen | None:
        """The newest known version of a Workflow; a GET when none is known (or ``fresh``)."""
        key = (namespace, name)
        seen = self._workflows.get(key)
        if seen is not None and seen.body is None and not seen.deleted:
            fresh = True  # we kept only its resourceVersion
        if seen is None or fresh:
            got = await self.kube.get_workflow(namespace, name)
            if got is not None:
                seen = self.remember(namespace, name, got, deleted=False, keep=True)
            elif seen is not None and not seen.deleted:
                # The API says it is gone before its DELETED event came: it is gone.
                seen = Seen(rv=seen.rv, body=seen.body, deleted=True)
                self._workflows[key] = seen
        return seen

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    # -- one pass ----------------------------------------------------------------------------

    async def _sync(self, key: tuple[str, str], hint: Mapping[str, Any] | None, logger: Logger) -> None:
        """Run a pass for the resource unless one that started after this request already finished.

        Requests that wait while a pass runs are covered together by the next pass, which takes
        the newest body any of them brought.
        """
        state = self._objects[key]
        if hint is not None and (state.hint is None or newer(resource_version(hint), resource_version(state.hint))):
            state.hint = hint
        state.requested += 1
        ticket = state.requested
        async with self._lock(key):
            if self._objects.get(key) is not state or state.synced >= ticket:
                return  # the resource is gone, or a later pass covered this request
            covered = state.requested
            raw, state.hint = state.hint, None
            with metrics.timed(self.kind.noun if hint is not None else "workflow"):
                await self._pass(key, state, raw, logger)
            state.synced = covered

    async def _pass(self, key: tuple[str, str], state: _State, hint: Mapping[str, Any] | None, logger: Logger) -> None:
        namespace, name = key
        raw: Mapping[str, Any] | None = hint
        if raw is not None and state.handled_rv is not None and not newer(resource_version(raw), state.handled_rv):
            raw = None  # a pass meanwhile handled this version or a newer one: read the newest
        fresh_workflow = False
        for attempt in range(self.conflict_retries):
            if raw is None:
                raw = await self.kube.get(self.kind, namespace, name)
            if raw is None or (meta(raw).get("deletionTimestamp") and not self.finalizing(raw)):
                return
            if meta(raw).get("uid") not in (None, state.uid):
                return  # replaced by a new resource of the same name: its own event runs its passes
            try:
                await self.once(Pass(key, state, raw, logger, fresh_workflow))
                return
            except Retry as again:
                raw, fresh_workflow = again.job, True
                if again.conflict:
                    metrics.CONFLICTS.inc()
                    logger.debug(f"Status conflict (attempt {attempt + 1}); reading it and its Workflow again")
                    await asyncio.sleep(random.uniform(0, 0.05 * (attempt + 1)))
        raise StatusConflict(409, "Conflict", f"status of {namespace}/{name} kept changing; retrying later")

    # -- writing the status ------------------------------------------------------------------

    async def write(self, run: Pass, new: Status, workflow_rv: str | None) -> None:
        """Merge-patch the difference under the resource's resourceVersion; no difference, no request.

        A 409 raises ``Retry``: the pass runs again from a fresh resource and a fresh Workflow.
        """
        namespace, name = run.key
        state, raw = run.state, run.raw
        stored = raw.get("status") if isinstance(raw.get("status"), Mapping) else None
        patch = status_patch(stored, new.dump(), self.owned_status_keys)
        phase = str(new.phase)
        self.book.set(namespace, name, phase)
        handled_rv = resource_version(raw)
        if patch:
            body = {"metadata": {"resourceVersion": resource_version(raw)}, "status": patch}
            try:
                answer = await self.kube.patch_status(self.kind, namespace, name, body)
            except Conflict:
                raise Retry(conflict=True) from None
            except NotFound:
                return
            metrics.STATUS_PATCHES.inc()
            self._announce(run, self.parse_status(stored), new)
            handled_rv = resource_version(answer) or handled_rv
        elif state.announced is None:
            state.announced = (phase, new.reason)  # what the stored status already says was announced
        metrics.written(self.book, raw, stored, new, bool(patch))  # counters: once per written change
        state.handled_rv = handled_rv
        state.workflow_rv = workflow_rv
        generation = meta(raw).get("generation")
        state.terminal = self.is_terminal(new, generation if isinstance(generation, int) else None)
        if state.terminal:
            # Finished for this generation: the Workflow's status is needed no more.
            for child in self.children(namespace, name, state.uid):
                seen = self._workflows.get((namespace, child))
                if seen is not None:
                    seen.body = None

    def _announce(self, run: Pass, old: Status | None, new: Status) -> None:
        """One Event per real transition: not when a status set to null is merely rebuilt."""
        state = run.state
        phase = str(new.phase)
        now = (phase, new.reason)
        before = (str(old.phase), old.reason) if old is not None else state.announced
        if before == now:
            return
        state.announced = now
        event = self.transition_event(new)
        shown = before[0] if before is not None else "—"
        warning = event.type == "Warning"
        run.logger.log(logging.WARNING if warning else logging.INFO, f"Phase {shown} → {phase}: {event.message}")
        self.kube.event(run.raw, type=event.type, reason=event.reason, message=event.message)
