"""The one module that talks to the Kubernetes API for the controller's own requests.

kopf watches and lists; everything the controller itself reads or writes goes through ``Kube``:
resources of our kinds and their status subresource, Argo Workflows, and Events. A resource's API
path comes from its descriptor (``Resource``: group, version, plural, scope) — for our kinds the
kind registry's ``qiskit_argo.api.Kind``, for Argo's Workflows ``WORKFLOW`` — so no kind is
spelled out here. Credentials come from the same login as kopf's (in-cluster service account,
else the current kubeconfig context) and are refreshed on a 401.

Errors come back typed: ``NotFound``, ``AlreadyExists``, ``Conflict`` (a stale resourceVersion),
``Invalid`` (the API server rejected the object: permanent), and ``Transient`` (5xx, 429,
timeouts, a dropped connection: worth retrying).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast
from urllib.parse import quote

import aiohttp
import kopf

from qiskit_argo import __version__

__all__ = [
    "FIELD_MANAGER",
    "ARGO_GROUP",
    "ARGO_VERSION",
    "WORKFLOWS",
    "Resource",
    "ApiResource",
    "WORKFLOW",
    "CONFIGMAP",
    "KubeError",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "Invalid",
    "Forbidden",
    "Transient",
    "Kube",
]

ARGO_GROUP = "argoproj.io"
ARGO_VERSION = "v1alpha1"
WORKFLOWS = "workflows"


class Resource(Protocol):
    """What an API path is made of; ``qiskit_argo.api.Kind`` is one."""

    @property
    def group(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def plural(self) -> str: ...

    @property
    def scope(self) -> Literal["Namespaced", "Cluster"]: ...


@dataclass(frozen=True)
class ApiResource:
    """A resource that is not ours (no ``Kind`` in the registry describes it)."""

    group: str
    version: str
    plural: str
    scope: Literal["Namespaced", "Cluster"] = "Namespaced"


#: Argo's Workflows, the children of every kind of ours.
WORKFLOW = ApiResource(ARGO_GROUP, ARGO_VERSION, WORKFLOWS)
#: ConfigMaps (core group): the semaphore ConfigMap the controller keeps in each job namespace.
CONFIGMAP = ApiResource("", "v1", "configmaps")

_MERGE_PATCH = "application/merge-patch+json"
#: Who the API server records in managedFields for the controller's writes (Argo CD ignores it).
FIELD_MANAGER = "qiskit-argo-controller"
_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)


class KubeError(Exception):
    """An API request failed; ``status`` is the HTTP status (0 when no answer came back)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(KubeError):
    pass


class AlreadyExists(KubeError):
    pass


class Conflict(KubeError):
    """409 on an update: the object changed since it was read (stale resourceVersion)."""


class Invalid(KubeError):
    """400/422: the API server will never accept this request as it is."""


class Forbidden(KubeError):
    """403: RBAC does not allow it; a person has to fix the permissions."""


class Transient(KubeError):
    """5xx, 429, a timeout or a dropped connection: retrying later may work."""


def _error(status: int, body: Any) -> KubeError:
    reason = str(body.get("reason") or "") if isinstance(body, Mapping) else ""
    message = str(body.get("message") or "") if isinstance(body, Mapping) else str(body)[:500]
    if status == 404:
        return NotFound(status, reason or "NotFound", message)
    if status == 409:
        if reason == "AlreadyExists":
            return AlreadyExists(status, reason, message)
        return Conflict(status, reason or "Conflict", message)
    if status in (400, 422):
        return Invalid(status, reason or "Invalid", message)
    if status == 403:
        return Forbidden(status, reason or "Forbidden", message)
    return Transient(status, reason or "ServerError", message)


Login = Callable[[], "kopf.ConnectionInfo | None"]


