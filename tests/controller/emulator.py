"""kmock's KubernetesEmulator (pinned 0.8), made as strict as a real API server where the
controller's correctness depends on it.

kmock 0.8 keeps objects as plain dicts and is lax exactly where an operator can be wrong without
noticing. ``StrictEmulator`` serves every Kubernetes request itself instead:

* create: ``metadata.uid``, ``resourceVersion``, ``generation: 1``, ``creationTimestamp``;
  **201 Created**; 409 ``AlreadyExists`` (with ``details``) for a taken name; 400 for a body
  whose namespace differs from the URL's; ``status`` ignored when the resource has a status
  subresource.
* one global, increasing ``resourceVersion``; every write bumps it.
* ``generation`` bumps on changes outside ``metadata`` and ``status`` (outside ``metadata`` for
  resources without a status subresource, as for Argo Workflows).
* PATCH (merge, strategic-merge treated as merge, JSON patch) and PUT; a ``resourceVersion``
  in the body (or a JSON-patch ``test`` of it) that is not the current one → **409 Conflict**.
* status subresource separation: the main resource ignores ``status``; ``/status`` changes only
  ``status``.
* CRD schemas from ``crds/``: unknown fields are pruned and types checked, as the API server
  does for structural schemas (CEL rules are not evaluated).
* ConfigMaps: ``data`` values must be strings (400) and keys config keys (422), as the API
  server checks them.
* ``metadata.annotations`` of any object: at most 256 KiB in total (keys and values), else **422
  Invalid** (``FieldValueTooLong``), as ``ValidateAnnotationsSize`` in apimachinery answers —
  on create, PATCH and PUT alike.
* lists carry ``kind: <Kind>List``, ``apiVersion`` and the current ``resourceVersion``; items
  carry ``apiVersion``/``kind``.
* label selectors (``=``, ``==``, ``!=``, ``in``, ``notin``, exists, ``!key``) on list and watch.
* watch from a ``resourceVersion`` replays the events after it (410 Gone when too old), honours
  ``timeoutSeconds``; without one it starts with ADDED for what exists.
* DELETE emits DELETED with the final state (deletionTimestamp while finalizers remain; then
  no new finalizer may be added: 422, as ``ValidateObjectMetaUpdate`` answers; removing the last
  one deletes the object).
* RBAC: requests with a token given to ``grant`` may do what its rules allow and get 403
  otherwise (the scenarios give the controller exactly ``controller/rbac.yaml``).
* ``writes``: every write, by whom (the name given to ``grant``), answered or refused, in order,
  so a test can count exactly what the controller wrote.
* ``requests``: every request (reads and watches too), by whom, method and path, in order.

``declare_cluster`` declares what kopf and the controller need: ``v1/namespaces`` (or kopf
starts no watcher), ``v1/events``, ``v1/configmaps``, ``v1/secrets`` (for tests), QiskitJobs, QiskitBackends,
QiskitSessions and QiskitBudgets with their status subresource, Argo Workflows, and kopf's peering resources.
Tests still use kmock's DSL for fault injection: a reaction (``emulator[...] << 409``) wins over
the emulator, as in kmock.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import json
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import jsonpatch
import jsonschema
import kmock
import yaml
from kmock._internal import apps, enums, rendering
from kmock._internal.k8s import KubernetesError

__all__ = [
    "StrictEmulator",
    "declare_cluster",
    "load_crd_schemas",
    "Selector",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "annotations_size",
    "Write",
]

_EVENT_LOG = 50_000


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, reason: str, message: str, details: dict[str, Any] | None = None) -> KubernetesError:
    return KubernetesError(status=status, reason=reason, message=message, details=details or {"causes": []})


def _object_not_found(resource: Any, name: str) -> KubernetesError:
    """The API server's 404 for a missing object: ``qiskitjobs.qiskit-argo.io "bell" not found``."""
    return _error(
        404,
        "NotFound",
        f'{resource.plural}.{resource.group} "{name}" not found',
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


def conflict(message: str = "the object has been modified; please apply your changes") -> KubernetesError:
    """A 409 Conflict as the API server answers a stale resourceVersion (for ``interceptors``)."""
    return _error(409, "Conflict", message)


# --------------------------------------------------------------------------- label selectors

_REQUIREMENT = re.compile(
    r"^\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*$"
)


class Selector:
    """A parsed Kubernetes label selector."""

    def __init__(self, text: str | None) -> None:
        self.requirements: list[tuple[str, str, set[str]]] = []
        for part in _split(text or ""):
            match = _REQUIREMENT.match(part)
            if not match:
                raise _error(400, "BadRequest", f"unable to parse requirement: {part!r}")
            if match.group("absent"):
                self.requirements.append((match.group("absent"), "!", set()))
            elif match.group("setop"):
                values = {v.strip() for v in match.group("values").split(",") if v.strip()}
                self.requirements.append((match.group("key"), match.group("setop"), values))
            elif match.group("op"):
                op = "=" if match.group("op") in ("=", "==") else "!="
                self.requirements.append((match.group("key"), op, {match.group("value")}))
            else:
                self.requirements.append((match.group("key"), "exists", set()))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        for key, op, values in self.requirements:
            present = key in labels
            if op == "=" and (not present or labels[key] not in values):
                return False
            if op == "!=" and present and labels[key] in values:
                return False
            if op == "in" and (not present or labels[key] not in values):
                return False
            if op == "notin" and present and labels[key] in values:
                return False
            if op == "exists" and not present:
                return False
            if op == "!" and present:
                return False
        return True


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return [part for part in parts if part.strip()]


# --------------------------------------------------------------------------- CRD schemas


def load_crd_schemas(*directories: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``(group, version, plural) -> openAPIV3Schema`` for every CRD YAML in the directories."""
    schemas: dict[tuple[str, str, str], dict[str, Any]] = {}
    for directory in directories:
        for path in sorted(directory.glob("*.yaml")):
            for document in yaml.safe_load_all(path.read_text()):
                if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                    continue
                spec = document["spec"]
                for version in spec.get("versions", []):
                    schema = (version.get("schema") or {}).get("openAPIV3Schema")
                    if schema:
                        schemas[(spec["group"], version["name"], spec["names"]["plural"])] = schema
    return schemas


def _prune(value: Any, schema: Mapping[str, Any] | None, top: bool = False) -> Any:
    """Drop fields a structural schema does not know, as the API server does."""
    if not isinstance(schema, Mapping) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            if top and key in ("apiVersion", "kind", "metadata"):
                out[key] = item
            elif properties is not None and key in properties:
                out[key] = _prune(item, properties[key])
            elif isinstance(additional, Mapping):
                out[key] = _prune(item, additional)
            elif additional is True or (properties is None and additional is None):
                out[key] = item
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_prune(item, schema["items"]) for item in value]
    return value


def _plain_schema(schema: Any) -> Any:
    """The schema without Kubernetes extensions, for jsonschema; ``nullable`` honoured."""
    if isinstance(schema, dict):
        out = {k: _plain_schema(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
        if schema.get("x-kubernetes-int-or-string"):
            out.pop("type", None)
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(schema, list):
        return [_plain_schema(item) for item in schema]
    return schema


# --------------------------------------------------------------------------- ObjectMeta

#: The API server's limit on all of an object's annotations together, keys and values, in bytes
#: (``TotalAnnotationSizeLimitB`` in k8s.io/apimachinery/pkg/api/validation/objectmeta.go).
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def annotations_size(annotations: Mapping[str, Any] | None) -> int:
    """Bytes the API server counts for ``metadata.annotations``: every key and value, UTF-8."""
    return sum(len(str(key).encode()) + len(str(value).encode()) for key, value in (annotations or {}).items())


def _check_annotations(kind: str, obj: Mapping[str, Any]) -> None:
    """422 for annotations over 256 KiB in total, as ``ValidateAnnotationsSize`` answers."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    size = annotations_size(meta.get("annotations"))
    if size <= TOTAL_ANNOTATION_SIZE_LIMIT:
        return
    problem = f"Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"
    raise _error(
        422,
        "Invalid",
        f"{kind} {meta.get('name')!r} is invalid: metadata.annotations: {problem}",
        {
            "name": meta.get("name"),
            "kind": kind,
            "causes": [{"reason": "FieldValueTooLong", "message": problem, "field": "metadata.annotations"}],
        },
    )


_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
#: The API server's limit on a ConfigMap's data (keys plus values; ``corev1.MaxSecretSize``).
CONFIGMAP_MAX_BYTES = 1024 * 1024


def _check_configmap(obj: Mapping[str, Any]) -> None:
    """A ConfigMap's ``data`` as the API server takes it: string values (anything else does not
    decode: 400), keys that are config keys (``IsConfigMapKey``: 422), at most 1 MiB (422)."""
    data = obj.get("data") or {}
    name = (obj.get("metadata") or {}).get("name")
    if not isinstance(data, Mapping) or any(not isinstance(value, str) for value in data.values()):
        raise _error(
            400, "BadRequest", 'ConfigMap in version "v1" cannot be handled as a ConfigMap: data values must be strings'
        )
    size = sum(len(key.encode()) + len(value.encode()) for key, value in data.items())
    if size > CONFIGMAP_MAX_BYTES:
        raise _error(
            422,
            "Invalid",
            f'ConfigMap "{name}" is invalid: []: Too long: must have at most {CONFIGMAP_MAX_BYTES} bytes',
        )
    for key in data:
        if len(key) > 253 or not _CONFIG_KEY.match(key):
            raise _error(
                422,
                "Invalid",
                f'ConfigMap "{name}" is invalid: data[{key}]: Invalid value: "{key}": a valid config key must consist '
                "of alphanumeric characters, '-', '_' or '.'",
            )


# --------------------------------------------------------------------------- the emulator


@attrs.frozen
class Write:
    """One write request as the emulator saw it, and the status it was answered with."""

    who: str
    method: str
    #: ``qiskitjobs``, ``qiskitjobs/status``, ``workflows``, ``events``...
    resource: str
    namespace: str | None
    name: str | None
    body: Any
    status: int


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _spec_part(obj: Mapping[str, Any], with_status: bool) -> dict[str, Any]:
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} if with_status else set())
    return {key: value for key, value in obj.items() if key not in skip}


