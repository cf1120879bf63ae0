"""Fixtures: a Kubernetes API over HTTP (``kubeapi.CliEmulator``) with the real controller's
identity, and a user whose kubeconfig the command line reads, with the RBAC ``USER_RULES``."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("qiskit_argo_controller") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "controller"))

import kmock  # noqa: E402
from typer.testing import CliRunner, Result  # noqa: E402

from qiskit_argo.cli import app  # noqa: E402
from tests.cluster.kubeapi import CliEmulator, declare_cli_cluster  # noqa: E402
from tests.controller.cluster import (  # noqa: E402
    CRD_DIRS,
    PEERING_CRDS,
    RBAC,
    Api,
    Cluster,
    controller_rules,
    write_kubeconfig,
)

#: What a person using the cluster commands needs in a job namespace (the README lists it).
USER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["qiskit-argo.io"],
        "resources": ["qiskitjobs"],
        "verbs": ["get", "list", "watch", "create", "patch"],
    },
    {"apiGroups": ["argoproj.io"], "resources": ["workflows"], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["events", "pods"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
]
#: Someone who may only look.
VIEWER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["qiskit-argo.io"], "resources": ["qiskitjobs"], "verbs": ["get", "list"]},
]


@dataclass
class CliCluster:
    """The test's cluster plus the user's side: kubeconfigs and the command line."""

    cluster: Cluster
    emulator: CliEmulator
    server: str
    user: Path
    viewer: Path
    tmp: Path

    @property
    def namespace(self) -> str:
        return self.cluster.namespace

    async def cli(self, *args: str, kubeconfig: Path | None = None, env: dict[str, str | None] | None = None) -> Result:
        """``qiskit-argo <args> -n <namespace>`` as the user, in a thread (the API runs in this loop)."""
        # --kubeconfig, not KUBECONFIG: the environment is the controller's too (it runs in this process).
        where = ["--kubeconfig", str(kubeconfig or self.user)]
        return await asyncio.to_thread(
            CliRunner().invoke, app, [*args, "-n", self.namespace, *where], env=env, catch_exceptions=False
        )


@pytest.fixture
async def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CliCluster]:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    for name in ("ARGO_SERVER", "ARGO_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    namespace = f"qj-{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        emulator = await stack.enter_async_context(CliEmulator())
        server = await stack.enter_async_context(kmock.Server(emulator))
        declare_cli_cluster(emulator, crds=CRD_DIRS)
        controller, user, viewer = (secrets.token_hex(8) for _ in range(3))
        emulator.grant(controller, controller_rules(RBAC, PEERING_CRDS))
        emulator.grant(user, USER_RULES, who="user")
        emulator.grant(viewer, VIEWER_RULES, who="viewer")
        api = await stack.enter_async_context(Api(str(server.url)))
        kubeconfig = write_kubeconfig(tmp_path / "controller.kubeconfig", str(server.url), controller)
        cluster = Cluster("kmock", api, namespace, kubeconfig, emulator)
        try:
            yield CliCluster(
                cluster,
                emulator,
                str(server.url),
                write_kubeconfig(tmp_path / "user.kubeconfig", str(server.url), user),
                write_kubeconfig(tmp_path / "viewer.kubeconfig", str(server.url), viewer),
                tmp_path,
            )
        finally:
            for running in cluster.controllers:
                await running.kill()


# The ARTIFACTS tests' real S3-compatible server (moto) and the real store-results step's outputs.
from tests.artifacts.conftest import s3_endpoint, stored_outputs  # noqa: E402, F401
