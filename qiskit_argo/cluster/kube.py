"""The one module through which the command line talks to the Kubernetes API.

``connect`` logs in as ``kubectl`` would: the kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``),
its current context or ``--context``, the context's namespace or ``--namespace``; inside a pod
without a kubeconfig, the in-cluster service account. ``ClusterClient`` reads and writes
QiskitJobs, their Workflows, Events, pods and pod logs, ConfigMaps and Secrets through the
official ``kubernetes`` client, and answers plain dicts in the API's own (camelCase) shape.

Every failure becomes one ``ClusterError`` line that says what to do; none is a traceback:

* no kubeconfig → ``NoKubeconfig``; 401 → ``Unauthorized``; 403 → ``Forbidden`` (naming the verb,
  the resource and the RBAC to ask for); 404 of an object → ``NotFound``; 404 of a whole resource
  type → ``CrdNotInstalled`` (how to install it); 400/409/422 → ``Conflict`` with the API server's
  own message (e.g. our CRD's rule freezing a started job's spec) — exit 2;
* the network, a timeout or a 5xx/429 → ``Unreachable`` — exit 1 (trying again may help).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiskit_argo.errors import QiskitArgoError, one_line
from qiskit_argo.reasons import Reason

__all__ = [
    "FIELD_MANAGER",
    "JOBS",
    "WORKFLOWS",
    "Resource",
    "ClusterError",
    "NoKubeconfig",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "CrdNotInstalled",
    "Conflict",
    "Unreachable",
    "ClusterClient",
    "connect",
]

#: The field manager of every write the command line makes (server-side apply and patches).
FIELD_MANAGER = "qiskit-argo"
#: Where a pod finds its own namespace (the in-cluster convention).
_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: Seconds to connect, seconds to read one answer.
_TIMEOUT = (10, 60)
_APPLY = "application/apply-patch+yaml"
_MERGE = "application/merge-patch+json"


@dataclass(frozen=True)
class Resource:
    """A custom resource type: where it is served and what to tell a person when it is not."""

    group: str
    version: str
    plural: str
    kind: str
    #: What to do when the API server does not serve it at all.
    install: str

    @property
    def full(self) -> str:
        """``qiskitjobs.qiskit-argo.io``, as kubectl and RBAC name it."""
        return f"{self.plural}.{self.group}"


JOBS = Resource(
    "qiskit-argo.io",
    "v1alpha1",
    "qiskitjobs",
    "QiskitJob",
    "the QiskitJob CRD is not installed in this cluster; install qiskit-argo: kubectl apply -k kustomize/base "
    "(or: qiskit-argo crds | kubectl apply --server-side -f -)",
)
WORKFLOWS = Resource(
    "argoproj.io",
    "v1alpha1",
    "workflows",
    "Workflow",
    "Argo Workflows is not installed in this cluster (no workflows.argoproj.io); install Argo Workflows first",
)


# --------------------------------------------------------------------------- errors


class ClusterError(QiskitArgoError):
    """A cluster request failed; ``str(error)`` is the one line to print. Exit 2 unless transient."""

    reason = Reason.PERMANENT_FAILURE
    permanent = True


class NoKubeconfig(ClusterError):
    """No kubeconfig, no such context, or a kubeconfig that cannot be used."""


class Unauthorized(ClusterError):
    """401: the API server does not accept the kubeconfig's credentials."""


class Forbidden(ClusterError):
    """403: RBAC does not allow the request."""


class NotFound(ClusterError):
    """404 of one object."""


class CrdNotInstalled(ClusterError):
    """404 of a whole resource type: its CRD is not installed."""


class Conflict(ClusterError):
    """400/409/422: the API server refused the request; its message says why."""


class Unreachable(ClusterError):
    """The API server could not be reached or failed (network, timeout, 5xx, 429)."""

    reason = Reason.TRANSIENT_FAILURE
    permanent = False


def _body(error: Any) -> dict[str, Any]:
    try:
        body = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def translate(
    error: Any,
    *,
    verb: str,
    resource: str,
    namespace: str | None,
    name: str | None = None,
    missing: str | None = None,
    install: str | None = None,
) -> ClusterError:
    """The ``ClusterError`` for an ``ApiException`` of ``verb`` on ``resource`` (``qiskitjobs.qiskit-argo.io``,
    ``pods/log``...). ``missing`` is the line for a 404 of the object, ``install`` for a 404 of the type."""
    status = int(getattr(error, "status", 0) or 0)
    body = _body(error)
    message = one_line(body.get("message") or getattr(error, "reason", None) or f"HTTP {status}")
    where = f" in namespace {namespace}" if namespace else ""
    if status == 401:
        return Unauthorized(
            "the API server refused your credentials (401 Unauthorized); log in again (your kubeconfig's "
            "token or certificate has expired or is wrong)"
        )
    if status == 403:
        return Forbidden(
            f"forbidden: you may not {verb} {resource}{where}; ask your cluster admin for a Role (and "
            f"RoleBinding) that grants {verb} on {resource} (check: kubectl auth can-i {verb} {resource}"
            + (f" -n {namespace})" if namespace else ")")
        )
    if status == 404:
        # An object that does not exist: the API server names it in details; a resource type it
        # does not serve: "the server could not find the requested resource", no details.
        details = body.get("details")
        if isinstance(details, dict) and details.get("name"):
            return NotFound(missing or f"{message}{where}")
        return CrdNotInstalled(install or f"the API server does not serve {resource}: {message}")
    if status in (400, 409, 422):
        return Conflict(f"the API server refused to {verb} {resource}{' ' + name if name else ''}: {message}")
    if status == 0:
        return Unreachable(f"cannot reach the API server ({message}); check your network and the cluster")
    return Unreachable(
        f"the API server failed to {verb} {resource} ({status}: {message}); try again (kubectl cluster-info)"
    )