class Kube:
    """A small async client for exactly the requests the controller makes.

    ``login`` returns fresh credentials (the controller passes kopf's own login functions); it is
    called lazily before the first request and again once after a 401.
    """

    def __init__(self, login: Login | None = None, *, info: kopf.ConnectionInfo | None = None) -> None:
        self._login = login
        self._info = info
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    # -- credentials and the session ----------------------------------------------------------

    def set_credentials(self, info: kopf.ConnectionInfo) -> None:
        """New credentials (from kopf's login handler); the next request uses them."""
        if info != self._info:
            self._info = info
            old, self._session = self._session, None
            if old is not None and not old.closed:
                asyncio.get_running_loop().create_task(old.close())

    async def _ensure_session(self) -> tuple[aiohttp.ClientSession, str]:
        async with self._lock:
            if self._info is None and self._login is not None:
                self._info = self._login()
            if self._info is None:
                raise Transient(0, "NoCredentials", "no Kubernetes credentials: no service account, no kubeconfig")
            if self._session is None or self._session.closed:
                ssl_context: ssl.SSLContext | bool = False
                if self._info.server.startswith("https"):
                    ssl_context = self._info.as_ssl_context()
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=ssl_context, limit=64),
                    headers={**self._info.as_http_headers(), "User-Agent": f"{FIELD_MANAGER}/{__version__}"},
                    timeout=_TIMEOUT,
                    trust_env=self._info.trust_env,
                )
            return self._session, self._info.server.rstrip("/")

    async def _relogin(self) -> bool:
        if self._login is None:
            return False
        info = self._login()
        if info is None or info == self._info:
            return False
        self.set_credentials(info)
        return True

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # -- one request ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One API call; the decoded JSON answer, or a typed ``KubeError``."""
        for attempt in range(2):
            session, server = await self._ensure_session()
            data = None if body is None else json.dumps(body)
            if method in ("POST", "PATCH", "PUT"):
                params = {**(params or {}), "fieldManager": FIELD_MANAGER}
            headers = {"Content-Type": content_type} if body is not None else {}
            try:
                async with session.request(
                    method, server + path, data=data, headers=headers, params=params
                ) as response:
                    text = await response.text()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                raise Transient(0, type(error).__name__, str(error) or "connection failed") from error
            try:
                answer = json.loads(text) if text else {}
            except ValueError:
                answer = {"message": text[:500]}
            if status == 401 and attempt == 0 and await self._relogin():
                continue
            if status >= 400:
                raise _error(status, answer)
            return answer if isinstance(answer, dict) else {}
        raise Transient(401, "Unauthorized", "the API server rejected the credentials")

    # -- any resource --------------------------------------------------------------------------

    @staticmethod
    def path(resource: Resource, namespace: str | None, name: str = "", subresource: str = "") -> str:
        """``/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]``
        (``/api/<version>/...`` for the core group)."""
        path = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
        if resource.scope == "Namespaced" and namespace is not None:
            path += f"/namespaces/{quote(namespace)}"
        path += f"/{resource.plural}"
        if name:
            path += f"/{quote(name)}" + (f"/{subresource}" if subresource else "")
        return path

    async def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        try:
            return await self.request("GET", self.path(resource, namespace, name))
        except NotFound:
            return None

    async def list_objects(
        self, resource: Resource, namespace: str | None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of ``resource`` in ``namespace`` (one page; the caller's kinds are few per namespace)."""
        params = {"labelSelector": label_selector} if label_selector else None
        answer = await self.request("GET", self.path(resource, namespace), params=params)
        items = answer.get("items")
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    async def create(self, resource: Resource, manifest: Mapping[str, Any]) -> dict[str, Any]:
        namespace = manifest["metadata"].get("namespace")
        return await self.request("POST", self.path(resource, namespace), body=dict(manifest))

    async def patch(
        self, resource: Resource, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386)."""
        return await self.request(
            "PATCH", self.path(resource, namespace, name), body=dict(patch), content_type=_MERGE_PATCH
        )

    async def patch_status(
        self, resource: Resource, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch the status subresource. Put ``metadata.resourceVersion`` in the patch to get a
        ``Conflict`` instead of overwriting a newer status."""
        return await self.request(
            "PATCH", self.path(resource, namespace, name, "status"), body=dict(patch), content_type=_MERGE_PATCH
        )

    async def set_finalizers(
        self, resource: Resource, namespace: str | None, name: str, finalizers: list[str], resource_version: str | None
    ) -> dict[str, Any]:
        """Replace ``metadata.finalizers`` (a merge patch replaces the list), guarded by
        ``resource_version``: someone else's change in between is a ``Conflict``, never overwritten."""
        metadata: dict[str, Any] = {"finalizers": finalizers or None}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        return await self.patch(resource, namespace, name, {"metadata": metadata})

    # -- Argo Workflows ------------------------------------------------------------------------

    @staticmethod
    def workflow_path(namespace: str, name: str = "") -> str:
        return Kube.path(WORKFLOW, namespace, name)

    async def get_workflow(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get(WORKFLOW, namespace, name)

    async def create_workflow(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        return await self.create(WORKFLOW, manifest)

    async def patch_workflow(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        return await self.patch(WORKFLOW, namespace, name, patch)

    # -- Events --------------------------------------------------------------------------------

    @staticmethod
    def event(obj: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
        """A Kubernetes Event on ``obj`` (``kubectl describe`` shows it), posted in the background
        by kopf's event poster, which batches, retries and never blocks the caller."""
        body = kopf.Body(cast(kopf.RawBody, dict(obj)))
        kopf.event(body, type=type, reason=str(reason), message=message[:1024])
