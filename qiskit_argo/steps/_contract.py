"""What a step is: its declaration (``StepSpec``), the registry of all of them (``StepRegistry``),
and the file layout every step pod shares.

Light on purpose (no pydantic, no Qiskit): every step process and ``qiskit-argo run`` import it first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

__all__ = [
    "ENTRY_POINT",
    "INPUTS_DIR",
    "OUTPUTS_DIR",
    "SCRATCH_MOUNT",
    "CIRCUIT_SOURCE_MOUNT",
    "TERMINATION_LOG",
    "CREDENTIALS_ENV",
    "CREDENTIALS_SECRET_PARAMETER",
    "CREDENTIALS_KEY_PARAMETER",
    "NO_CREDENTIALS_SECRET",
    "NO_CREDENTIALS_KEY",
    "SEMAPHORE_PARAMETER",
    "SEMAPHORE_CONFIGMAP",
    "EGRESS_NONE",
    "EGRESS_IBM_QUANTUM",
    "EGRESS_CLASSES",
    "StepPhase",
    "Resources",
    "SMALL",
    "Condition",
    "StepSpec",
    "StepRegistry",
    "FanOut",
    "Part",
    "SHARD_PARAMETER",
    "SHARDS_PARAMETER",
    "AER_EXECUTORS",
    "shards_parameter",
    "CACHE_KEY_PARAMETER",
    "NO_CACHE_KEY",
    "SINGLE_PART",
    "PART_ARTIFACT",
    "PART_FILE",
    "PARTS_ARTIFACT",
    "CACHED_PARTS_ARTIFACT",
    "RUN_PARTS_PREFIX",
    "CACHE_PREFIX",
    "CACHE_CONFIGMAP",
    "CACHE_MAX_AGE",
    "SOURCE_ARTIFACTS",
    "SOURCES_DIR",
    "GPU_RESOURCE",
    "CPUS_ENV",
]

#: Console script (``pyproject.toml``) that the step containers run.
ENTRY_POINT = "qiskit-argo-step"
#: Writable emptyDir in every step pod (the root filesystem is read-only).
SCRATCH_MOUNT = "/tmp"
INPUTS_DIR = "/tmp/qiskit-argo/inputs"
OUTPUTS_DIR = "/tmp/qiskit-argo/outputs"
#: Where the validate pod sees a ConfigMap-held circuit (the Workflow's ``circuit-source`` volume).
CIRCUIT_SOURCE_MOUNT = "/etc/qiskit-argo/circuit"
TERMINATION_LOG = Path("/dev/termination-log")

#: Egress classes: what a step's own code may reach over the network. A step pod carries its class
#: as a label, and the NetworkPolicies in kustomize/ select on it (tests/deploy check that every
#: class here has its policy and no policy names another). ``none``: nothing beyond what Argo's
#: own containers need (Aer runs in-process); ``ibm-quantum``: HTTPS to IBM Quantum as well.
EGRESS_NONE = "none"
EGRESS_IBM_QUANTUM = "ibm-quantum"
EGRESS_CLASSES: Mapping[str, str] = MappingProxyType(
    {
        EGRESS_NONE: "no network of its own (kustomize/job-namespace)",
        EGRESS_IBM_QUANTUM: "HTTPS to IBM Quantum (kustomize/components/ibm)",
    }
)

#: The environment variable holding the IBM Quantum API key in a pod that talks to IBM (and only
#: there): Argo fills it from the Secret key named by the step's ``credentials-secret`` and
#: ``credentials-key`` input parameters (``optional``: a local-testing fake backend needs none, and a
#: missing key is the step's one-line ``CredentialsMissing``, not a pod stuck in
#: CreateContainerConfigError). ``qiskit_argo.ibm.credentials`` reads it.
CREDENTIALS_ENV = "QISKIT_IBM_TOKEN"
CREDENTIALS_SECRET_PARAMETER = "credentials-secret"
CREDENTIALS_KEY_PARAMETER = "credentials-key"
#: The Secret name/key passed when no API key is needed (Aer, a fake backend): none exists, none is mounted.
NO_CREDENTIALS_SECRET = "qiskit-argo-no-credentials"
NO_CREDENTIALS_KEY = "token"
#: A step holding a concurrency slot takes the Argo semaphore whose key is its ``semaphore`` input
#: parameter, in this ConfigMap of the job's namespace (the controller writes it from the
#: QiskitBackends' ``maxConcurrentJobs`` before any Workflow names it).
SEMAPHORE_PARAMETER = "semaphore"
SEMAPHORE_CONFIGMAP = "qiskit-argo-semaphores"

#: Sharded execution (``spec.execution.shards``): the schedule step outputs ``shards``, a JSON list
#: of shard ids (``"0-of-4"``, ...; ``qiskit_argo.sharding``); each execute task gets one as its
#: ``shard`` input parameter (Argo ``withParam``).
SHARDS_PARAMETER = "shards"
SHARD_PARAMETER = "shard"
#: The ``executor`` words of the Aer variants (the schedule step writes one; each execute step runs
#: ``when`` its word is chosen).
AER_EXECUTORS = ("aer", "aer_cached", "aer_gpu", "aer_gpu_cached")


def shards_parameter(executor: str) -> str:
    """The schedule step's output listing the shards for the execute step of ``executor``
    (``shards-aer-cached``): the shard ids when that executor was chosen, else ``[]``.

    Each variant fans out over its own list because Argo expands a ``withParam`` task before its
    ``when`` (workflow/controller/dag.go, executeDAGTask → expandTask → processItem): over a
    shared list, a variant not chosen would become a TaskGroup of Skipped children, which Argo
    completes as Succeeded (``completableTaskGroupPhase``), so ``variant.Succeeded`` in
    store-results' ``depends`` would hold for every variant. Over ``[]`` it is one node
    ``Skipped, empty params``.
    """
    return f"{SHARDS_PARAMETER}-{executor.replace('_', '-')}"


#: The schedule step's ``cache-key`` output: the simulator cache key (hex) of a cacheable Aer run,
#: else ``NO_CACHE_KEY``.
CACHE_KEY_PARAMETER = "cache-key"
NO_CACHE_KEY = "none"
#: The id of the one part a step that is not sharded writes (ibm-wait).
SINGLE_PART = "0-of-1"
#: Every execute step writes its result part to ``OUTPUTS_DIR/PART_FILE``; Argo uploads it as the
#: key-only artifact ``part`` (no archive) under ``RUN_PARTS_PREFIX`` (or, for a cached run,
#: ``CACHE_PREFIX/<cache-key>``) as ``<shard id>.json``; store-results downloads both prefixes as
#: the directories ``parts`` and ``cached-parts`` and merges the parts in shard order.
PART_ARTIFACT = "part"
PART_FILE = "part.json"
PARTS_ARTIFACT = "parts"
CACHED_PARTS_ARTIFACT = "cached-parts"
RUN_PARTS_PREFIX = "{{workflow.namespace}}/{{workflow.name}}/{{workflow.uid}}/parts"
CACHE_PREFIX = "qiskit-argo-cache"
#: The Argo memoization cache (a ConfigMap of the job's namespace) of cached execute steps: each
#: entry holds only the pointer Argo keeps (the part's key), never a result; entries older than
#: ``CACHE_MAX_AGE`` are ignored.
CACHE_CONFIGMAP = "qiskit-argo-result-cache"
CACHE_MAX_AGE = "168h"
#: The validate step's key-only input artifacts ``source-0`` ... ``source-7``: the distinct
#: artifact keys a job's sweeps and circuits name (``spec...artifact.key``, in order of first
#: appearance), each downloaded to ``SOURCES_DIR/<index>``.
SOURCE_ARTIFACTS = 8
SOURCES_DIR = "/tmp/qiskit-argo/inputs/sources"
#: How many CPUs a step may keep busy, when its runner knows better than the step can see: the
#: local runner sets it for the shards it runs side by side (the machine's cores shared among
#: them). Unset in a pod, where the step reads its CPU limit from its cgroup.
CPUS_ENV = "QISKIT_ARGO_CPUS"
#: The extended resource an Aer step on a GPU asks for.
GPU_RESOURCE = "nvidia.com/gpu"

#: The QiskitJob phase a step means while it is the step under way: a value of
#: ``qiskit_argo.api.Phase`` (kept a string here so that this module stays light).
StepPhase = Literal["Validating", "Scheduling", "Running"]

#: What ``when`` compares: Argo evaluates a task's ``when`` with govaluate after substitution,
#: reading a bare word as a string, so a value must be one word (no ``-``: that is subtraction).
_WORD = re.compile(r"[a-z][a-z0-9_]*")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True)
class Resources:
    """Requests and limits of a step's main container (Kubernetes quantities)."""

    requests: Mapping[str, str]
    limits: Mapping[str, str]

    def dump(self) -> dict[str, dict[str, str]]:
        return {"requests": dict(self.requests), "limits": dict(self.limits)}