# --------------------------------------------------------------------------- connect


def _context_namespace(config_file: str, context: str | None) -> str | None:
    from kubernetes import config

    contexts, active = config.list_kube_config_contexts(config_file=config_file)
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    return ((chosen or {}).get("context") or {}).get("namespace")


def connect(
    *, namespace: str | None = None, context: str | None = None, kubeconfig: str | None = None
) -> ClusterClient:
    """Log in as kubectl does (see the module docstring); ``namespace`` overrides the context's,
    ``kubeconfig`` (kubectl's ``--kubeconfig``) the ``KUBECONFIG`` variable."""
    try:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise NoKubeconfig(
            "the cluster commands need the kubernetes client; pip install 'qiskit-argo[cluster]'"
        ) from None
    configuration = client.Configuration()
    # Read now, not when the kubernetes package was imported (it reads KUBECONFIG once, then).
    where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    paths = [str(Path(p).expanduser()) for p in where.split(os.pathsep) if p]
    config_file = os.pathsep.join(paths)
    found = any(Path(p).is_file() for p in paths)
    try:
        if found or context or kubeconfig:
            config.load_kube_config(
                config_file=config_file, context=context, client_configuration=configuration, persist_config=False
            )
            namespace = namespace or _context_namespace(config_file, context)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
            if not namespace and _SERVICE_ACCOUNT_NAMESPACE.is_file():
                namespace = _SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        else:
            raise NoKubeconfig(
                f"no kubeconfig ({where} does not exist); set KUBECONFIG or create ~/.kube/config "
                "(e.g. with your cloud's get-credentials command), then check it with kubectl config current-context"
            )
    except ConfigException as error:
        text = one_line(error)
        if context and "context" in text.lower():
            raise NoKubeconfig(
                f"no context {context!r} in {where}; kubectl config get-contexts lists the contexts"
            ) from None
        raise NoKubeconfig(
            f"the kubeconfig {where} cannot be used ({text}); check it with kubectl config view"
        ) from None
    except (KeyboardInterrupt, SystemExit, ClusterError):
        raise
    except Exception as error:  # noqa: BLE001 - a broken kubeconfig (YAML, base64, files): one line
        raise NoKubeconfig(
            f"the kubeconfig {where} cannot be read ({type(error).__name__}: {one_line(error)}); "
            "check it with kubectl config view"
        ) from None
    api = client.ApiClient(configuration)
    return ClusterClient(api, namespace or "default", server=str(configuration.host))


# --------------------------------------------------------------------------- the client


