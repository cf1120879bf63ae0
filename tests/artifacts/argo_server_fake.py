"""A FAKE of the Argo Server's artifact endpoint — an edge these tests cannot run (the Argo Server
needs a cluster, its auth and its artifact drivers).

It serves what argo-workflows v4.1.2 ``server/artifacts/artifact_server.go`` ``GetArtifactFile``
serves at the route ``/artifact-files/`` (``server/apiserver/argoserver.go`` ``newHTTPServer``):

    GET /artifact-files/{namespace}/workflows/{workflowName}/{nodeId}/outputs/{artifactName}[/{file...}]

* the token from ``Authorization`` (or the ``authorization`` cookie) decides access
  (``gateKeeping``): a wrong or missing token → 401 ``Unauthorized``;
* the Workflow is looked up by namespace and name (``getWorkflowAndValidate``): a missing one → 500
  (``serverInternalError``, as the real server answers); the node by id and its output artifact by
  name (``getArtifactAndDriver``); a file path after the artifact name is joined to its key;
* the object is streamed from the artifact's own S3 location as recorded in the node
  (``returnArtifact``: ``driver.OpenStream``, ``Content-Disposition: filename="<base of key>"``),
  here read from the test's S3-compatible server with boto3; ``truncate_after`` cuts the stream
  the way a failed ``io.Copy`` does (status 200 already sent, then the error text appended).
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.config import Config


class ArgoServerFake:
    """The artifact endpoint over ``workflows`` (``{(namespace, name): Workflow dict}``)."""

    def __init__(self, *, token: str, s3_endpoint_url: str, credentials: tuple[str, str]) -> None:
        self.token = token
        self.workflows: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.truncate_after: int | None = None
        self.requests: list[str] = []
        self._s3 = boto3.client(
            "s3",
            endpoint_url=s3_endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=credentials[0],
            aws_secret_access_key=credentials[1],
            config=Config(s3={"addressing_style": "path"}),
        )
        self.url = ""

    def add(self, workflow: Mapping[str, Any]) -> None:
        meta = workflow["metadata"]
        self.workflows[(meta["namespace"], meta["name"])] = workflow

    def _artifact(self, path: str) -> tuple[int, dict[str, Any] | None, str | None]:
        parts = path.split("/")
        if len(parts) < 8:
            return 400, None, None
        namespace, kind, name, node_id, direction, artifact = parts[2:8]
        file = "/".join(parts[8:]) or None
        if kind != "workflows" or direction != "outputs":
            return 400, None, None
        workflow = self.workflows.get((namespace, name))
        if workflow is None:
            return 500, None, None
        node = (workflow.get("status", {}).get("nodes") or {}).get(node_id)
        if node is None:
            return 500, None, None
        for saved in (node.get("outputs") or {}).get("artifacts", []):
            if saved.get("name") == artifact and "s3" in saved:
                return 200, saved["s3"], file
        return 500, None, None

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.urlsplit(handler.path).path
        self.requests.append(path)
        if not path.startswith("/artifact-files/"):
            handler.send_error(404)
            return
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            handler.send_error(401, "Unauthorized")
            return
        status, s3, file = self._artifact(urllib.parse.unquote(path))
        if status != 200 or s3 is None:
            handler.send_error(status)
            return
        key = s3["key"] if file is None else f"{s3['key']}/{file}"
        try:
            body = self._s3.get_object(Bucket=s3["bucket"], Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            handler.send_error(404)
            return
        handler.send_response(200)
        handler.send_header("Content-Disposition", f'filename="{key.rsplit("/", 1)[-1]}"')
        handler.send_header("Content-Type", "application/gzip" if key.endswith(".tgz") else "application/json")
        handler.send_header("X-Frame-Options", "SAMEORIGIN")
        handler.end_headers()  # no Content-Length: streamed, then the connection closes
        if self.truncate_after is not None:
            handler.wfile.write(body[: self.truncate_after])
            handler.wfile.write(b"failed to stream artifact: unexpected EOF\n")
        else:
            handler.wfile.write(body)

    @contextmanager
    def serving(self) -> Iterator[ArgoServerFake]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802
                fake.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
