"""What the controller does for one QiskitSession: open it at IBM with a Workflow of ours, copy the
runtime session id into its status, and close it (or cancel it) with another Workflow when the
QiskitSession is deleted.

The meaning is ``status.session_status``; the Workflows are ``workflows.session_workflow`` (the
``session-open``/``session-close`` steps are the only pods that get the backend's Secret key).

* Its ``backendRef`` must name an enabled ibm QiskitBackend in the namespace; until it does the
  session waits in Pending with BackendNotFound / BackendUnavailable and a message naming the field.
* Before the open Workflow is created the session gets the finalizer
  ``qiskit-argo.io/session-close``: deleting it then creates the close Workflow (cancel instead
  with ``spec.cancelOnDelete``), waits for it at most ``Options.session_close_timeout_seconds``
  from the deletionTimestamp (status Closing, then Closed) and lets go — with a Warning Event
  when the close failed or did not finish (the runtime session then expires at IBM by itself).
  A session that never opened (Failed, or no session id) lets go at once.
* Every change of a session wakes the QiskitJobs waiting for it (``JobReconciler.session_changed``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from qiskit_argo import workflows
from qiskit_argo.api import QISKIT_BACKEND, QISKIT_SESSION, QiskitBackend, QiskitSession, QiskitSessionStatus
from qiskit_argo.api.session import SessionPhase
from qiskit_argo.status import TransitionEvent, parse_time, session_status, workflow_completed, workflow_phase
from qiskit_argo_controller import snapshot
from qiskit_argo_controller.kube import AlreadyExists, Conflict, Invalid, NotFound, Transient
from qiskit_argo_controller.reconcile import Pass, Reconciler, Retry, Status, meta, resource_version

__all__ = ["SessionReconciler", "SessionStatusView", "SESSION_CLOSE_FINALIZER"]

#: Present on a QiskitSession from before it is opened until it is closed at IBM (or that failed).
SESSION_CLOSE_FINALIZER = "qiskit-argo.io/session-close"
_POLL = 5.0


@dataclass(frozen=True)
class SessionStatusView:
    """A QiskitSessionStatus as the shared machinery reads a status."""

    model: QiskitSessionStatus

    @property
    def phase(self) -> str:
        return str(self.model.phase)

    @property
    def reason(self) -> str | None:
        return self.model.reason

    @property
    def message(self) -> str | None:
        return self.model.message

    def dump(self) -> dict[str, Any]:
        return self.model.dump()


class SessionReconciler(Reconciler):
    """QiskitSessions: an open Workflow, the session id in status, a close Workflow on delete."""

    kind = QISKIT_SESSION
    owned_status_keys = frozenset((field.alias or name) for name, field in QiskitSessionStatus.model_fields.items())
    phases = tuple(phase.value for phase in SessionPhase)
    finalizer = SESSION_CLOSE_FINALIZER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._jobs: Any = None

    def bind(self, reconcilers: Mapping[str, Reconciler]) -> None:
        self._jobs = reconcilers.get("QiskitJob")

    def parse_status(self, raw: Any) -> SessionStatusView | None:
        if not isinstance(raw, Mapping) or not raw:
            return None
        try:
            return SessionStatusView(QiskitSessionStatus.model_validate(dict(raw)))
        except ValidationError:
            return None

    def is_terminal(self, status: Status, generation: int | None) -> bool:
        return False  # a deleted session still has its close to follow

    def transition_event(self, status: Status) -> TransitionEvent:
        message = status.message or str(status.phase)
        if str(status.phase) == SessionPhase.FAILED.value or (status.reason or "").endswith("Failed"):
            return TransitionEvent("Warning", str(status.reason or status.phase), message)
        return TransitionEvent("Normal", str(status.phase), message)

    async def once(self, run: Pass) -> None:
        session = snapshot.parse_session(run.raw)
        if session is None:
            run.logger.warning("The QiskitSession cannot be read by this controller's models")
            if meta(run.raw).get("deletionTimestamp"):
                await self._set_finalizer(run, False)
            return
        if meta(run.raw).get("deletionTimestamp"):
            await self._close(run, session)
        else:
            await self._open(run, session)
        if self._jobs is not None:
            await self._jobs.session_changed(run.namespace, run.name, run.logger)

    # -- opening ------------------------------------------------------------------------------

    async def _backend(self, session: QiskitSession) -> tuple[QiskitBackend | None, tuple[str, str] | None]:
        ref = session.spec.backend_ref
        raw = await self.kube.get(QISKIT_BACKEND, session.namespace, ref)
        if raw is None:
            return None, (
                "BackendNotFound",
                f"spec.backendRef: there is no QiskitBackend {ref} in namespace {session.namespace}; create it "
                f"(kubectl get qb -n {session.namespace}) or name another",
            )
        backend = snapshot.parse_backend(raw)
        if backend is None:
            return None, ("BackendUnavailable", f"spec.backendRef: QiskitBackend {ref} cannot be read; fix it")
        if backend.spec.type != "ibm":
            return None, (
                "BackendUnavailable",
                f"spec.backendRef: QiskitBackend {ref} is of type {backend.spec.type}; a session needs an ibm backend",
            )
        if not backend.spec.enabled:
            return None, ("BackendUnavailable", f"spec.backendRef: QiskitBackend {ref} is disabled; enable it")
        return backend, None

    async def _open(self, run: Pass, session: QiskitSession) -> None:
        now = self.clock()
        previous = session.status
        if previous is not None and previous.phase in (SessionPhase.CLOSED, SessionPhase.FAILED):
            run = await self._set_finalizer(run, previous.phase == SessionPhase.CLOSED and bool(previous.session_id))
            await self._write(run, previous, None)
            return
        name = previous.open_workflow_name if previous is not None else None
        workflow = None
        if name:
            seen = await self.latest_workflow(run.namespace, name, fresh=run.fresh_workflow)
            workflow = seen.body if seen is not None and not seen.deleted else None
            if workflow is None:
                # Made once, and gone (Argo's TTL, or by hand): never open a second runtime session.
                await self._write(run, self._open_gone(previous, name), None)
                return
        else:
            backend, problem = await self._backend(session)
            if backend is None:
                self.requeue(run.key, self.options.session_recheck_seconds, run.logger)
                await self._write(run, session_status(session, None, now, problem=problem), None)
                return
            run = await self._set_finalizer(run, True)
            workflow = await self._create(run, workflows.session_workflow(session, backend, "open"))
            if workflow is None:
                return
        status = session_status(session, workflow, now)
        if status.phase == SessionPhase.FAILED:
            run = await self._set_finalizer(run, False)  # nothing was opened at IBM: nothing to close
        await self._write(run, status, resource_version(workflow))

    @staticmethod
    def _open_gone(previous: QiskitSessionStatus | None, name: str) -> QiskitSessionStatus:
        """The status once the open Workflow is gone: an open session stays as it is; one that
        had not opened fails (opening again could make a second runtime session)."""
        status = previous or QiskitSessionStatus()
        if status.phase == SessionPhase.READY:
            return status
        message = f"The open Workflow {name} was deleted before it finished; delete and re-create the QiskitSession"
        return status.model_copy(update={"phase": SessionPhase.FAILED, "reason": "OpenFailed", "message": message})

    # -- closing ------------------------------------------------------------------------------

    async def _close(self, run: Pass, session: QiskitSession) -> None:
        status = session.status
        if status is None or not status.session_id or status.phase == SessionPhase.FAILED:
            await self._set_finalizer(run, False)  # never opened at IBM
            return
        now = self.clock()
        workflow = None
        if status.close_workflow_name:
            seen = await self.latest_workflow(run.namespace, status.close_workflow_name, fresh=run.fresh_workflow)
            workflow = seen.body if seen is not None and not seen.deleted else None
            if workflow is None:
                self._warn(run, "SessionCloseFailed", f"The close Workflow {status.close_workflow_name} is gone")
                await self._set_finalizer(run, False)
                return
        else:
            backend, problem = await self._backend(session)
            if backend is None:
                assert problem is not None
                self._warn(run, "SessionCloseFailed", f"Cannot close session {status.session_id} at IBM: {problem[1]}")
                await self._set_finalizer(run, False)
                return
            workflow = await self._create(run, workflows.session_workflow(session, backend, "close"))
            if workflow is None:
                await self._set_finalizer(run, False)
                return
        new = session_status(session, workflow, now, closing=True)
        await self._write(run, new, resource_version(workflow))
        if workflow_completed(workflow):
            if workflow_phase(workflow) != "Succeeded":
                self._warn(run, "SessionCloseFailed", new.message or "closing the session at IBM failed")
            await self._release(run)
            return
        deleted_at = parse_time(meta(run.raw).get("deletionTimestamp")) or now
        waited = (now - deleted_at).total_seconds()
        bound = self.options.session_close_timeout_seconds
        if waited >= bound:
            self._warn(
                run,
                "SessionCloseFailed",
                f"The close Workflow did not finish within {bound:g}s of the delete; session {status.session_id} "
                "expires at IBM by itself",
            )
            await self._release(run)
            return
        self.requeue(run.key, min(bound - waited, _POLL), run.logger)

    async def _release(self, run: Pass) -> None:
        """The finalizer goes; the GET is needed because the status write moved the resourceVersion."""
        latest = await self.kube.get(self.kind, run.namespace, run.name)
        if latest is not None:
            await self._set_finalizer(dataclasses.replace(run, raw=latest), False)

    # -- helpers -------------------------------------------------------------------------------

    def _warn(self, run: Pass, reason: str, message: str) -> None:
        run.logger.warning(message)
        self.kube.event(run.raw, type="Warning", reason=reason, message=message)

    async def _create(self, run: Pass, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        name = str(manifest["metadata"]["name"])
        try:
            created = await self.kube.create_workflow(manifest)
        except AlreadyExists:
            existing = await self.kube.get_workflow(run.namespace, name)
            if existing is None:
                raise Transient(409, "AlreadyExists", f"Workflow {name} exists but cannot be read yet") from None
            created = existing
        except Invalid as error:
            self._warn(run, "WorkflowRejected", f"The API server rejected Workflow {name}: {error.message}")
            return None
        else:
            run.logger.info(f"Created Workflow {name}")
        return self.remember(run.namespace, name, created, deleted=False, keep=True).body

    async def _set_finalizer(self, run: Pass, present: bool) -> Pass:
        finalizers = list(meta(run.raw).get("finalizers") or [])
        if (SESSION_CLOSE_FINALIZER in finalizers) == present:
            return run
        if present and meta(run.raw).get("deletionTimestamp"):
            return run
        wanted = (
            [*finalizers, SESSION_CLOSE_FINALIZER]
            if present
            else [f for f in finalizers if f != SESSION_CLOSE_FINALIZER]
        )
        try:
            answer = await self.kube.set_finalizers(
                self.kind, run.namespace, run.name, wanted, resource_version(run.raw)
            )
        except Conflict:
            raise Retry(conflict=True) from None
        except NotFound:
            return run
        return dataclasses.replace(run, raw=answer)

    async def _write(self, run: Pass, status: QiskitSessionStatus, workflow_rv: str | None) -> None:
        await self.write(run, SessionStatusView(status), workflow_rv)