class ClusterClient:
    """Reads and writes for the command line, in one namespace; dicts in the API's own shape."""

    def __init__(self, api: Any, namespace: str, *, server: str = "") -> None:
        from kubernetes import client

        self.api = api
        self.namespace = namespace
        self.server = server
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls ---------------------------------------------------------------------------

    def _call(
        self,
        verb: str,
        resource: str,
        call: Any,
        *,
        name: str | None = None,
        missing: str | None = None,
        install: str | None = None,
    ) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return call()
        except ApiException as error:
            raise translate(
                error,
                verb=verb,
                resource=resource,
                namespace=self.namespace,
                name=name,
                missing=missing,
                install=install,
            ) from None
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - urllib3/socket/ssl: the network, one line, exit 1
            cause = getattr(error, "reason", None) or error
            raise Unreachable(
                f"cannot reach the API server {self.server} ({type(cause).__name__}: {one_line(cause)}); "
                "check your network or VPN and the cluster (kubectl cluster-info)"
            ) from None

    @staticmethod
    def _json(response: Any) -> Any:
        """The JSON body (read raw: the generated client returns None for a 201 to a PATCH, as
        server-side apply answers a create)."""
        return json.loads(response.data or b"{}")

    def _missing_job(self, name: str) -> str:
        return f"no QiskitJob {name!r} in namespace {self.namespace} (qiskit-argo get -n {self.namespace} lists them)"

    # -- QiskitJobs (and other custom resources) -----------------------------------------------

    def get_job(self, name: str) -> dict[str, Any]:
        return self.get(JOBS, name, missing=self._missing_job(name))

    def list_jobs(self) -> list[dict[str, Any]]:
        answer = self._call(
            "list",
            JOBS.full,
            lambda: self.custom.list_namespaced_custom_object(
                JOBS.group, JOBS.version, self.namespace, JOBS.plural, _request_timeout=_TIMEOUT, _preload_content=False
            ),
            install=JOBS.install,
        )
        answer = self._json(answer)
        return list(answer.get("items") or [])

    def get(self, resource: Resource, name: str, *, missing: str | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(
            "get",
            resource.full,
            lambda: self.custom.get_namespaced_custom_object(
                resource.group,
                resource.version,
                self.namespace,
                resource.plural,
                name,
                _request_timeout=_TIMEOUT,
                _preload_content=False,
            ),
            name=name,
            missing=missing or f"no {resource.kind} {name!r} in namespace {self.namespace}",
            install=resource.install,
        )
        return self._json(answer)  # type: ignore[no-any-return]

    def find(self, resource: Resource, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist (the type must exist)."""
        try:
            return self.get(resource, name)
        except NotFound:
            return None

    def apply(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of ``body`` (field manager ``qiskit-argo``, never forced)."""
        name = str(body["metadata"]["name"])
        answer: dict[str, Any] = self._call(
            "patch",
            resource.full,
            lambda: self.custom.patch_namespaced_custom_object(
                resource.group,
                resource.version,
                self.namespace,
                resource.plural,
                name,
                body,
                field_manager=FIELD_MANAGER,
                force=False,
                _content_type=_APPLY,
                _request_timeout=_TIMEOUT,
                _preload_content=False,
            ),
            name=name,
            install=resource.install,
        )
        return self._json(answer)  # type: ignore[no-any-return]

    def patch(
        self, resource: Resource, name: str, patch: dict[str, Any], *, missing: str | None = None
    ) -> dict[str, Any]:
        """A JSON merge patch (field manager ``qiskit-argo``)."""
        return self._json(
            self._call(
                "patch",
                resource.full,
                lambda: self.custom.patch_namespaced_custom_object(
                    resource.group,
                    resource.version,
                    self.namespace,
                    resource.plural,
                    name,
                    patch,
                    field_manager=FIELD_MANAGER,
                    _content_type=_MERGE,
                    _request_timeout=_TIMEOUT,
                    _preload_content=False,
                ),
                name=name,
                missing=missing,
                install=resource.install,
            )
        )

    # -- core v1 -------------------------------------------------------------------------------

    def apply_config_map(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body["metadata"]["name"])
        answer: dict[str, Any] = self._json(
            self._call(
                "patch",
                "configmaps",
                lambda: self.core.patch_namespaced_config_map(
                    name,
                    self.namespace,
                    body,
                    field_manager=FIELD_MANAGER,
                    force=False,
                    _content_type=_APPLY,
                    _preload_content=False,
                    _request_timeout=_TIMEOUT,
                ),
                name=name,
            )
        )
        return answer

    def config_map(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """A ConfigMap of this namespace (or of ``namespace``)."""
        where = namespace or self.namespace
        answer: dict[str, Any] = self._json(
            self._call(
                "get",
                "configmaps",
                lambda: self.core.read_namespaced_config_map(
                    name, where, _preload_content=False, _request_timeout=_TIMEOUT
                ),
                name=name,
                missing=f"no ConfigMap {name!r} in namespace {where}",
            )
        )
        return answer

    def secret(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            self._call(
                "get",
                "secrets",
                lambda: self.core.read_namespaced_secret(
                    name, self.namespace, _preload_content=False, _request_timeout=_TIMEOUT
                ),
                name=name,
                missing=f"no Secret {name!r} in namespace {self.namespace}",
            )
        )
        return answer

    def events_for(self, uid: str) -> list[dict[str, Any]]:
        """The Events about the object with this uid (``fieldSelector=involvedObject.uid``)."""
        answer = self._json(
            self._call(
                "list",
                "events",
                lambda: self.core.list_namespaced_event(
                    self.namespace,
                    field_selector=f"involvedObject.uid={uid}",
                    _preload_content=False,
                    _request_timeout=_TIMEOUT,
                ),
            )
        )
        return list(answer.get("items") or [])

    def pods(self, selector: str) -> list[dict[str, Any]]:
        answer = self._json(
            self._call(
                "list",
                "pods",
                lambda: self.core.list_namespaced_pod(
                    self.namespace, label_selector=selector, _preload_content=False, _request_timeout=_TIMEOUT
                ),
            )
        )
        return list(answer.get("items") or [])

    def pod_log(self, name: str, container: str) -> str:
        response = self._call(
            "get",
            "pods/log",
            lambda: self.core.read_namespaced_pod_log(
                name, self.namespace, container=container, _preload_content=False, _request_timeout=_TIMEOUT
            ),
            name=name,
            missing=f"pod {name} is gone",
        )
        return bytes(response.data or b"").decode("utf-8", errors="replace")