#: What a step that only reads and writes small files needs.
SMALL = Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "1Gi"})


@dataclass(frozen=True)
class Condition:
    """A step runs only when an earlier step's output parameter ``parameter`` is ``equals``
    (Argo: the task's ``when``; otherwise the task is Skipped)."""

    parameter: str
    equals: str

    def __post_init__(self) -> None:
        if not _WORD.fullmatch(self.equals):
            raise ValueError(f"when {self.parameter} == {self.equals!r}: the value must be one word ([a-z][a-z0-9_]*)")


@dataclass(frozen=True)
class FanOut:
    """Run one task per item of the JSON list an earlier step outputs as parameter ``items``
    (Argo ``withParam``), each getting its item as input parameter ``item``."""

    items: str
    item: str


@dataclass(frozen=True)
class Part:
    """The step writes a result part (``PART_FILE``) that store-results gathers: under the run's
    parts prefix, or with ``cached`` under the cache prefix (kept after the Workflow is deleted,
    for Argo ``memoize`` to point at). Its name is the value of input parameter ``shard``, or,
    with ``shard_parameter`` None, ``SINGLE_PART``."""

    cached: bool = False
    shard_parameter: str | None = SHARD_PARAMETER


@dataclass(frozen=True, kw_only=True)
class StepSpec:
    """Everything about one step, declared once; the ClusterWorkflowTemplate, the DAG, the local
    runner, the pod's NetworkPolicy class and the status are all derived from it.

    The file contract: ``input_artifacts`` / ``output_artifacts`` map an Argo artifact name to a
    file name under ``INPUTS_DIR`` / ``OUTPUTS_DIR``; ``input_parameters`` are passed as ``--name
    value``; ``output_parameters`` map a parameter name to the file under ``OUTPUTS_DIR`` holding
    its value. An input named like an earlier step's output is wired to it (``qiskit_argo.workflows``).
    """

    #: The DAG task, the template and the ``qiskit-argo-step NAME`` subcommand.
    name: str
    #: The typed step function; ``main`` calls it with the parsed arguments.
    function: Callable[..., None]
    #: The image that runs it (``naming.image``): ``validator`` or ``executor``.
    component: str
    #: The QiskitJob phase while this is the step under way.
    phase: StepPhase
    #: What ``status.message`` says while it is under way ("Running the circuit").
    activity: str
    #: Whether that message names the chosen backend ("... on aer (automatic): ...").
    shows_backend: bool = False
    input_artifacts: Mapping[str, str] = field(default_factory=dict)
    input_parameters: tuple[str, ...] = ()
    output_artifacts: Mapping[str, str] = field(default_factory=dict)
    output_parameters: Mapping[str, str] = field(default_factory=dict)
    #: Whether the pod mounts the Workflow's ``circuit-source`` volume (a ConfigMap circuit).
    mounts_circuit_source: bool = False
    #: Run only when an earlier step's output says so (a branch of the DAG); None: always.
    when: Condition | None = None
    #: Its main container's requests and limits when the job says nothing.
    resources: Resources = SMALL
    #: Whether the job's ``spec.resources`` apply to this step (merged over ``resources``).
    job_resources: bool = False
    #: Its egress class (``EGRESS_CLASSES``).
    egress: str = EGRESS_NONE
    #: Whether its pod gets the IBM Quantum API key (``CREDENTIALS_ENV``, from the Secret key its
    #: ``credentials-secret``/``credentials-key`` input parameters name); needs egress ``ibm-quantum``.
    credentials: bool = False
    #: Whether it holds the Argo semaphore its ``semaphore`` input parameter names while it runs
    #: (``synchronization.semaphores[].configMapKeyRef`` on ``SEMAPHORE_CONFIGMAP``).
    semaphore: bool = False
    #: The modules the step imports on first use, its own ``qiskit_argo`` module last: a local
    #: run's warm worker imports them ahead (tests/local check the step really imports them).
    preload: tuple[str, ...] = ()
    #: Whether a local run's warm worker imports ``preload`` before the run starts: true for the
    #: steps most runs take; false for a branch whose imports would delay every other run (the IBM
    #: steps: qiskit-ibm-runtime takes about a second to import, and a run that uses IBM has
    #: already imported it to probe its backend).
    warm: bool = True
    #: One task per shard (Argo ``withParam``); None: one task.
    fan_out: FanOut | None = None
    #: The result part it writes for store-results (``Part``); None: none.
    part: Part | None = None
    #: Whether Argo memoizes it (``memoize`` keyed by ``cache-key`` and ``shard`` in
    #: ``CACHE_CONFIGMAP``); needs a cached ``part``.
    memoize: bool = False
    #: Whether it gathers every step's part: waits for the steps with a ``part`` (alternatives) and
    #: receives the ``parts`` and ``cached-parts`` directories.
    gathers_parts: bool = False
    #: Whether it receives the job's key-only source artifacts (``source-0``...; ``SOURCES_DIR``).
    reads_sources: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"step name {self.name!r} is not a DNS label")
        if self.egress not in EGRESS_CLASSES:
            raise ValueError(f"step {self.name}: egress class {self.egress!r} is not one of {sorted(EGRESS_CLASSES)}")
        if self.credentials:
            if self.egress != EGRESS_IBM_QUANTUM:
                raise ValueError(
                    f"step {self.name}: a step with credentials talks to IBM (egress {EGRESS_IBM_QUANTUM})"
                )
            missing = {CREDENTIALS_SECRET_PARAMETER, CREDENTIALS_KEY_PARAMETER} - set(self.input_parameters)
            if missing:
                raise ValueError(f"step {self.name}: a step with credentials takes input parameters {sorted(missing)}")
        if self.fan_out is not None and self.fan_out.item not in self.input_parameters:
            raise ValueError(
                f"step {self.name}: a fanned-out step takes its item as input parameter {self.fan_out.item!r}"
            )
        if self.part is not None and self.part.shard_parameter not in (None, *self.input_parameters):
            raise ValueError(f"step {self.name}: its part is named by input parameter {self.part.shard_parameter!r}")
        if self.memoize and (
            self.part is None or not self.part.cached or CACHE_KEY_PARAMETER not in self.input_parameters
        ):
            raise ValueError(
                f"step {self.name}: a memoized step writes a cached part and takes {CACHE_KEY_PARAMETER!r}"
            )
        if self.semaphore and SEMAPHORE_PARAMETER not in self.input_parameters:
            raise ValueError(
                f"step {self.name}: a step holding a semaphore takes input parameter {SEMAPHORE_PARAMETER!r}"
            )

    def argv(self, parameter_value: dict[str, str] | None = None) -> list[str]:
        """Container args: the step name, then ``--flag value`` for every input and ``--out``.

        ``parameter_value`` maps a parameter to its value; by default the Argo expression
        ``{{inputs.parameters.NAME}}`` is used, which is what the WorkflowTemplate carries.
        """
        values = parameter_value or {}
        args = [self.name]
        for artifact, filename in self.input_artifacts.items():
            args += [f"--{artifact}", f"{INPUTS_DIR}/{filename}"]
        for parameter in self.input_parameters:
            args += [f"--{parameter}", values.get(parameter, f"{{{{inputs.parameters.{parameter}}}}}")]
        if self.mounts_circuit_source:
            args += ["--circuit-dir", CIRCUIT_SOURCE_MOUNT]
        if self.reads_sources:
            args += ["--sources-dir", SOURCES_DIR]
        if self.gathers_parts:
            args += [f"--{PARTS_ARTIFACT}", f"{INPUTS_DIR}/{PARTS_ARTIFACT}"]
            args += [f"--{CACHED_PARTS_ARTIFACT}", f"{INPUTS_DIR}/{CACHED_PARTS_ARTIFACT}"]
        args += ["--out", OUTPUTS_DIR]
        return args


