"""Controller latency and memory, against a Kubernetes API over HTTP (kmock's strict emulator).

    python bench/controller_latency.py [--jobs 200] [--listed 10000] [--restart 1000]
                                       [--big-flips 6] [--only latency,memory,restart,suspend] [--quick]

The controller runs as its own process (``python -m qiskit_argo_controller``, production options:
kopf's default 0.1 s event batching), logged in through a kubeconfig, exactly as deployed; this
process plays the API server (the emulator from tests/controller), the users and Argo.

1. create → Workflow created: from the job's POST answered to the controller's Workflow POST
   stored, over ``--jobs`` jobs created one at a time, then all at once (a burst).
2. Workflow change → job status patched: from Argo's Workflow PUT answered to the status PATCH
   carrying the new phase stored (validate started → Validating; all done → Succeeded).
3. Memory: the controller's RSS idle, and with ``--listed`` QiskitJobs (finished ones, as a
   long-lived cluster has) listed, watched and handled at startup.
4. Restart over ``--restart`` existing jobs (nine in ten finished, one in ten running with its
   Workflow): every write the controller makes on its first start over them, then on a second
   start (a restart): status patches, annotation patches, Workflow writes, Events. A restart
   over jobs whose status is already right should write nothing.
5. Suspend/resume with a 244 KiB circuit (``--big-flips`` flips): from the user's PATCH of the
   job's ``spec.suspend`` answered to the controller's Workflow PATCH carrying that value stored.

The baseline in the same run is one bare API round trip (a GET of a job) from this process:
the ratio says how many plain requests' worth of time the controller's reaction takes.
Figures are printed as a table and written to bench/out/controller.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(REPO / "controller")]

import kmock  # noqa: E402
from kmock._internal.k8s import KubernetesError  # noqa: E402

from qiskit_argo import workflows  # noqa: E402
from qiskit_argo.api import QiskitJob  # noqa: E402
from qiskit_argo.naming import workflow_name  # noqa: E402
from qiskit_argo.status import next_status  # noqa: E402
from tests.argo_fake import ArgoFake  # noqa: E402
from tests.controller.cluster import CRD_DIRS, Api, bell_spec, big_circuit, write_kubeconfig  # noqa: E402
from tests.controller.emulator import StrictEmulator, declare_cluster  # noqa: E402

NAMESPACE = "bench"
#: The benchmark's own requests carry this token, so the emulator can tell them from the controller's.
BENCH_TOKEN = "bench"
BENCH_AUTH = f"Bearer {BENCH_TOKEN}"
JOBS = f"/apis/qiskit-argo.io/v1alpha1/namespaces/{NAMESPACE}/qiskitjobs"
WORKFLOWS = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/workflows"


class TimedEmulator(StrictEmulator):
    """Records when each successful write was stored, and wakes whoever waits for it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: dict[tuple[str, str], float] = {}
        self.waiters: dict[tuple[str, str], asyncio.Event] = defaultdict(asyncio.Event)
        #: (time, what, request body) of every successful write not made by the benchmark itself.
        self.timeline: list[tuple[float, str, dict[str, Any]]] = []
        self.wrote = asyncio.Event()
        #: (time, "METHOD resource status", body) of every write not by the benchmark that was refused.
        self.refused: list[tuple[float, str, dict[str, Any]]] = []

    def _refused(self, request: Any, status: Any) -> None:
        method = str(request.method.value).upper()
        if request.resource is None or method not in ("POST", "PATCH", "PUT", "DELETE"):
            return
        if (request.headers.get("Authorization") or "") == BENCH_AUTH:
            return
        what = f"{method} {request.resource.plural}" + (f"/{request.subresource}" if request.subresource else "")
        data = request.data if isinstance(request.data, dict) else {}
        self.refused.append((time.perf_counter(), f"{what} {status}", data))

    def mark(self, key: tuple[str, str]) -> None:
        if key not in self.seen:
            self.seen[key] = time.perf_counter()
            self.waiters[key].set()

    async def _handle(self, request: Any) -> Any:
        try:
            response = await super()._handle(request)
        except KubernetesError as error:
            self._refused(request, error.status)
            raise
        if request.resource is not None and getattr(response, "status", 200) >= 400:
            self._refused(request, getattr(response, "status", 0))
        if request.resource is None or getattr(response, "status", 500) >= 300:
            return response
        plural, data = request.resource.plural, request.data if isinstance(request.data, dict) else {}
        method = str(request.method.value).upper()
        if method in ("POST", "PATCH", "PUT", "DELETE") and (request.headers.get("Authorization") or "") != BENCH_AUTH:
            what = f"{method} {plural}" + (f"/{request.subresource}" if request.subresource else "")
            self.timeline.append((time.perf_counter(), what, data))
            self.wrote.set()
        if plural == "workflows" and str(request.method.value) == "POST":
            job = ((data.get("metadata") or {}).get("labels") or {}).get("qiskit-argo.io/job")
            if job:
                self.mark(("workflow", job))
        elif plural == "qiskitjobs" and request.subresource == "status":
            phase = (data.get("status") or {}).get("phase")
            if phase:
                self.mark((phase, str(request.name)))
        return response


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class ControllerProcess:
    """``python -m qiskit_argo_controller`` against the emulator, as deployed (standalone)."""

    def __init__(self, server: str, workdir: Path) -> None:
        self.health = _free_port()
        self.metrics = _free_port()
        env = dict(os.environ)
        env["KUBECONFIG"] = str(write_kubeconfig(workdir / "kubeconfig", server))
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "controller"), str(REPO), env.get("PYTHONPATH", "")])
        self.log = open(workdir / "controller.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qiskit_argo_controller",
                "--standalone",
                f"--liveness=http://127.0.0.1:{self.health}/healthz",
                f"--metrics-port={self.metrics}",
                "--log-format=plain",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def _get(self, port: int, path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            return None

    async def ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the controller exited with {self.process.returncode}")
            if await asyncio.to_thread(self._get, self.health, "/healthz"):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the controller did not get ready")

    async def jobs_in(self, phase: str) -> int:
        text = await asyncio.to_thread(self._get, self.metrics, "/metrics") or ""
        match = re.search(rf'^qiskit_argo_jobs\{{phase="{phase}"\}} (\S+)$', text, re.MULTILINE)
        return int(float(match.group(1))) if match else 0

    @property
    def rss_mib(self) -> float:
        return _rss_mib(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitJob",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": bell_spec(),
    }


class Argo:
    """Writes a Workflow's status as Argo does (GET, change, PUT; again on 409)."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def write(self, name: str, action: Any) -> float:
        while True:
            current = await self.api.ok("GET", f"{WORKFLOWS}/{name}")
            fake = ArgoFake(copy.deepcopy(current))
            action(fake)
            status, _ = await self.api.call("PUT", f"{WORKFLOWS}/{name}", fake.workflow)
            if status == 409:
                continue
            assert status == 200, status
            return time.perf_counter()


def _validating(fake: ArgoFake) -> None:
    fake.start()
    fake.run_step("validate")


def _succeed(fake: ArgoFake) -> None:
    fake.succeed_all()


async def _wait(emulator: TimedEmulator, key: tuple[str, str], timeout: float = 30) -> float:
    await asyncio.wait_for(emulator.waiters[key].wait(), timeout)
    return emulator.seen[key]


async def _one_job(api: Api, emulator: TimedEmulator, argo: Argo, name: str) -> tuple[float, float, float]:
    start = time.perf_counter()
    job = await api.ok("POST", JOBS, _job(name))
    created = time.perf_counter()
    wf = workflow_name(name, job["metadata"]["uid"], NAMESPACE)
    workflow_at = await _wait(emulator, ("workflow", name))
    await _wait(emulator, ("Pending", name))
    changed = await argo.write(wf, _validating)
    validating_at = await _wait(emulator, ("Validating", name))
    changed2 = await argo.write(wf, _succeed)
    succeeded_at = await _wait(emulator, ("Succeeded", name))
    del start
    return workflow_at - created, validating_at - changed, succeeded_at - changed2


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p99_ms": p99 * 1000, "n": len(ordered)}


async def latency(jobs: int, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with TimedEmulator() as emulator, kmock.Server(emulator) as server:
        declare_cluster(emulator, crds=CRD_DIRS)
        async with Api(str(server.url), token=BENCH_TOKEN) as api:
            # Baseline: one bare API round trip from here (a GET of a stored job).
            await api.ok("POST", JOBS, _job("baseline"))
            bare = []
            for _ in range(200):
                t = time.perf_counter()
                await api.ok("GET", f"{JOBS}/baseline")
                bare.append(time.perf_counter() - t)
            results["bare_get"] = _percentiles(bare)

            controller = ControllerProcess(str(server.url), workdir)
            try:
                await controller.ready()
                argo = Argo(api)
                serial: dict[str, list[float]] = {"create": [], "validating": [], "succeeded": []}
                for i in range(jobs):
                    a, b, c = await _one_job(api, emulator, argo, f"s{i}")
                    serial["create"].append(a)
                    serial["validating"].append(b)
                    serial["succeeded"].append(c)
                results["serial"] = {key: _percentiles(values) for key, values in serial.items()}

                # A burst: every job at once, then every Workflow finishing at once.
                names = [f"b{i}" for i in range(jobs)]
                created_at: dict[str, float] = {}
                uids: dict[str, str] = {}

                async def create(name: str) -> None:
                    job = await api.ok("POST", JOBS, _job(name))
                    created_at[name] = time.perf_counter()
                    uids[name] = job["metadata"]["uid"]

                burst_start = time.perf_counter()
                await asyncio.gather(*(create(name) for name in names))
                made = await asyncio.gather(*(_wait(emulator, ("workflow", n), 120) for n in names))
                await asyncio.gather(*(_wait(emulator, ("Pending", n), 120) for n in names))
                burst_created = time.perf_counter() - burst_start
                changed = await asyncio.gather(
                    *(argo.write(workflow_name(n, uids[n], NAMESPACE), _succeed) for n in names)
                )
                done = await asyncio.gather(*(_wait(emulator, ("Succeeded", n), 120) for n in names))
                results["burst"] = {
                    "create": _percentiles([m - created_at[n] for n, m in zip(names, made, strict=True)]),
                    "succeeded": _percentiles([d - c for d, c in zip(done, changed, strict=True)]),
                    "all_workflows_created_s": burst_created,
                }
                results["controller_rss_after_latency_mib"] = controller.rss_mib
            finally:
                controller.stop()
    return results


def _listed_job(index: int, status: dict[str, Any]) -> dict[str, Any]:
    job = _job(f"done-{index:05d}")
    job["metadata"].update(
        uid=str(uuid.uuid4()),
        resourceVersion=str(10 + index),
        generation=1,
        creationTimestamp="2026-01-01T00:00:00Z",
    )
    job["status"] = status
    return job


async def memory(listed: int, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with TimedEmulator() as emulator, kmock.Server(emulator) as server:
        declare_cluster(emulator, crds=CRD_DIRS)
        # A realistic finished status (all steps, metrics, backend, result, location: ~3 kB).
        sample = QiskitJob.model_validate(_listed_job(0, {}) | {"status": None})
        fake = ArgoFake({"metadata": {"name": "w", "namespace": NAMESPACE}, "spec": {}})
        fake.succeed_all()
        status = next_status(sample, fake.workflow, datetime.now(UTC)).dump()
        idle = ControllerProcess(str(server.url), workdir)
        try:
            await idle.ready()
            await asyncio.sleep(2)
            results["idle_rss_mib"] = idle.rss_mib
        finally:
            idle.stop()

        resource = kmock.resource("qiskit-argo.io", "v1alpha1", "qiskitjobs")
        for index in range(listed):
            job = _listed_job(index, copy.deepcopy(status))
            emulator._store(resource, NAMESPACE, job["metadata"]["name"], job)
        emulator._rv = 10 + listed
        results["status_bytes"] = len(json.dumps(status))

        controller = ControllerProcess(str(server.url), workdir)
        try:
            start = time.perf_counter()
            await controller.ready(timeout=120)
            while await controller.jobs_in("Succeeded") < listed:
                if time.perf_counter() - start > 600:
                    raise RuntimeError("the controller did not see every job in 10 minutes")
                await asyncio.sleep(0.5)
            results["all_seen_s"] = time.perf_counter() - start
            samples = []
            for _ in range(10):  # kopf records each job as handled (one annotation patch each); settle
                samples.append(controller.rss_mib)
                await asyncio.sleep(1)
            results["listed"] = listed
            results["peak_sampled_rss_mib"] = max(samples)
            results["settled_rss_mib"] = samples[-1]
            patches = [r for r in emulator._requests if str(r.method.value) == "PATCH"]
            results["status_patches"] = sum(1 for r in patches if r.subresource == "status")
            results["kopf_annotation_patches"] = sum(1 for r in patches if r.subresource is None)
        finally:
            controller.stop()
    return results


def _seeded(emulator: TimedEmulator, name: str, spec: dict[str, Any], drive: Any) -> None:
    """A job (and, unless ``drive`` is None, its Workflow driven by ``drive``) stored with the status
    a correct controller would have written: what a cluster looks like when a controller restarts."""
    jobs = kmock.resource("qiskit-argo.io", "v1alpha1", "qiskitjobs")
    flows = kmock.resource("argoproj.io", "v1alpha1", "workflows")
    raw = _job(name) | {"spec": spec}
    raw["metadata"].update(uid=str(uuid.uuid4()), generation=1, creationTimestamp="2026-01-01T00:00:00Z")
    job = QiskitJob.model_validate(raw)
    workflow: dict[str, Any] | None = None
    if drive is not None:
        workflow = workflows.build(job)
        workflow["metadata"].update(
            uid=str(uuid.uuid4()), generation=1, creationTimestamp="2026-01-01T00:00:00Z", resourceVersion="1"
        )
        fake = ArgoFake(workflow)
        drive(fake)
        workflow = fake.workflow
        workflow["metadata"]["resourceVersion"] = emulator._next_rv()
        emulator._store(flows, NAMESPACE, workflow["metadata"]["name"], workflow)
    raw["status"] = next_status(job, workflow, datetime.now(UTC).replace(microsecond=0)).dump()
    raw["metadata"]["resourceVersion"] = emulator._next_rv()
    emulator._store(jobs, NAMESPACE, name, raw)


def _running(fake: ArgoFake) -> None:
    fake.start()
    for step in ("validate", "schedule"):
        fake.run_step(step)
        fake.succeed_step(step)
    fake.run_step("execute-aer")


async def _quiet(emulator: TimedEmulator, seconds: float) -> None:
    """Wait until no write has happened for ``seconds``."""
    while True:
        emulator.wrote.clear()
        try:
            await asyncio.wait_for(emulator.wrote.wait(), seconds)
        except TimeoutError:
            return


def _write_counts(writes: list[tuple[float, str, dict[str, Any]]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for _, what, _ in writes:
        counts[what] += 1
    return dict(sorted(counts.items()))


async def restart(count: int, workdir: Path) -> dict[str, Any]:
    """Every write of a first start, then of a restart, over ``count`` existing jobs."""
    results: dict[str, Any] = {"jobs": count}
    async with TimedEmulator() as emulator, kmock.Server(emulator) as server:
        declare_cluster(emulator, crds=CRD_DIRS)
        running = max(1, count // 10)
        for index in range(count):
            is_running = index < running
            _seeded(emulator, f"r-{index:05d}", bell_spec(), _running if is_running else ArgoFake.succeed_all)
        results["running"], results["finished"] = running, count - running
        for round_ in ("first_start", "restart"):
            before = len(emulator.timeline)
            controller = ControllerProcess(str(server.url), workdir)
            try:
                start = time.perf_counter()
                await controller.ready(timeout=120)
                while (
                    await controller.jobs_in("Succeeded") < count - running
                    or await controller.jobs_in("Running") < running
                ):
                    if time.perf_counter() - start > 600:
                        raise RuntimeError("the controller did not see every job in 10 minutes")
                    await asyncio.sleep(0.2)
                seen = time.perf_counter() - start
                await _quiet(emulator, 3.0)
            finally:
                controller.stop()
            writes = emulator.timeline[before:]
            results[round_] = {"all_seen_s": seen, "writes": len(writes), "by_kind": _write_counts(writes)}
    return results


async def big_suspend(flips: int, workdir: Path, timeout: float = 45.0) -> dict[str, Any]:
    """Suspend/resume latency of a job with a 244 KiB circuit, flip after flip."""
    results: dict[str, Any] = {"circuit_bytes": len(big_circuit().encode()), "flips": []}
    async with TimedEmulator() as emulator, kmock.Server(emulator) as server:
        declare_cluster(emulator, crds=CRD_DIRS)
        async with Api(str(server.url), token=BENCH_TOKEN) as api:
            controller = ControllerProcess(str(server.url), workdir)
            try:
                await controller.ready()
                spec = bell_spec(circuit={"openqasm": big_circuit()})
                job = await api.ok("POST", JOBS, _job("big") | {"spec": spec})
                name = workflow_name("big", job["metadata"]["uid"], NAMESPACE)
                await _wait(emulator, ("workflow", "big"))
                await Argo(api).write(name, _validating)
                await _wait(emulator, ("Validating", "big"))
                for flip in range(flips):
                    value = flip % 2 == 0  # suspend, resume, suspend, ...
                    since = len(emulator.timeline)
                    await api.ok(
                        "PATCH",
                        f"{JOBS}/big",
                        {"spec": {"suspend": value}},
                        content_type="application/merge-patch+json",
                    )
                    asked = time.perf_counter()
                    wanted = True if value else None
                    latency_s: float | None = None
                    deadline = asked + timeout
                    while latency_s is None and time.perf_counter() < deadline:
                        for at, what, body in emulator.timeline[since:]:
                            if what == "PATCH workflows" and "suspend" in (body.get("spec") or {}):
                                if body["spec"]["suspend"] == wanted:
                                    latency_s = at - asked
                                    break
                        await asyncio.sleep(0.01)
                    results["flips"].append({"suspend": value, "latency_s": latency_s})
                    if latency_s is None:
                        break
                results["refused_writes"] = _write_counts(emulator.refused)
            finally:
                controller.stop()
    return results


def _table(latency_results: dict[str, Any], memory_results: dict[str, Any]) -> str:
    bare = latency_results["bare_get"]["p50_ms"]
    rows = [("measure", "p50 ms", "p99 ms", "n", "p50 / bare GET")]
    for mode in ("serial", "burst"):
        for key, label in (
            ("create", "create → Workflow created"),
            ("validating", "Workflow change → status patched (Validating)"),
            ("succeeded", "Workflow change → status patched (Succeeded)"),
        ):
            figures = latency_results[mode].get(key)
            if figures:
                rows.append(
                    (
                        f"{mode:6} {label}",
                        f"{figures['p50_ms']:.1f}",
                        f"{figures['p99_ms']:.1f}",
                        str(figures["n"]),
                        f"{figures['p50_ms'] / bare:.1f}x",
                    )
                )
    rows.append(("bare API GET (baseline)", f"{bare:.2f}", f"{latency_results['bare_get']['p99_ms']:.2f}", "200", "1x"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append("")
    lines.append(
        f"burst: all {latency_results['burst']['create']['n']} Workflows created and Pending written in "
        f"{latency_results['burst']['all_workflows_created_s']:.2f} s"
    )
    lines.append(
        f"controller RSS idle: {memory_results['idle_rss_mib']:.1f} MiB; with {memory_results['listed']} "
        f"QiskitJobs listed: {memory_results['settled_rss_mib']:.1f} MiB settled "
        f"(peak sampled {memory_results['peak_sampled_rss_mib']:.1f} MiB), all seen in "
        f"{memory_results['all_seen_s']:.1f} s; status patches {memory_results['status_patches']}, "
        f"kopf annotation patches {memory_results['kopf_annotation_patches']}"
    )
    return "\n".join(lines)


def _restart_lines(results: dict[str, Any]) -> list[str]:
    jobs, running, finished = results["jobs"], results["running"], results["finished"]
    lines = [f"restart over {jobs} existing jobs ({running} running, {finished} finished):"]
    for round_ in ("first_start", "restart"):
        figures = results[round_]
        kinds = ", ".join(f"{what} {n}" for what, n in figures["by_kind"].items()) or "nothing"
        seen = figures["all_seen_s"]
        lines.append(f"  {round_.replace('_', ' ')}: {figures['writes']} writes ({kinds}); all seen in {seen:.1f} s")
    return lines


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _suspend_lines(results: dict[str, Any]) -> list[str]:
    flips = " → ".join(
        ("suspend " if flip["suspend"] else "resume ")
        + (_seconds(flip["latency_s"]) if flip["latency_s"] is not None else "never (gave up)")
        for flip in results["flips"]
    )
    return [
        f"suspend/resume of a job with a {results['circuit_bytes'] // 1024} KiB circuit, job PATCH → Workflow PATCH: "
        + flips,
        "  writes the API server refused meanwhile: "
        + (", ".join(f"{what} {n}" for what, n in results["refused_writes"].items()) or "none"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--listed", type=int, default=10_000)
    parser.add_argument("--restart", type=int, default=1000, help="jobs existing when the controller (re)starts")
    parser.add_argument("--big-flips", type=int, default=6, help="suspend/resume flips of a 244 KiB job")
    parser.add_argument("--only", default="latency,memory,restart,suspend", help="comma-separated measures")
    parser.add_argument("--quick", action="store_true", help="20 jobs, 1000 listed, 200 restarted")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.listed, args.restart = 20, 1000, 200
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    results: dict[str, Any] = {}
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if "latency" in only:
            results["latency"] = asyncio.run(latency(args.jobs, workdir))
        if "memory" in only:
            results["memory"] = asyncio.run(memory(args.listed, workdir))
        if "restart" in only:
            results["restart"] = asyncio.run(restart(args.restart, workdir))
        if "suspend" in only:
            results["suspend"] = asyncio.run(big_suspend(args.big_flips, workdir))
    if "latency" in results and "memory" in results:
        lines.append(_table(results["latency"], results["memory"]))
    if "restart" in results:
        lines += _restart_lines(results["restart"])
    if "suspend" in results:
        lines += _suspend_lines(results["suspend"])
    print("\n".join(lines))
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "controller.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
