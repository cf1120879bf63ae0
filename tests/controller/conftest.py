"""Fixtures: one ``cluster`` per test, over kmock (always) and a real API server (envtest, when set)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

# The controller is its own package root (controller/); make it importable before it is installed.
if importlib.util.find_spec("qiskit_argo_controller") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "controller"))

import kmock  # noqa: E402

from tests.controller.cluster import (  # noqa: E402
    CRD_DIRS,
    PEERING_CRDS,
    RBAC,
    Api,
    Cluster,
    EnvTest,
    controller_rules,
    write_kubeconfig,
)
from tests.controller.emulator import StrictEmulator, declare_cluster  # noqa: E402

BACKENDS = ["kmock", "envtest"]


@pytest.fixture(scope="session")
def envtest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvTest]:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        pytest.skip("KUBEBUILDER_ASSETS is not set: no real kube-apiserver + etcd here")
    env = EnvTest(Path(assets), tmp_path_factory.mktemp("envtest"))
    try:
        env.start()
    except BaseException:
        env.stop()
        raise
    yield env
    env.stop()


@pytest.fixture(params=BACKENDS)
async def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Cluster]:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    namespace = f"qj-{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "kmock":
            emulator = await stack.enter_async_context(StrictEmulator())
            server = await stack.enter_async_context(kmock.Server(emulator))
            declare_cluster(emulator, crds=CRD_DIRS)
            # The controller gets exactly controller/rbac.yaml (and the peering rules for peering tests).
            token = secrets.token_hex(8)
            emulator.grant(token, controller_rules(RBAC, PEERING_CRDS))
            api = await stack.enter_async_context(Api(str(server.url)))
            kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", str(server.url), token)
            cluster = Cluster("kmock", api, namespace, kubeconfig, emulator)
        else:
            env: EnvTest = request.getfixturevalue("envtest")
            env.create_namespace(namespace)
            api = await stack.enter_async_context(Api(env.server, token=env.token))
            kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", env.server, env.controller_token)
            cluster = Cluster("envtest", api, namespace, kubeconfig)
        try:
            yield cluster
        finally:
            for controller in cluster.controllers:
                await controller.kill()
        if cluster.emulator is not None:
            assert cluster.emulator.denied == [], "the controller needed more than controller/rbac.yaml"
