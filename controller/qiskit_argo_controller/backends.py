"""What the controller does for one QiskitBackend: probe it periodically with a Workflow of ours
and copy what the probe found into its status; keep its semaphore in ConfigMap
``qiskit-argo-semaphores``.

The controller never holds an IBM token: the ``ibm-probe`` step (``workflows.probe_workflow``)
is the only pod that gets the backend's Secret key, and its ``probe`` output is all the
controller reads. The meaning is ``status.backend_status_from_probe``; here the API calls around it:

* ``spec.enabled: false`` → Disabled, no probe; ``type: aer`` → Ready, nothing to ask IBM.
* ``type: ibm``: the probe Workflow named in ``status.probeWorkflowName`` is followed (its events
  wake the backend's pass); once it has finished, the next one is created
  ``Options.probe_interval_seconds`` after it (or at once when the spec changed: a new
  ``metadata.generation``). Probe rounds are numbered; a round's Workflow name is deterministic
  (``<backend>-probe-<round>-<hash>``), so a restart adopts the probe it made instead of making a
  second one. Until then a timer brings the pass back.
* every pass makes sure the ConfigMap holds the backend's ``maxConcurrentJobs`` (never 0), so a
  change of the limit reaches Argo without waiting for the next job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from qiskit_argo import workflows
from qiskit_argo.api import QISKIT_BACKEND, BackendConditionType, BackendPhase, QiskitBackend, QiskitBackendStatus
from qiskit_argo.status import TransitionEvent, backend_status_from_probe, workflow_completed
from qiskit_argo_controller import snapshot
from qiskit_argo_controller.kube import AlreadyExists, Invalid, Transient
from qiskit_argo_controller.reconcile import Pass, Reconciler, Status, resource_version

__all__ = ["BackendReconciler", "BackendStatusView", "probe_round"]

_ROUND = re.compile(r"-probe-(\d+)-[0-9a-f]{6}$")


@dataclass(frozen=True)
class BackendStatusView:
    """A QiskitBackendStatus as the shared machinery reads a status: its reason is the Ready
    condition's."""

    model: QiskitBackendStatus

    @property
    def phase(self) -> str:
        return str(self.model.phase)

    @property
    def reason(self) -> str | None:
        found = next((c for c in self.model.conditions if c.type == BackendConditionType.READY.value), None)
        return found.reason if found is not None else None

    @property
    def message(self) -> str | None:
        return self.model.message

    def dump(self) -> dict[str, Any]:
        return self.model.dump()


def probe_round(previous_name: str | None, now_seconds: float, interval: float) -> int:
    """The number of the next probe: the current interval window, and always after the last one."""
    window = int(now_seconds // max(interval, 1.0))
    match = _ROUND.search(previous_name or "")
    return max(window, int(match.group(1)) + 1) if match else window


def _parse_status(raw: Any) -> QiskitBackendStatus | None:
    if not isinstance(raw, Mapping) or not raw:
        return None
    try:
        return QiskitBackendStatus.model_validate(dict(raw))
    except ValidationError:
        return None


class BackendReconciler(Reconciler):
    """QiskitBackends: a probe Workflow now and then, its output copied into status."""

    kind = QISKIT_BACKEND
    owned_status_keys = frozenset((field.alias or name) for name, field in QiskitBackendStatus.model_fields.items())
    phases = tuple(phase.value for phase in BackendPhase)

    def parse_status(self, raw: Any) -> BackendStatusView | None:
        found = _parse_status(raw)
        return BackendStatusView(found) if found is not None else None

    def is_terminal(self, status: Status, generation: int | None) -> bool:
        return False  # a catalogue entry is probed for as long as it exists

    def transition_event(self, status: Status) -> TransitionEvent:
        message = status.message or str(status.phase)
        if str(status.phase) == BackendPhase.NOT_READY.value:
            return TransitionEvent("Warning", str(status.reason or status.phase), message)
        return TransitionEvent("Normal", str(status.phase), message)

    async def once(self, run: Pass) -> None:
        raw, logger = run.raw, run.logger
        backend = snapshot.parse_backend(raw)
        if backend is None:
            logger.warning("The QiskitBackend cannot be read by this controller's models; not probing it")
            return
        await snapshot.write_semaphores(self.kube, run.namespace, [backend], logger)
        now = self.clock()
        if not backend.spec.enabled or backend.spec.type == "aer":
            await self._write(run, backend_status_from_probe(backend, None, now), None)
            return

        previous = backend.status
        current = previous.probe_workflow_name if previous is not None else None
        workflow: dict[str, Any] | None = None
        if current:
            seen = await self.latest_workflow(run.namespace, current, fresh=run.fresh_workflow)
            workflow = seen.body if seen is not None and not seen.deleted else None
        if workflow is not None and not workflow_completed(workflow):
            await self._write(run, backend_status_from_probe(backend, workflow, now), resource_version(workflow))
            return

        status = backend_status_from_probe(backend, workflow, now)
        last = status.last_probe_time
        interval = self.options.probe_interval_seconds
        edited = previous is not None and previous.observed_generation not in (None, backend.metadata.generation)
        waited = (now - last).total_seconds() if last is not None else None
        if current and waited is not None and waited < interval and not edited:
            await self._write(run, status, resource_version(workflow))
            self.requeue(run.key, interval - waited, logger)
            return

        probed = backend.model_copy(update={"status": status})
        created = await self._probe(run, probed, probe_round(current, now.timestamp(), interval))
        if created is None:
            await self._write(run, status, resource_version(workflow))
            self.requeue(run.key, interval, logger)
            return
        await self._write(run, backend_status_from_probe(probed, created, now), resource_version(created))

    async def _probe(self, run: Pass, backend: QiskitBackend, number: int) -> dict[str, Any] | None:
        """Create (or adopt) the probe Workflow of round ``number``; None when it cannot be made."""
        manifest = workflows.probe_workflow(backend, round=number)
        name = str(manifest["metadata"]["name"])
        try:
            created = await self.kube.create_workflow(manifest)
        except AlreadyExists:
            existing = await self.kube.get_workflow(run.namespace, name)
            if existing is None:
                raise Transient(409, "AlreadyExists", f"Workflow {name} exists but cannot be read yet") from None
            created = existing
        except Invalid as error:
            run.logger.error(f"The API server rejected the probe Workflow {name}: {error.message}")
            return None
        else:
            run.logger.info(f"Created probe Workflow {name}")
        seen = self.remember(run.namespace, name, created, deleted=False, keep=True)
        return seen.body

    async def _write(self, run: Pass, status: QiskitBackendStatus, workflow_rv: str | None) -> None:
        await self.write(run, BackendStatusView(status), workflow_rv)
