"""What the controller reads of a namespace's backend catalogue, and the semaphore ConfigMap it
keeps there: API calls around ``qiskit_argo.catalogue``.

* ``read_backends``: the namespace's QiskitBackends, each read by the models (one that cannot be
  read is left out with a warning: the schedule step then reports it as not found, never a crash;
  an unreadable ``status`` alone is dropped, the spec still counts).
* ``read_session``: the job's QiskitSession, or None.
* ``write_semaphores``: ConfigMap ``qiskit-argo-semaphores`` (``SEMAPHORE_CONFIGMAP``) holds one
  key per backend with its ``maxConcurrentJobs`` (``catalogue.semaphore_data``), created or
  merge-patched **before** any Workflow that names a key in it is created (Argo fails a
  Workflow whose semaphore ConfigMap key is missing). Keys are only ever added or changed,
  never removed: a Workflow that is still running may hold a deleted backend's semaphore. No
  value is ever below 1 (a limit of 0 would block every job there forever).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from qiskit_argo import catalogue
from qiskit_argo.api import QISKIT_BACKEND, QISKIT_SESSION, QiskitBackend, QiskitSession
from qiskit_argo.naming import LABEL_MANAGED_BY, LABEL_PART_OF, MANAGED_BY
from qiskit_argo.steps import SEMAPHORE_CONFIGMAP
from qiskit_argo_controller.kube import CONFIGMAP, AlreadyExists, Kube
from qiskit_argo_controller.reconcile import Logger

__all__ = ["parse_backend", "parse_session", "read_backends", "read_session", "semaphore_patch", "write_semaphores"]


def _parse(model: type[Any], raw: Mapping[str, Any]) -> Any:
    body = {key: value for key, value in raw.items() if key in ("apiVersion", "kind", "metadata", "spec", "status")}
    try:
        return model.model_validate(body)
    except ValidationError:
        pass
    body.pop("status", None)  # a status this version cannot read: the spec still counts
    try:
        return model.model_validate(body)
    except ValidationError:
        return None


def parse_backend(raw: Mapping[str, Any]) -> QiskitBackend | None:
    """A QiskitBackend as the models read it (an unreadable status dropped), or None."""
    found: QiskitBackend | None = _parse(QiskitBackend, raw)
    return found


def parse_session(raw: Mapping[str, Any]) -> QiskitSession | None:
    """A QiskitSession as the models read it (an unreadable status dropped), or None."""
    found: QiskitSession | None = _parse(QiskitSession, raw)
    return found


async def read_backends(kube: Kube, namespace: str, logger: Logger) -> list[QiskitBackend]:
    """The namespace's QiskitBackends that the models can read."""
    backends: list[QiskitBackend] = []
    for raw in await kube.list_objects(QISKIT_BACKEND, namespace):
        backend = parse_backend(raw)
        if backend is None:
            name = (raw.get("metadata") or {}).get("name")
            logger.warning(f"QiskitBackend {namespace}/{name} cannot be read; it is left out of the catalogue")
            continue
        backends.append(backend)
    return backends


async def read_session(kube: Kube, namespace: str, name: str) -> tuple[bool, QiskitSession | None]:
    """``(exists, session)``: whether the QiskitSession exists, and it as the models read it."""
    raw = await kube.get(QISKIT_SESSION, namespace, name)
    if raw is None:
        return False, None
    return True, parse_session(raw)


def semaphore_patch(current: Mapping[str, Any] | None, wanted: Mapping[str, str]) -> dict[str, str]:
    """The keys of ``wanted`` the ConfigMap's ``data`` lacks or holds differently ({}: nothing to do)."""
    have = current.get("data") if isinstance(current, Mapping) else None
    have = have if isinstance(have, Mapping) else {}
    return {key: value for key, value in wanted.items() if have.get(key) != value}


def _checked(data: Mapping[str, str]) -> dict[str, str]:
    for key, value in data.items():
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"semaphore {key}={value!r}: a limit must be a whole number of at least 1")
    return dict(data)


async def write_semaphores(kube: Kube, namespace: str, backends: Iterable[QiskitBackend], logger: Logger) -> bool:
    """Make ConfigMap ``qiskit-argo-semaphores`` hold every backend's limit; True when it wrote."""
    wanted = _checked(catalogue.semaphore_data(backends))
    current = await kube.get(CONFIGMAP, namespace, SEMAPHORE_CONFIGMAP)
    if current is None:
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": SEMAPHORE_CONFIGMAP,
                "namespace": namespace,
                "labels": {LABEL_MANAGED_BY: MANAGED_BY, LABEL_PART_OF: MANAGED_BY},
            },
            "data": wanted,
        }
        try:
            await kube.create(CONFIGMAP, manifest)
            logger.info(f"Created ConfigMap {SEMAPHORE_CONFIGMAP} with {len(wanted)} semaphores")
            return True
        except AlreadyExists:
            current = await kube.get(CONFIGMAP, namespace, SEMAPHORE_CONFIGMAP)
    patch = semaphore_patch(current, wanted)
    if not patch:
        return False
    await kube.patch(CONFIGMAP, namespace, SEMAPHORE_CONFIGMAP, {"data": patch})
    logger.info(f"Updated ConfigMap {SEMAPHORE_CONFIGMAP}: {', '.join(f'{k}={v}' for k, v in sorted(patch.items()))}")
    return True
