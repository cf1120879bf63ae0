"""The strict emulator (``tests.controller.emulator``) with the API-server behaviour the command
line relies on and the controller does not, each as the real kube-apiserver answers:

* **server-side apply** (``PATCH`` with ``application/apply-patch+yaml``): ``fieldManager`` is
  required (400 without); an absent object is created (201); a present one gets the applied
  fields merged over it, and an apply that changes nothing changes nothing (no new
  ``resourceVersion``). Not emulated: ``managedFields`` (a field dropped from the file stays, and
  no field-ownership conflicts are raised).
* **CEL rules** of our CRDs on every update of a QiskitJob, transition rules (``oldSelf``)
  included, answered 422 ``QiskitJob.qiskit-argo.io "<name>" is invalid: <nil>: Invalid value:
  "object": <message>`` as the apiextensions validator words a rule on the root
  (rules evaluated by ``tests.support.schemas.cel_errors``, cel-python).
* **field selectors** on lists: ``involvedObject.uid``/``.name``/``.kind``, ``metadata.name`` and
  ``metadata.namespace`` with ``=``/``==``/``!=``; any other field is 400, as for Events.
* **pods** and their **log** subresource (``GET .../pods/{name}/log?container=``): the text the
  test put in ``logs[(namespace, pod, container)]`` as ``text/plain``; a pod with several
  containers and no ``container`` → 400 ``a container name must be specified for pod X, choose
  one of: [...]``; an unknown container → 400; a missing pod → 404 (``pods "x" not found``).
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import attrs
import kmock
import yaml
from kmock._internal import rendering

from tests.controller.cluster import REPO
from tests.controller.emulator import StrictEmulator, _error, _merge, _object_not_found, declare_cluster
from tests.support.schemas import cel_errors

__all__ = ["CliEmulator", "declare_cli_cluster"]

_APPLY = "application/apply-patch+yaml"
_JOB_CRD = yaml.safe_load((REPO / "crds" / "qiskit-argo.io_qiskitjobs.yaml").read_text())
_FIELDS = {"involvedObject.uid", "involvedObject.name", "involvedObject.kind", "metadata.name", "metadata.namespace"}


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _field_filter(text: str | None) -> list[tuple[str, bool, str]]:
    """``(field, equal, value)`` requirements of a field selector (400 for a field not supported)."""
    requirements = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "!=" in part:
            field, value = part.split("!=", 1)
            equal = False
        else:
            field, value = part.replace("==", "=").split("=", 1)
            equal = True
        field = field.strip()
        if field not in _FIELDS:
            raise _error(
                400, "BadRequest", f'"{field}" is not a known field selector: only "{", ".join(sorted(_FIELDS))}"'
            )
        requirements.append((field, equal, value.strip()))
    return requirements


@attrs.define(kw_only=True)
class CliEmulator(StrictEmulator):
    """See the module docstring. ``logs`` holds each container's log text."""

    logs: dict[tuple[str, str, str], str] = attrs.field(factory=dict)

    # -- server-side apply ---------------------------------------------------------------------

    async def _serve_update(self, request: rendering.Request) -> rendering.Payload:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type != _APPLY:
            return await super()._serve_update(request)
        if not request.params.get("fieldManager"):
            raise _error(
                400,
                "BadRequest",
                "PatchOptions.meta.k8s.io is invalid: fieldManager: Required value: is required for apply patch",
            )
        body = yaml.safe_load(request.text or "null")
        if not isinstance(body, dict):
            raise _error(400, "BadRequest", "the apply patch is not an object")
        if (body.get("metadata") or {}).get("name") != request.name:
            raise _error(400, "BadRequest", "the name of the object does not match the name on the URL")
        if self._stored(request.resource, request.namespace, str(request.name)) is None:
            create = SimpleNamespace(
                resource=request.resource, subresource=None, data=body, namespace=request.namespace
            )
            return await self._serve_create(create)  # type: ignore[arg-type]

        def apply(current: dict[str, Any]) -> dict[str, Any]:
            applied = {k: v for k, v in body.items() if k != "status"}
            return _merge(current, applied)  # type: ignore[no-any-return]

        return await self._write(request, apply)

    # -- CEL on updates of QiskitJobs ------------------------------------------------------------

    async def _write(self, request: rendering.Request, change: Any) -> rendering.Payload:
        resource = request.resource
        if resource is None or resource.plural != "qiskitjobs" or request.subresource is not None:
            return await super()._write(request, change)

        def checked(current: dict[str, Any]) -> dict[str, Any]:
            new: dict[str, Any] = change(copy.deepcopy(current))
            for problem in cel_errors(copy.deepcopy(new), _JOB_CRD, old=copy.deepcopy(current)):
                path, _, message = problem.partition(": ")
                where = "<nil>" if path == "(root)" else path
                raise _error(
                    422,
                    "Invalid",
                    f'QiskitJob.qiskit-argo.io "{request.name}" is invalid: '
                    f'{where}: Invalid value: "object": {message}',
                    {
                        "name": request.name,
                        "group": "qiskit-argo.io",
                        "kind": "QiskitJob",
                        "causes": [{"reason": "FieldValueForbidden", "message": message}],
                    },
                )
            return new

        return await super()._write(request, checked)

    # -- field selectors -------------------------------------------------------------------------

    def _matching(self, request: rendering.Request) -> list[dict[str, Any]]:
        from tests.controller.emulator import Selector

        selector = Selector(request.params.get("labelSelector"))
        fields = _field_filter(request.params.get("fieldSelector"))
        items = []
        for (resource, namespace, _), obj in list(self.objects.items()):
            if resource != request.resource or obj.deleted:
                continue
            if request.namespace is not None and namespace != request.namespace:
                continue
            raw = obj.raw
            if not selector.matches((raw.get("metadata") or {}).get("labels")):
                continue
            if all((_field(raw, field) == value) == equal for field, equal, value in fields):
                items.append(self._decorate(resource, raw))
        return items

    # -- pod logs --------------------------------------------------------------------------------

    async def _serve_fetch(self, request: rendering.Request) -> rendering.Payload:
        if request.subresource != "log":
            return await super()._serve_fetch(request)
        pod = self._stored(request.resource, request.namespace, str(request.name))
        if pod is None:
            raise _object_not_found(request.resource, str(request.name))
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = request.params.get("container")
        if not container:
            if len(names) != 1:
                raise _error(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {request.name}, choose one of: [{' '.join(names)}]",
                )
            container = names[0]
        if container not in names:
            raise _error(400, "BadRequest", f"container {container} is not valid for pod {request.name}")
        text = self.logs.get((str(request.namespace), str(request.name), container), "")
        return rendering.Response(status=200, payload=text.encode(), headers={"Content-Type": "text/plain"})


def declare_cli_cluster(emulator: CliEmulator, **kwargs: Any) -> None:
    """``declare_cluster``, events listable, and pods with their log subresource."""
    declare_cluster(emulator, **kwargs)
    emulator.resources["v1/pods"] = kmock.ResourceInfo(
        kind="Pod", namespaced=True, subresources={"log"}, verbs={"get", "list", "watch", "create", "delete"}
    )