@attrs.define(kw_only=True)
class StrictEmulator(kmock.KubernetesEmulator):
    """See the module docstring. ``schemas`` maps (group, version, plural) to a CRD schema."""

    schemas: dict[tuple[str, str, str], dict[str, Any]] = attrs.field(factory=dict)
    _rv: int = attrs.field(default=1000, init=False)
    _log: dict[Any, list[tuple[int, dict[str, Any]]]] = attrs.field(factory=lambda: defaultdict(list), init=False)
    _changed: asyncio.Condition = attrs.field(factory=asyncio.Condition, init=False)
    _strict_lock: asyncio.Lock = attrs.field(factory=asyncio.Lock, init=False)
    _validators: dict[tuple[str, str, str], Any] = attrs.field(factory=dict, init=False)
    _grants: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict, init=False)
    _builtin: int = attrs.field(default=0, init=False)
    #: (verb, group, resource) of every request the RBAC check refused.
    denied: list[tuple[str, str, str]] = attrs.field(factory=list, init=False)
    #: Every write (POST, PATCH, PUT, DELETE) to a resource, answered or refused, in order.
    writes: list[Write] = attrs.field(factory=list, init=False)
    #: Every request, reads and watches too, in order: (who, method, path with its query).
    requests: list[tuple[str, str, str]] = attrs.field(factory=list, init=False)
    _names: dict[str, str] = attrs.field(factory=dict, init=False)
    #: Fault injection without kmock's reactions (whose matching walks every request seen so far):
    #: each is awaited with every authorized request before it is served; it may wait (a slow
    #: API server) or raise ``conflict()`` and the like (``_error``) to refuse it unapplied.
    interceptors: list[Callable[[rendering.Request], Awaitable[None]]] = attrs.field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.fallback[enums.method.PUT] << self._serve_put
        self._builtin = len(self._payloads)

    def _direct(self, request: rendering.Request) -> Any:
        """The emulator's own answer for a Kubernetes request, or None (discovery, odd verbs)."""
        if request.resource is None or not request.resource.plural:
            return None
        if str(request.method.value).upper() == "PUT" and request.name:
            return self._serve_put
        return {
            enums.action.LIST: self._serve_list,
            enums.action.WATCH: self._serve_watch,
            enums.action.FETCH: self._serve_fetch,
            enums.action.CREATE: self._serve_create,
            enums.action.UPDATE: self._serve_update,
            enums.action.DELETE: self._serve_delete,
        }.get(request.action)  # type: ignore[arg-type]

    # kmock's own _handle tracks writes before any reaction runs (and laxly); ours happen in the
    # fallbacks below, so a reaction injected by a test (e.g. a 409) wins and changes nothing.
    async def _handle(self, request: rendering.Request) -> Any:
        method = str(request.method.value).upper()
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        self.requests.append((self._names.get(token, "anonymous"), method, str(request.url.path_qs)))
        logged = method in ("POST", "PATCH", "PUT", "DELETE") and request.resource is not None
        try:
            response = await self._answer(request)
        except KubernetesError as error:
            if logged:
                self._log_write(request, method, int(error.status or 0))
            raise
        if logged:
            self._log_write(request, method, int(getattr(response, "status", 0) or 0))
        return response

    async def _answer(self, request: rendering.Request) -> Any:
        self._authorize(request)
        for intercept in list(self.interceptors):
            await intercept(request)
        # kmock matches a request against every reaction by walking the requests each reaction
        # has seen (cost grows with traffic); with no reaction added by a test, answer directly.
        if len(self._payloads) == self._builtin:
            serve = self._direct(request)
            if serve is not None:
                return await rendering.Response(payload=serve)(request)
        return await apps.RawHandler._handle(self, request)

    def _log_write(self, request: rendering.Request, method: str, status: int) -> None:
        header = request.headers.get("Authorization") or ""
        token = header.removeprefix("Bearer ").strip()
        plural = request.resource.plural if request.resource is not None else ""
        self.writes.append(
            Write(
                who=self._names.get(token, "anonymous"),
                method=method,
                resource=str(plural) + (f"/{request.subresource}" if request.subresource else ""),
                namespace=request.namespace,
                name=None if request.name is None else str(request.name),
                body=copy.deepcopy(request.data),
                status=status,
            )
        )

    def writes_by(self, who: str, *, refused: bool = False) -> list[Write]:
        """The writes ``who`` made that were answered (or, with ``refused``, that were refused)."""
        return [write for write in self.writes if write.who == who and (write.status >= 400) == refused]

    # -- RBAC for the identities given with grant() --------------------------------------------

    def grant(self, token: str, rules: Iterable[Mapping[str, Any]], *, who: str = "controller") -> None:
        """Requests bearing ``token`` may do what these (Cluster)Role rules allow, and nothing else;
        ``writes`` records them as made by ``who``."""
        self._grants[token] = [dict(rule) for rule in rules]
        self._names[token] = who

    def _authorize(self, request: rendering.Request) -> None:
        header = request.headers.get("Authorization") or ""
        token = header.removeprefix("Bearer ").strip()
        if not token or token not in self._grants or request.resource is None or not request.resource.plural:
            return  # anonymous test traffic, or discovery (allowed to every authenticated user)
        resource = request.resource.plural + (f"/{request.subresource}" if request.subresource else "")
        if request.params.get("watch") in ("true", "1"):
            verb = "watch"
        else:
            verb = {
                "GET": "get" if request.name else "list",
                "POST": "create",
                "PATCH": "patch",
                "PUT": "update",
                "DELETE": "delete" if request.name else "deletecollection",
            }.get(str(request.method.value).upper(), "unknown")
        for rule in self._grants[token]:
            if (
                request.resource.group in rule.get("apiGroups", [])
                and resource in rule.get("resources", [])
                and verb in rule.get("verbs", [])
            ):
                return
        self.denied.append((verb, request.resource.group, resource))
        raise _error(
            403,
            "Forbidden",
            f'{resource} is forbidden: the controller cannot {verb} resource "{resource}" '
            f'in API group "{request.resource.group}"',
        )

    # -- helpers ---------------------------------------------------------------------------

    def _info(self, resource: Any) -> kmock.ResourceInfo:
        for known in self.resources:
            if known == resource:
                return self.resources[known]
        raise _error(404, "NotFound", f"the server could not find the requested resource ({resource})")

    def _has_status(self, resource: Any) -> bool:
        return "status" in self._info(resource).subresources

    def _api_version(self, resource: Any) -> str:
        return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)

    def _kind(self, resource: Any) -> str:
        info = self._info(resource)
        return info.kind or resource.plural.capitalize()

    def _schema(self, resource: Any) -> dict[str, Any] | None:
        return self.schemas.get((resource.group, resource.version, resource.plural))

    def _admit(self, resource: Any, obj: dict[str, Any]) -> dict[str, Any]:
        _check_annotations(self._kind(resource), obj)
        if not resource.group and resource.plural == "configmaps":
            _check_configmap(obj)
        schema = self._schema(resource)
        if schema is None:
            return obj
        obj = _prune(obj, schema, top=True)
        key = (resource.group, resource.version, resource.plural)
        validator = self._validators.get(key)
        if validator is None:
            # ObjectMeta is validated by the API server itself, not by the CRD schema.
            properties = {**schema.get("properties", {}), "metadata": {"type": "object"}}
            # CRD schemas are OpenAPI v3.0: draft-4 semantics (boolean exclusiveMinimum).
            validator = jsonschema.Draft4Validator(_plain_schema({**schema, "properties": properties}))
            self._validators[key] = validator
        try:
            validator.validate(obj)
        except jsonschema.ValidationError as error:
            path = ".".join(str(part) for part in error.absolute_path)
            raise _error(
                422,
                "Invalid",
                f"{self._kind(resource)} {obj['metadata'].get('name')!r} is invalid: {path}: {error.message}",
            ) from None
        return obj

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    async def _emit(self, resource: Any, type_: str, obj: Mapping[str, Any]) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        log = self._log[resource]
        log.append((rv, {"type": type_, "object": copy.deepcopy(dict(obj))}))
        if len(log) > _EVENT_LOG:
            del log[: len(log) - _EVENT_LOG]
        async with self._changed:
            self._changed.notify_all()

    def _stored(self, resource: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = (resource, namespace, name)
        if key not in self.objects:
            return None
        obj = self.objects._objects[key]
        return None if obj.deleted else obj.raw

    def _store(self, resource: Any, namespace: str | None, name: str, obj: dict[str, Any]) -> None:
        key = (resource, namespace, name)
        if key in self.objects:
            self.objects._objects[key].history.append(obj)
        else:
            self.objects._objects[key] = kmock.Object(obj)

    def _decorate(self, resource: Any, obj: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(obj)
        out.setdefault("apiVersion", self._api_version(resource))
        out.setdefault("kind", self._kind(resource))
        return out

    # -- reads -----------------------------------------------------------------------------

    def _matching(self, request: rendering.Request) -> list[dict[str, Any]]:
        selector = Selector(request.params.get("labelSelector"))
        if request.params.get("fieldSelector"):
            raise _error(400, "BadRequest", "field selectors are not emulated")
        items = []
        for (resource, namespace, _), obj in list(self.objects.items()):
            if resource != request.resource or obj.deleted:
                continue
            if request.namespace is not None and namespace != request.namespace:
                continue
            raw = obj.raw
            if selector.matches((raw.get("metadata") or {}).get("labels")):
                items.append(self._decorate(resource, raw))
        return items

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        self._info(request.resource)
        return {
            "apiVersion": self._api_version(request.resource),
            "kind": f"{self._kind(request.resource)}List",
            "metadata": {"resourceVersion": str(self._rv)},
            "items": self._matching(request),
        }

    async def _serve_fetch(self, request: rendering.Request) -> rendering.Payload:
        self._info(request.resource)
        obj = self._stored(request.resource, request.namespace, str(request.name))
        if obj is None:
            raise _object_not_found(request.resource, str(request.name))
        return self._decorate(request.resource, obj)

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        self._info(request.resource)
        selector = Selector(request.params.get("labelSelector"))
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        since = request.params.get("resourceVersion") or ""
        yield b""  # headers out: the stream is open even if nothing happens
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None

        def wanted(event: Mapping[str, Any]) -> bool:
            meta = event["object"].get("metadata") or {}
            if request.namespace is not None and meta.get("namespace") != request.namespace:
                return False
            return selector.matches(meta.get("labels"))

        log = self._log[request.resource]
        if since in ("", "0"):
            for item in self._matching(request):
                yield {"type": "ADDED", "object": item}
            position = self._rv
        else:
            position = int(since)
            if log and position < log[0][0] - 1 and position < self._rv:
                yield {
                    "type": "ERROR",
                    "object": {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "code": 410,
                        "reason": "Expired",
                        "message": f"too old resource version: {position}",
                    },
                }
                return
        while True:
            # The log is ordered by resourceVersion: start right after what was sent already.
            start = bisect.bisect_right(log, position, key=lambda entry: entry[0])
            for rv, event in log[start:]:
                position = rv
                if wanted(event):
                    yield {"type": event["type"], "object": self._decorate(request.resource, event["object"])}
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda seen=position: bool(log) and log[-1][0] > seen), remaining
                    )
                except TimeoutError:
                    return

    # -- writes ----------------------------------------------------------------------------

    async def _serve_create(self, request: rendering.Request) -> rendering.Payload:
        resource = request.resource
        self._info(resource)
        if request.subresource:
            raise _error(405, "MethodNotAllowed", "create on a subresource is not emulated")
        body = request.data
        if not isinstance(body, dict):
            raise _error(400, "BadRequest", "the body is not a JSON object")
        meta = dict(body.get("metadata") or {})
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        if not name:
            raise _error(422, "Invalid", "metadata.name: Required value: name or generateName is required")
        if meta.get("namespace") and request.namespace and meta["namespace"] != request.namespace:
            raise _error(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        namespace = request.namespace or meta.get("namespace")
        async with self._strict_lock:
            if self._stored(resource, namespace, name) is not None:
                raise _error(
                    409,
                    "AlreadyExists",
                    f'{resource.plural}.{resource.group} "{name}" already exists',
                    {"name": name, "group": resource.group, "kind": resource.plural},
                )
            obj = copy.deepcopy(body)
            if self._has_status(resource):
                obj.pop("status", None)
            meta.update(
                name=name,
                uid=str(uuid.uuid4()),
                resourceVersion=self._next_rv(),
                generation=1,
                creationTimestamp=_now(),
            )
            if namespace is not None:
                meta["namespace"] = namespace
            meta.pop("generateName", None) if meta.get("name") else None
            obj["metadata"] = meta
            obj = self._admit(resource, self._decorate(resource, obj))
            self._store(resource, namespace, name, obj)
            await self._emit(resource, "ADDED", obj)
        return rendering.Response(status=201, payload=obj)

    async def _serve_update(self, request: rendering.Request) -> rendering.Payload:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        data = request.data if request.data is not None else json.loads(request.text or "null")

        def change(current: dict[str, Any]) -> dict[str, Any]:
            if content_type == "application/json-patch+json":
                if not isinstance(data, list):
                    raise _error(400, "BadRequest", "a JSON patch must be a list")
                try:
                    return jsonpatch.apply_patch(current, data, in_place=False)  # type: ignore[no-any-return]
                except jsonpatch.JsonPatchTestFailed as error:
                    raise _error(422, "Invalid", f"the test operation failed: {error}") from None
                except jsonpatch.JsonPatchException as error:
                    raise _error(422, "Invalid", str(error)) from None
            if content_type not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                raise _error(415, "UnsupportedMediaType", f"the content type {content_type!r} is not supported")
            if not isinstance(data, dict):
                raise _error(400, "BadRequest", "a merge patch must be a JSON object")
            wanted_rv = (data.get("metadata") or {}).get("resourceVersion")
            if wanted_rv is not None and wanted_rv != current["metadata"]["resourceVersion"]:
                raise self._conflict(request)
            return _merge(current, data)  # type: ignore[no-any-return]

        return await self._write(request, change)

    async def _serve_put(self, request: rendering.Request) -> rendering.Payload:
        if request.resource is None or not request.name:
            raise _error(405, "MethodNotAllowed", "PUT needs a named object")
        data = request.data

        def replace(current: dict[str, Any]) -> dict[str, Any]:
            if not isinstance(data, dict):
                raise _error(400, "BadRequest", "the body is not a JSON object")
            wanted_rv = (data.get("metadata") or {}).get("resourceVersion")
            if not wanted_rv:
                raise _error(
                    422, "Invalid", "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
                )
            if wanted_rv != current["metadata"]["resourceVersion"]:
                raise self._conflict(request)
            return copy.deepcopy(data)

        return await self._write(request, replace)

    def _conflict(self, request: rendering.Request) -> KubernetesError:
        resource = request.resource
        return _error(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {resource.plural}.{resource.group} "{request.name}": the object has '
            "been modified; please apply your changes to the latest version and try again",
            {"name": request.name, "group": resource.group, "kind": resource.plural},
        )

    async def _write(self, request: rendering.Request, change: Any) -> rendering.Payload:
        resource = request.resource
        self._info(resource)
        if request.subresource not in (None, "status"):
            raise _error(404, "NotFound", f"subresource {request.subresource!r} is not emulated")
        async with self._strict_lock:
            current = self._stored(resource, request.namespace, str(request.name))
            if current is None:
                raise _object_not_found(resource, str(request.name))
            current = copy.deepcopy(current)
            changed = change(copy.deepcopy(current))
            with_status = self._has_status(resource)
            if request.subresource == "status":
                if not with_status:
                    raise _error(404, "NotFound", f"{resource.plural} has no status subresource")
                new = dict(current)
                if "status" in changed:
                    new["status"] = changed["status"]
                else:
                    new.pop("status", None)
            else:
                new = dict(changed)
                if with_status:  # the main resource never changes status
                    if "status" in current:
                        new["status"] = current["status"]
                    else:
                        new.pop("status", None)
            meta = dict(new.get("metadata") or {})
            old_meta = current["metadata"]
            for fixed in ("name", "namespace", "uid", "creationTimestamp", "generation", "resourceVersion"):
                if fixed in old_meta:
                    meta[fixed] = old_meta[fixed]
            if request.subresource != "status":
                # metadata changes are not allowed through /status; via the main resource they are
                meta.setdefault("labels", meta.get("labels"))
            else:
                meta = dict(old_meta)
            new["metadata"] = {key: value for key, value in meta.items() if value is not None}
            if old_meta.get("deletionTimestamp"):
                # ValidateObjectMetaUpdate: "no new finalizers can be added if the object is being deleted".
                added = [
                    f for f in new["metadata"].get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])
                ]
                if added:
                    raise _error(
                        422,
                        "Invalid",
                        f"{self._kind(resource)} {request.name!r} is invalid: metadata.finalizers: Forbidden: no new "
                        f"finalizers can be added if the object is being deleted, found new finalizers {added!r}",
                    )
            new = self._admit(resource, self._decorate(resource, new))
            if new == self._decorate(resource, current):
                return new  # a no-op write changes nothing, not even the resourceVersion
            if _spec_part(new, with_status) != _spec_part(current, with_status):
                new["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
            new["metadata"]["resourceVersion"] = self._next_rv()
            finalizers = new["metadata"].get("finalizers")
            if new["metadata"].get("deletionTimestamp") and not finalizers:
                self.objects._objects[(resource, request.namespace, str(request.name))].delete()
                await self._emit(resource, "DELETED", new)
                return new
            self._store(resource, request.namespace, str(request.name), new)
            await self._emit(resource, "MODIFIED", new)
        return new

    async def _serve_delete(self, request: rendering.Request) -> rendering.Payload:
        resource = request.resource
        self._info(resource)
        async with self._strict_lock:
            current = self._stored(resource, request.namespace, str(request.name))
            if current is None:
                raise _object_not_found(resource, str(request.name))
            obj = copy.deepcopy(current)
            obj["metadata"]["resourceVersion"] = self._next_rv()
            if obj["metadata"].get("finalizers"):
                obj["metadata"].setdefault("deletionTimestamp", _now())
                self._store(resource, request.namespace, str(request.name), obj)
                await self._emit(resource, "MODIFIED", obj)
                return self._decorate(resource, obj)
            self.objects._objects[(resource, request.namespace, str(request.name))].history.append(obj)
            self.objects._objects[(resource, request.namespace, str(request.name))].delete()
            await self._emit(resource, "DELETED", obj)
        return self._decorate(resource, obj)

    # -- for tests -------------------------------------------------------------------------

    def versions(self, resource: str, namespace: str, name: str) -> list[dict[str, Any]]:
        """Every stored version of one object, oldest first (None marks a deletion)."""
        key = (kmock.resource(resource), namespace, name)
        if key not in self.objects:
            return []
        return [None if v is None else v.raw for v in self.objects._objects[key].history]  # type: ignore[misc]


def declare_cluster(emulator: StrictEmulator, *, crds: Iterable[Path] = ()) -> None:
    """Declare the resources a qiskit-argo cluster has (and kopf needs), with CRD schemas."""
    resources = emulator.resources
    resources["v1/namespaces"] = kmock.ResourceInfo(kind="Namespace", namespaced=False, verbs={"list", "watch", "get"})
    resources["v1/events"] = kmock.ResourceInfo(kind="Event", namespaced=True, verbs={"create", "list", "get"})
    resources["qiskit-argo.io/v1alpha1/qiskitjobs"] = kmock.ResourceInfo(
        kind="QiskitJob",
        singular="qiskitjob",
        namespaced=True,
        shortnames={"qj"},
        subresources={"status"},
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"},
    )
    for plural, kind, short in (
        ("qiskitbackends", "QiskitBackend", "qb"),
        ("qiskitsessions", "QiskitSession", "qs"),
        ("qiskitbudgets", "QiskitBudget", "qbg"),
    ):
        resources[f"qiskit-argo.io/v1alpha1/{plural}"] = kmock.ResourceInfo(
            kind=kind,
            singular=plural[:-1],
            namespaced=True,
            shortnames={short},
            subresources={"status"},
            verbs={"get", "list", "watch", "create", "patch", "update", "delete"},
        )
    resources["v1/configmaps"] = kmock.ResourceInfo(
        kind="ConfigMap", namespaced=True, verbs={"get", "list", "watch", "create", "patch", "update", "delete"}
    )
    # Only tests touch Secrets (controller/rbac.yaml grants the controller none).
    resources["v1/secrets"] = kmock.ResourceInfo(
        kind="Secret", namespaced=True, verbs={"get", "list", "watch", "create", "patch", "update", "delete"}
    )
    resources["argoproj.io/v1alpha1/workflows"] = kmock.ResourceInfo(
        kind="Workflow",
        singular="workflow",
        namespaced=True,
        shortnames={"wf"},
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"},
    )
    resources["kopf.dev/v1/clusterkopfpeerings"] = kmock.ResourceInfo(
        kind="ClusterKopfPeering", namespaced=False, verbs={"get", "list", "watch", "patch", "create"}
    )
    resources["kopf.dev/v1/kopfpeerings"] = kmock.ResourceInfo(
        kind="KopfPeering", namespaced=True, verbs={"get", "list", "watch", "patch", "create"}
    )
    emulator.schemas.update(load_crd_schemas(*crds))