class StepRegistry(Mapping[str, StepSpec]):
    """The steps, by name, in DAG order (an input comes from the latest earlier step that outputs
    it). Immutable; ``with_step`` makes a new one. Equal only to itself (a cache key)."""

    def __init__(self, specs: Iterable[StepSpec]) -> None:
        steps: dict[str, StepSpec] = {}
        for spec in specs:
            if spec.name in steps:
                raise ValueError(f"step {spec.name!r} is registered twice")
            steps[spec.name] = spec
        self._steps = steps

    def __getitem__(self, name: str) -> StepSpec:
        return self._steps[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"StepRegistry({list(self._steps)})"

    def with_step(self, spec: StepSpec, *, after: str | None = None) -> StepRegistry:
        """This registry with ``spec``: in place of the step of the same name, or else right after
        ``after`` (default: last)."""
        specs = list(self._steps.values())
        if spec.name in self._steps:
            return StepRegistry(spec if old.name == spec.name else old for old in specs)
        index = len(specs) if after is None else list(self._steps).index(after) + 1
        return StepRegistry([*specs[:index], spec, *specs[index:]])

    def in_phase(self, phase: str) -> tuple[StepSpec, ...]:
        """The steps that mean ``phase`` (a ``Phase`` value), in order."""
        return tuple(spec for spec in self._steps.values() if spec.phase == phase)

    def producers(self, output: str, *, artifact: bool = False) -> tuple[StepSpec, ...]:
        """The steps that output the parameter (or artifact) ``output``, in order."""
        return tuple(
            spec
            for spec in self._steps.values()
            if output in (spec.output_artifacts if artifact else spec.output_parameters)
        )
