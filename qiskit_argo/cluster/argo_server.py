"""A step's archived log through the Argo Server, for ``qiskit-argo logs`` once the pods are gone.

With ``archiveLogs`` on (the artifact repository's, or the Workflow's), Argo keeps each step's
``main`` log as the output artifact ``main-logs`` of the step's node; the Argo Server serves it at
``GET /artifact-files/{namespace}/workflows/{workflow}/{nodeId}/outputs/main-logs`` (argo-workflows
v4.1.2 ``server/artifacts/artifact_server.go`` ``GetArtifactFile``, the route registered in
``server/apiserver/argoserver.go``; the same route ``qiskit_argo.artifacts`` reads results from), authorised by the
``Authorization`` header the argo CLI sends (``ARGO_TOKEN``, ``Bearer <token>``).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from qiskit_argo.cluster.kube import ClusterError, Unreachable
from qiskit_argo.errors import one_line

__all__ = ["server_url", "step_nodes", "archived_log"]

#: The most bytes of one archived log read (a log is text a person reads; more is cut, and said so).
MAX_LOG_BYTES = 64 * 1024 * 1024


def server_url(value: str) -> str:
    """``https://host:2746`` from a URL or from ``host:port`` as ``ARGO_SERVER`` holds it."""
    value = value.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


def step_nodes(workflow: dict[str, Any], step: str | None) -> list[tuple[str, str]]:
    """``(step, nodeId)`` of every pod node of the Workflow (only ``step``'s, if given), in start order."""
    nodes = ((workflow.get("status") or {}).get("nodes") or {}).values()
    found = []
    for node in sorted(nodes, key=lambda n: str(n.get("startedAt") or "")):
        if node.get("type") != "Pod":
            continue
        name = str(node.get("displayName") or node.get("name") or "")
        base = name.split("(")[0]
        if step is None or base == step:
            found.append((name, str(node.get("id"))))
    return found


def archived_log(server: str, token: str | None, namespace: str, workflow: str, node_id: str) -> str | None:
    """The archived ``main`` log of one node; None when the Argo Server has none (404)."""
    parts = (namespace, "workflows", workflow, node_id, "outputs", "main-logs")
    path = "/".join(urllib.parse.quote(part, safe="") for part in parts)
    request = urllib.request.Request(f"{server_url(server)}/artifact-files/{path}")
    if token:
        request.add_header("Authorization", token if token.lower().startswith("bearer ") else f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the URL the user gave
            data = response.read(MAX_LOG_BYTES)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        if error.code in (401, 403):
            raise ClusterError(
                f"the Argo Server {server} refused to read the logs of {workflow} ({error.code}); "
                "set ARGO_TOKEN (argo auth token) to a token allowed to read Workflows in " + namespace
            ) from None
        raise Unreachable(
            f"the Argo Server {server} failed ({error.code}: {one_line(error.reason)}); try again"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        raise Unreachable(
            f"cannot reach the Argo Server {server} ({one_line(getattr(error, 'reason', error))}); check --argo-server"
        ) from None
    return data.decode("utf-8", errors="replace")
