"""The test side of the controller scenarios: a Kubernetes API over HTTP, the controller, and Argo.

The scenarios only talk HTTP to a Kubernetes API, so they run unchanged against

* ``kmock``: ``emulator.StrictEmulator`` (kmock 0.8 made strict) on a local port, fresh per test;
* ``envtest``: a real ``kube-apiserver`` + ``etcd`` from ``$KUBEBUILDER_ASSETS`` (the envtest
  convention: the directory holding the ``etcd`` and ``kube-apiserver`` binaries), started once
  per session, with the CRDs from ``crds/``, Argo's minimal CRDs from
  ``../shared/schemas/argo-crds-minimal/`` and kopf's peering CRDs from ``controller/``
  installed; every test gets its own namespace.

``Controller`` runs the real kopf operator (``qiskit_argo_controller.handlers.operator``) in the
test's event loop, logged in through a kubeconfig like ``qiskit-argo-controller`` would be.
``Argo`` plays the Argo controller: it writes the Workflow's ``status`` with PUT (Argo's Update),
in the exact shape ``tests.argo_fake`` produces.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import kopf
import yaml
from qiskit_argo_controller.handlers import Operator, Options, operator

from tests.argo_fake import ArgoFake, ServiceFake
from tests.controller.emulator import StrictEmulator

__all__ = [
    "REPO",
    "CRD_DIRS",
    "Api",
    "ApiError",
    "Cluster",
    "Controller",
    "Argo",
    "ServiceArgo",
    "EnvTest",
    "eventually",
    "bell_spec",
    "big_circuit",
    "write_kubeconfig",
]

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "schemas"
CRD_DIRS = [REPO / "crds", SHARED / "argo-crds-minimal"]
PEERING_CRDS = REPO / "controller" / "peering.yaml"
RBAC = REPO / "controller" / "rbac.yaml"
#: The controller's identity in the scenarios: a bearer token whose RBAC is controller/rbac.yaml.
CONTROLLER_USER = "system:serviceaccount:qiskit-argo:qiskit-argo-controller"


def controller_rules(*files: Path) -> list[dict[str, Any]]:
    """The rules of every ClusterRole in these files."""
    rules: list[dict[str, Any]] = []
    for path in files:
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "ClusterRole":
                rules += document.get("rules", [])
    return rules


JOBS = "/apis/qiskit-argo.io/v1alpha1"
WORKFLOWS = "/apis/argoproj.io/v1alpha1"
MERGE = "application/merge-patch+json"

T = TypeVar("T")


def bell_spec(**overrides: Any) -> dict[str, Any]:
    """The spec of examples/bell.yaml, with overrides."""
    document = yaml.safe_load((REPO / "examples" / "bell.yaml").read_text())
    return {**document["spec"], **overrides}


def big_circuit(size: int = 244 * 1024) -> str:
    """A valid OpenQASM 2 circuit of ``size`` bytes, short gate lines as real ones have (the cap is
    256 KiB; JSON-escaped, as a copy of the spec in an annotation would be, it is over 256 KiB)."""
    head = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
    tail = "measure q -> c;\n"
    line = "cx q[0], q[1];\n"
    text = head + line * ((size - len(head) - len(tail)) // len(line)) + tail
    return text + "\n" * (size - len(text))


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}; last: {last!r}")
        await asyncio.sleep(interval)


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body.get('reason') if isinstance(body, dict) else ''} {body!r:.300}")
        self.status = status
        self.body = body


class Api:
    """What a user (kubectl) and Argo do to the API, over HTTP."""

    def __init__(self, server: str, *, token: str | None = None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Api:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.session = aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=False))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def call(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json", **params: str
    ) -> tuple[int, Any]:
        assert self.session is not None
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self.session.request(method, self.server + path, data=data, headers=headers, params=params) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text else {})

    async def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, answer = await self.call(method, path, body, **kwargs)
        if status >= 400:
            raise ApiError(status, answer)
        return answer

    async def get(self, path: str) -> dict[str, Any] | None:
        status, answer = await self.call("GET", path)
        if status == 404:
            return None
        if status >= 400:
            raise ApiError(status, answer)
        return answer  # type: ignore[no-any-return]

    async def items(self, path: str, **params: str) -> list[dict[str, Any]]:
        return (await self.ok("GET", path, **params)).get("items", [])  # type: ignore[no-any-return]


@dataclass
class Cluster:
    """One test's view of a cluster: its API, its namespace, a kubeconfig for the controller."""

    kind: str
    api: Api
    namespace: str
    kubeconfig: Path
    emulator: StrictEmulator | None = None
    controllers: list[Controller] = field(default_factory=list)

    # -- paths --
    def job_path(self, name: str = "", namespace: str | None = None) -> str:
        path = f"{JOBS}/namespaces/{namespace or self.namespace}/qiskitjobs"
        return f"{path}/{name}" if name else path

    def kind_path(self, plural: str, name: str = "", namespace: str | None = None) -> str:
        """The path of one of our kinds (``qiskitbackends``, ``qiskitsessions``...)."""
        path = f"{JOBS}/namespaces/{namespace or self.namespace}/{plural}"
        return f"{path}/{name}" if name else path

    def configmap_path(self, name: str = "", namespace: str | None = None) -> str:
        path = f"/api/v1/namespaces/{namespace or self.namespace}/configmaps"
        return f"{path}/{name}" if name else path

    def workflow_path(self, name: str = "", namespace: str | None = None) -> str:
        path = f"{WORKFLOWS}/namespaces/{namespace or self.namespace}/workflows"
        return f"{path}/{name}" if name else path

    # -- what a user does --
    async def create_job(self, name: str, spec: dict[str, Any] | None = None, namespace: str | None = None) -> Any:
        body = {
            "apiVersion": "qiskit-argo.io/v1alpha1",
            "kind": "QiskitJob",
            "metadata": {"name": name, "namespace": namespace or self.namespace},
            "spec": spec if spec is not None else bell_spec(),
        }
        return await self.api.ok("POST", self.job_path(namespace=namespace), body)

    async def create(self, kind: str, plural: str, name: str, spec: dict[str, Any], status: Any = None) -> Any:
        """Create a resource of ours (and, as its controller would, give it a status)."""
        body = {
            "apiVersion": "qiskit-argo.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        created = await self.api.ok("POST", self.kind_path(plural), body)
        if status is not None:
            created = await self.set_status(plural, name, status)
        return created

    async def set_status(self, plural: str, name: str, status: dict[str, Any]) -> Any:
        return await self.api.ok(
            "PATCH", self.kind_path(plural, name) + "/status", {"status": status}, content_type=MERGE
        )

    async def delete_job(self, name: str) -> Any:
        return await self.api.ok("DELETE", self.job_path(name))

    async def job(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        job = await self.api.get(self.job_path(name, namespace))
        assert job is not None, f"job {name} is gone"
        return job

    async def patch_job(self, name: str, patch: dict[str, Any]) -> Any:
        return await self.api.ok("PATCH", self.job_path(name), patch, content_type=MERGE)

    async def workflows(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return await self.api.items(self.workflow_path(namespace=namespace))

    async def workflow(self, name: str) -> dict[str, Any] | None:
        return await self.api.get(self.workflow_path(name))

    async def events(self, involved: str) -> list[dict[str, Any]]:
        events = await self.api.items(f"/api/v1/namespaces/{self.namespace}/events")
        return [e for e in events if (e.get("involvedObject") or {}).get("name") == involved]

    # -- waiting --
    async def phase(self, name: str, *phases: str, timeout: float = 10.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            job = await self.job(name)
            return job if (job.get("status") or {}).get("phase") in phases else None

        return await eventually(probe, timeout=timeout, what=f"job {name} in {phases}")

    async def workflow_of(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            found = [
                wf
                for wf in await self.workflows()
                if (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/job") == name
            ]
            return found[0] if found else None

        return await eventually(probe, timeout=timeout, what=f"the Workflow of job {name}")

    # -- the controller --
    def controller(self, **options: Any) -> Controller:
        controller = Controller(self, Options(**{"standalone": True, "batch_window": 0.02, "backoff": 0.2, **options}))
        self.controllers.append(controller)
        return controller


class Controller:
    """The real kopf operator with the controller's handlers, in its own thread and event loop.

    Its own loop, as in production: kopf cancels every task of its loop when it stops, and it
    must not take the emulator (or the test) with it.
    """

    def __init__(self, cluster: Cluster, options: Options) -> None:
        self.cluster = cluster
        self.options = options
        self.op: Operator | None = None
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.stop_flag = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            assert self.op is not None
            self.loop = asyncio.get_running_loop()
            self.task = asyncio.current_task()  # type: ignore[assignment]
            try:
                await kopf.operator(**self.op.kwargs(), stop_flag=self.stop_flag, ready_flag=self.ready)
            finally:
                await self.op.kube.close()

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as error:  # noqa: BLE001 - reported to the test by start()/stop()
            self.error = error
        finally:
            self.ready.set()

    async def start(self) -> Controller:
        os.environ["KUBECONFIG"] = str(self.cluster.kubeconfig)
        self.op = operator(self.options)
        self.thread = threading.Thread(target=self._run, name="controller", daemon=True)
        self.thread.start()
        await asyncio.to_thread(self.ready.wait, 15)
        if self.error is not None:
            raise self.error
        assert self.ready.is_set() and self.running, "the operator did not get ready in 15s"
        return self

    async def __aenter__(self) -> Controller:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    async def stop(self) -> None:
        """A graceful stop (SIGTERM)."""
        if self.thread is None:
            return
        self.stop_flag.set()
        await asyncio.to_thread(self.thread.join, 20)
        assert not self.thread.is_alive(), "the operator did not stop in 20s"
        self.thread = None

    async def kill(self) -> None:
        """Sudden death: every task cancelled wherever it is, nothing finished."""
        if self.thread is None:
            return
        if self.loop is not None and self.task is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.task.cancel)
        # kopf waits for a threading.Event stop-flag in an executor thread; release that thread
        # too, or asyncio.run() never finishes shutting its executor down.
        await asyncio.sleep(0.05)
        self.stop_flag.set()
        await asyncio.to_thread(self.thread.join, 20)
        assert not self.thread.is_alive(), "the operator did not die in 20s"
        self.thread = None


class Argo:
    """Plays the Argo controller for one Workflow: read it, change its status, write it back (PUT).

    ``argo_version`` chooses the node message format (``main: Error (exit code N): ...`` since
    v3.7, without ``main: `` before); see ``tests.argo_fake``.
    """

    def __init__(self, cluster: Cluster, name: str, *, retries: bool = True, argo_version: str = "4.1") -> None:
        self.cluster = cluster
        self.name = name
        self.retries = retries
        self.argo_version = argo_version
        self.fake: ArgoFake | None = None

    async def __call__(self, action: Callable[[ArgoFake], object]) -> dict[str, Any]:
        path = self.cluster.workflow_path(self.name)
        for _ in range(50):
            current = await self.cluster.api.get(path)
            assert current is not None, f"Workflow {self.name} is gone"
            if self.fake is None:
                self.fake = ArgoFake(copy.deepcopy(current), retries=self.retries, argo_version=self.argo_version)
            fresh = copy.deepcopy(current)
            fresh["status"] = copy.deepcopy(self.fake.workflow.get("status") or {})
            ours = {
                key: value
                for key, value in (self.fake.workflow["metadata"].get("labels") or {}).items()
                if key.startswith("workflows.argoproj.io/")
            }
            fresh["metadata"].setdefault("labels", {}).update(ours)
            self.fake.workflow = fresh
            action(self.fake)
            status, answer = await self.cluster.api.call("PUT", path, self.fake.workflow)
            if status == 409:
                continue  # the controller (suspend) changed it meanwhile: read again, as Argo would
            if status >= 400:
                raise ApiError(status, answer)
            return answer  # type: ignore[no-any-return]
        raise AssertionError("could not write the Workflow status 50 times in a row")


class ServiceArgo:
    """Plays the Argo controller for one service Workflow (probe, cancel, session open/close),
    as ``tests.argo_fake.ServiceFake`` writes its status."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.fake: ServiceFake | None = None

    async def __call__(self, action: Callable[[ServiceFake], object]) -> dict[str, Any]:
        path = self.cluster.workflow_path(self.name)
        for _ in range(50):
            current = await self.cluster.api.get(path)
            assert current is not None, f"Workflow {self.name} is gone"
            if self.fake is None:
                self.fake = ServiceFake(copy.deepcopy(current), epoch=datetime.now(UTC).replace(microsecond=0))
            fresh = copy.deepcopy(current)
            fresh["status"] = copy.deepcopy(self.fake.workflow.get("status") or {})
            ours = {
                key: value
                for key, value in (self.fake.workflow["metadata"].get("labels") or {}).items()
                if key.startswith("workflows.argoproj.io/")
            }
            fresh["metadata"].setdefault("labels", {}).update(ours)
            self.fake.workflow = fresh
            action(self.fake)
            status, answer = await self.cluster.api.call("PUT", path, self.fake.workflow)
            if status == 409:
                continue
            if status >= 400:
                raise ApiError(status, answer)
            return answer  # type: ignore[no-any-return]
        raise AssertionError("could not write the Workflow status 50 times in a row")


def write_kubeconfig(path: Path, server: str, token: str | None = None) -> Path:
    user: dict[str, Any] = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "test", "user": user}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))
    return path


# --------------------------------------------------------------------------- envtest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EnvTest:
    """A real kube-apiserver + etcd from ``$KUBEBUILDER_ASSETS`` (no controllers, no scheduler)."""

    def __init__(self, assets: Path, workdir: Path) -> None:
        self.assets = assets
        self.workdir = workdir
        self.token = secrets.token_hex(16)
        self.controller_token = secrets.token_hex(16)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.server = ""

    def _binary(self, name: str) -> str:
        path = self.assets / name
        if not path.exists():
            found = shutil.which(name)
            if not found:
                raise FileNotFoundError(f"{name} not found in KUBEBUILDER_ASSETS={self.assets}")
            return found
        return str(path)

    def start(self) -> EnvTest:
        etcd_client, etcd_peer, secure = _free_port(), _free_port(), _free_port()
        (self.workdir / "etcd").mkdir(parents=True, exist_ok=True)
        (self.workdir / "certs").mkdir(exist_ok=True)
        key, pub = self.workdir / "sa.key", self.workdir / "sa.pub"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
        subprocess.run(
            ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True
        )
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(
            f'{self.token},admin,admin,"system:masters"\n'
            f"{self.controller_token},{CONTROLLER_USER},controller,"
            '"system:serviceaccounts,system:serviceaccounts:qiskit-argo,system:authenticated"\n'
        )
        log = open(self.workdir / "etcd.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.processes.append(
            subprocess.Popen(
                [
                    self._binary("etcd"),
                    f"--data-dir={self.workdir / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                    f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                    "--unsafe-no-fsync=true",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log = open(self.workdir / "kube-apiserver.log", "wb")  # noqa: SIM115
        self.processes.append(
            subprocess.Popen(
                [
                    self._binary("kube-apiserver"),
                    f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                    f"--cert-dir={self.workdir / 'certs'}",
                    f"--secure-port={secure}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    "--service-cluster-ip-range=10.0.0.0/24",
                    f"--service-account-issuer=https://127.0.0.1:{secure}",
                    f"--service-account-key-file={pub}",
                    f"--service-account-signing-key-file={key}",
                    f"--token-auth-file={tokens}",
                    "--authorization-mode=RBAC",
                    "--disable-admission-plugins=ServiceAccount",
                    "--allow-privileged=true",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        self.server = f"https://127.0.0.1:{secure}"
        self._wait_ready()
        for directory in CRD_DIRS:
            for path in sorted(directory.glob("*.yaml")):
                self._install(path)
        if PEERING_CRDS.exists():
            self._install(PEERING_CRDS)
        self.create_namespace("qiskit-argo")
        for path in (RBAC, PEERING_CRDS):
            if path.exists():
                self._apply_all(path)
        return self

    _PATHS = {
        "ServiceAccount": "/api/v1/namespaces/{namespace}/serviceaccounts",
        "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        "ClusterKopfPeering": "/apis/kopf.dev/v1/clusterkopfpeerings",
    }

    def _apply_all(self, path: Path) -> None:
        """Create the RBAC objects (and the peering object) of a YAML file, as kubectl apply would."""
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict) or document.get("kind") not in self._PATHS:
                continue
            namespace = document["metadata"].get("namespace", "default")
            status, answer = self._request("POST", self._PATHS[document["kind"]].format(namespace=namespace), document)
            if status not in (201, 409):
                raise RuntimeError(f"applying {document['kind']} from {path.name}: {status} {answer}")

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                text = response.read()
                return response.status, json.loads(text) if text else {}
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, {"message": text.decode(errors="replace")}

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[0]} exited; see logs in {self.workdir}")
            try:
                if self._request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"kube-apiserver not ready in {timeout}s; see {self.workdir}")

    def _install(self, path: Path) -> None:
        for crd in yaml.safe_load_all(path.read_text()):
            if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                continue
            status, answer = self._request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
            if status not in (201, 409):
                raise RuntimeError(f"installing {path.name}: {status} {answer}")
            name = crd["metadata"]["name"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                _, current = self._request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                conditions = {c["type"]: c["status"] for c in (current.get("status") or {}).get("conditions", [])}
                if conditions.get("Established") == "True":
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError(f"CRD {name} not established")

    def create_namespace(self, name: str) -> None:
        status, answer = self._request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        if status not in (201, 409):
            raise RuntimeError(f"namespace {name}: {status} {answer}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
