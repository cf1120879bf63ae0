"""The validate step: parse the job and its circuits, read its sweeps, check limits, normalize the request.

Pure functions do the work (``validate_job`` and the checks it calls); ``run_step`` is the thin
file wrapper the ``validate`` workflow step calls. A job is one or more PUBs (``spec.pubs``; the
single-circuit form ``spec.circuit`` is one PUB), and every problem is a permanent error whose
one-line message names the field (``spec.parameterValues[2]``, ``spec.pubs[1].observables[0]``),
the value and what to do:

* ``InvalidJobError`` — the QiskitJob itself is malformed (field path from pydantic, camelCase).
* ``InvalidCircuitError`` — a circuit or sweep cannot be read or does not fit the job: OpenQASM
  syntax (with the source line), QPY, a missing ConfigMap key or artifact, bindings that do not
  match the circuit's parameters (inline, JSON or ``.npy``: ``qiskit_argo.sweeps``), observables
  of the wrong width, a sampler circuit without measurements, and what Qiskit Aer cannot run
  (real-time variables, stretches, opaque gates, angles that are not finite, conditions Aer cannot
  evaluate; see ``circuits.check_circuit``).
* ``LimitExceededError`` — qubits, shots, instructions (after expanding gate definitions), PUBs or
  bindings (over all PUBs) above the platform ``Limits``; absurd register sizes are refused before
  any parser runs, and a sweep file's row count before its values are read.

Stored sources (``Sources``): a ConfigMap key is read from ``circuit_dir/<ConfigMap>/<key>`` (the
Workflow's projected ``circuit-source`` volume), an artifact from ``sources_dir/<i>``, ``i`` being
the key's position in ``api.job.artifact_keys(spec)`` (the step's input artifact ``source-<i>``).

Custom gates are replaced by their definitions (``circuits.flatten``), so the circuits that travel
on as QPY are linear in their size (QPY stores a custom gate's definition once per call: a nested
gate-definition bomb would otherwise serialise exponentially) and the executor has nothing left to
unroll. For the estimator, final measurements are stripped (expectation values are computed on the
state). The metrics describe PUB 0's circuit as it travels on, with the bindings of all PUBs. Every
message that quotes input is one line of at most 300 characters, control characters escaped.

Outputs (``run_step``): ``circuit.qpy`` (one circuit per PUB, in PUB order), ``request.json``
(``ExecutionRequest``), ``bindings/`` (``sweeps.write_bindings``) and ``metrics.json``.

No Aer and no qiskit-ibm-runtime are imported here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from qiskit_argo.api import CircuitMetrics, CircuitSource, ConfigMapKeyRef, Observable, Primitive, QiskitJob
from qiskit_argo.api.job import PubSpec, QiskitJobSpec, ValuesSource, artifact_keys
from qiskit_argo.errors import InvalidCircuitError, InvalidJobError, LimitExceededError, one_line, quote
from qiskit_argo.request import ExecutionRequest, Limits, PubRequest
from qiskit_argo.stepio import read_artifact

if TYPE_CHECKING:
    import numpy as np
    from qiskit.circuit import QuantumCircuit

__all__ = [
    "DEFAULT_MAX_PUBS",
    "MAX_CIRCUIT_ARTIFACT",
    "Sources",
    "ValidatedJob",
    "parse_job_document",
    "parse_limits",
    "read_config_map_key",
    "read_artifact_source",
    "load_circuit",
    "analyse",
    "analyse_all",
    "has_measurements",
    "check_spec_limits",
    "check_backend_method",
    "check_circuit_limits",
    "check_sampler_bits",
    "prepare_for_primitive",
    "normalize_bindings",
    "check_observable_terms",
    "check_observables",
    "resolve_shards",
    "fingerprint",
    "validate_job",
    "run_step",
]

#: ``Limits.max_pubs`` where the limits predate it.
DEFAULT_MAX_PUBS = 64
#: Largest circuit file read from the artifact repository, in bytes (a circuit of
#: ``Limits.max_circuit_size`` instructions takes far less as QPY or OpenQASM).
MAX_CIRCUIT_ARTIFACT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Sources:
    """Where the validate step finds a job's stored files: ConfigMap keys under
    ``circuit_dir/<ConfigMap name>/<key>`` (the projected ``circuit-source`` volume) and artifacts
    under ``sources_dir/<i>`` (``i``: the key's position in ``artifact_keys(spec)``)."""

    circuit_dir: Path | None = None
    sources_dir: Path | None = None
    keys: Sequence[str] = ()

    def config_map_key(self, ref: ConfigMapKeyRef, where: str) -> bytes:
        return read_config_map_key(self.circuit_dir, ref, field=where)

    def artifact(self, key: str, where: str) -> Path:
        index = list(self.keys).index(key) if key in self.keys else None
        return read_artifact_source(self.sources_dir, index, key, field=where)


@dataclass(frozen=True)
class ValidatedJob:
    """What the validate step produces: the circuits to run (one per PUB), each PUB's values (None
    when unparameterized), the request, and the metrics."""

    circuits: list[QuantumCircuit]
    request: ExecutionRequest
    metrics: CircuitMetrics
    values: list[np.ndarray | None] = dataclass_field(default_factory=list)

    @property
    def circuit(self) -> QuantumCircuit:
        """PUB 0's circuit (the single-circuit form's only one)."""
        return self.circuits[0]


# --------------------------------------------------------------------------- job and limits


def parse_job_document(document: Any) -> QiskitJob:
    """A decoded QiskitJob (wire form, camelCase) as the model; ``InvalidJobError`` names the field."""
    from qiskit_argo.manifests import parse_job

    return parse_job(document, source="QiskitJob")


def parse_limits(limits_json: str) -> Limits:
    """The platform limits from the ``limits`` parameter (a JSON object; ``{}`` or empty = defaults)."""
    from qiskit_argo.manifests import describe_validation_error

    text = limits_json.strip() or "{}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        problem = f"{error.msg} at column {error.colno}"
        raise InvalidJobError(f"limits: not JSON ({problem}); pass an object like {{}}") from None
    if not isinstance(data, dict):
        raise InvalidJobError(f"limits: expected a JSON object, got {type(data).__name__}")
    try:
        return Limits.model_validate(data)
    except ValidationError as error:
        raise InvalidJobError(one_line(describe_validation_error(error, prefix="limits"))) from None


def _max_pubs(limits: Limits) -> int:
    return int(getattr(limits, "max_pubs", DEFAULT_MAX_PUBS))


# --------------------------------------------------------------------------- stored sources


def _safe_component(value: str) -> bool:
    return "/" not in value and value not in {".", ".."} and not value.startswith("..")


def read_config_map_key(
    circuit_dir: Path | None, ref: ConfigMapKeyRef, *, field: str = "spec.circuit.configMapKeyRef"
) -> bytes:
    """The content of a ConfigMap key mounted as ``circuit_dir/<name>/<key>`` (the Workflow's
    projected volume: one folder per referenced ConfigMap, holding the referenced keys)."""
    name, key = quote(ref.name, 63), quote(ref.key, 63)
    if not _safe_component(ref.key):
        raise InvalidJobError(
            one_line(f"{field}.key: {key} is not a ConfigMap key; use letters, digits, '-', '_', '.'")
        )
    if not _safe_component(ref.name):
        raise InvalidJobError(one_line(f"{field}.name: {name} is not a ConfigMap name; use a DNS subdomain"))
    folder = circuit_dir / ref.name if circuit_dir is not None else None
    if folder is None or not folder.is_dir():
        raise InvalidCircuitError(
            one_line(
                f"{field}: ConfigMap {name} is not mounted, so key {key} cannot be read; "
                f"create ConfigMap {name} with key {key} in the job's namespace"
            )
        )
    path = folder / ref.key
    if not path.is_file():
        keys = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".."))
        shown = ", ".join(one_line(k, 40) for k in keys[:8]) + (", ..." if len(keys) > 8 else "") if keys else "none"
        raise InvalidCircuitError(
            one_line(
                f"{field}: ConfigMap {name} has no key {key} (it has: {shown}); "
                f"fix {field}.key or add the key to the ConfigMap"
            )
        )
    return path.read_bytes()


def read_artifact_source(sources_dir: Path | None, index: int | None, key: str, *, field: str) -> Path:
    """The file of the job's ``index``-th artifact key (``sources_dir/<index>``), as Argo
    downloaded it (an optional input artifact: absent when the key is not in the repository)."""
    path = sources_dir / str(index) if sources_dir is not None and index is not None else None
    if path is None or not path.exists():
        raise InvalidCircuitError(
            one_line(
                f"{field}: artifact {quote(key, 80)} is not in the namespace's artifact repository; "
                "upload the file under that key (the bucket the job's Workflows use) or fix the key"
            )
        )
    if not path.is_file():
        raise InvalidCircuitError(
            one_line(
                f"{field}: artifact {quote(key, 80)} is a folder of the artifact repository, not a file; "
                "name one file's key"
            )
        )
    return path


def load_circuit(
    source: CircuitSource,
    sources: Sources | None = None,
    limits: Limits | None = None,
    *,
    field: str = "spec.circuit",
) -> QuantumCircuit:
    """The circuit of a circuit source (``field``: ``spec.circuit``, ``spec.pubs[1].circuit``),
    reading stored ones from ``sources``.

    With ``limits`` the circuit is bounded before and after parsing (``circuits.check_circuit``).
    """
    from qiskit_argo import circuits

    sources = sources or Sources()
    if source.openqasm is not None:
        return circuits.parse_openqasm(source.openqasm, field=f"{field}.openqasm", limits=limits)
    if source.qpy is not None:
        return circuits.circuit_from_qpy_base64(source.qpy, field=f"{field}.qpy", limits=limits)
    ref = source.config_map_key_ref
    if ref is not None:
        data = sources.config_map_key(ref, f"{field}.configMapKeyRef")
        where = f"{field}.configMapKeyRef (ConfigMap {quote(ref.name)}, key {quote(ref.key)})"
        return circuits.load_circuit_bytes(data, field=where, limits=limits)
    artifact = source.artifact
    assert artifact is not None  # CircuitSource guarantees exactly one source
    path = sources.artifact(artifact.key, f"{field}.artifact")
    where = f"{field}.artifact (key {quote(artifact.key)})"
    size = path.stat().st_size
    if size > MAX_CIRCUIT_ARTIFACT:
        raise _over(where, "bytes", size, MAX_CIRCUIT_ARTIFACT, "store a smaller circuit (QPY is the most compact)")
    return circuits.load_circuit_bytes(path.read_bytes(), field=where, limits=limits)


# --------------------------------------------------------------------------- analysis


_CONTROL_FLOW = frozenset({"if_else", "while_loop", "for_loop", "switch_case", "box"})


def has_measurements(circuit: QuantumCircuit) -> bool:
    """Whether any instruction (also inside control flow) is a measurement."""
    names = circuit.count_ops()  # counted in Rust: a 65,536-gate circuit is not walked in Python
    if "measure" in names:
        return True
    if _CONTROL_FLOW.isdisjoint(names):
        return False
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name == "measure":
            return True
        for block in getattr(operation, "blocks", ()):
            if has_measurements(block):
                return True
    return False


def analyse(circuit: QuantumCircuit, num_bindings: int = 1, num_pubs: int = 1) -> CircuitMetrics:
    """What a person wants to know about the circuit before it runs (``num_bindings``: over all
    ``num_pubs`` PUBs)."""
    return CircuitMetrics(
        num_qubits=circuit.num_qubits,
        num_clbits=circuit.num_clbits,
        depth=circuit.depth(),
        size=circuit.size(),
        num_parameters=circuit.num_parameters,
        count_ops={str(name): int(count) for name, count in circuit.count_ops().items()},
        has_measurements=has_measurements(circuit),
        num_bindings=num_bindings,
        num_pubs=num_pubs,
    )


def analyse_all(circuits: Sequence[QuantumCircuit], num_bindings: int) -> CircuitMetrics:
    """The metrics of a job's PUBs together, as the schedule step needs them: the widest width, the
    deepest depth, the most parameters, sizes and operations summed, measurements only if every
    circuit measures (so a Clifford-only method or a device's width is chosen for all of them)."""
    each = [analyse(circuit) for circuit in circuits]
    if len(each) == 1:
        return each[0].model_copy(update={"num_bindings": num_bindings})
    operations: dict[str, int] = {}
    for metrics in each:
        for name, count in metrics.count_ops.items():
            operations[name] = operations.get(name, 0) + count
    return CircuitMetrics(
        num_qubits=max(m.num_qubits for m in each),
        num_clbits=max(m.num_clbits for m in each),
        depth=max(m.depth for m in each),
        size=sum(m.size for m in each),
        num_parameters=max(m.num_parameters for m in each),
        count_ops=operations,
        has_measurements=all(m.has_measurements for m in each),
        num_bindings=num_bindings,
        num_pubs=len(each),
    )


# --------------------------------------------------------------------------- checks


def _over(field: str, what: str, value: int, limit: int, todo: str) -> LimitExceededError:
    return LimitExceededError(f"{field}: {value} {what} exceeds the limit of {limit}; {todo}")


_SPLIT = "split the sweep into several QiskitJobs"


def check_spec_limits(job: QiskitJob, limits: Limits) -> None:
    """Limits that need only the spec: PUBs, shots, and the inline sweeps' size."""
    spec = job.spec
    if spec.pubs is not None and len(spec.pubs) > _max_pubs(limits):
        raise _over("spec.pubs", "PUBs", len(spec.pubs), _max_pubs(limits), "split them into several QiskitJobs")
    if spec.primitive == Primitive.SAMPLER.value:
        for i, pub in enumerate(spec.pubs or []):
            if pub.shots is not None and pub.shots > limits.max_shots:
                raise _over(f"spec.pubs[{i}].shots", "shots", pub.shots, limits.max_shots, "lower the shots")
        if spec.effective_shots > limits.max_shots and (
            spec.pubs is None or any(pub.shots is None for pub in spec.pubs)
        ):
            raise _over("spec.shots", "shots", spec.effective_shots, limits.max_shots, "lower spec.shots")
    if spec.pubs is None:
        bindings = len(spec.parameter_values or [])
        if bindings > limits.max_bindings:
            raise _over("spec.parameterValues", "bindings", bindings, limits.max_bindings, _SPLIT)
        return
    bindings = sum(len(pub.parameter_values or []) for pub in spec.pubs)
    if bindings > limits.max_bindings:
        raise _over("spec.pubs", "inline bindings in all", bindings, limits.max_bindings, _SPLIT)


#: Aer methods that cannot serve a primitive: ``unitary`` and ``superop`` compute the circuit's matrix
#: and run neither ``measure`` (sampler) nor ``save_expval`` (estimator); ``extended_stabilizer``
#: samples but has no ``save_expval``.
_METHOD_CANNOT = {
    ("unitary", Primitive.SAMPLER.value): "measure",
    ("unitary", Primitive.ESTIMATOR.value): "compute expectation values",
    ("superop", Primitive.SAMPLER.value): "measure",
    ("superop", Primitive.ESTIMATOR.value): "compute expectation values",
    ("extended_stabilizer", Primitive.ESTIMATOR.value): "compute expectation values",
}


def check_backend_method(job: QiskitJob) -> None:
    """Refuse an Aer method that cannot serve the job's primitive (Aer would fail every time)."""
    method, primitive = job.spec.backend.aer.method, job.spec.primitive
    cannot = _METHOD_CANNOT.get((method, primitive))
    if cannot:
        raise InvalidJobError(
            f"spec.backend.aer.method={method}: Qiskit Aer's {method} method cannot {cannot}, which the {primitive} "
            "needs; use automatic, statevector, density_matrix, matrix_product_state or stabilizer"
        )


def check_circuit_limits(circuit: QuantumCircuit, limits: Limits, *, field: str = "spec.circuit") -> None:
    """Limits on the circuit itself: qubits, clbits and instructions after expanding gate
    definitions, and what Qiskit Aer cannot run (``circuits.check_circuit``)."""
    from qiskit_argo import circuits

    circuits.check_circuit(circuit, limits, field=field)


def check_sampler_bits(circuit: QuantumCircuit, *, field: str = "spec.circuit") -> None:
    """The sampler returns classical registers: a bit outside every register would be lost."""
    loose = [bit for bit in circuit.clbits if not circuit.find_bit(bit).registers]
    if loose:
        raise InvalidCircuitError(
            f"{field}: {len(loose)} classical bits belong to no classical register, so the sampler cannot "
            "return them; put every classical bit in a register (QuantumCircuit(QuantumRegister, ClassicalRegister))"
        )


def prepare_for_primitive(circuit: QuantumCircuit, primitive: str, *, field: str = "spec.circuit") -> QuantumCircuit:
    """The circuit the primitive runs: the sampler needs measurements; the estimator drops final ones."""
    if primitive == Primitive.ESTIMATOR.value:
        return circuit.remove_final_measurements(inplace=False) if has_measurements(circuit) else circuit
    if not has_measurements(circuit):
        raise InvalidCircuitError(
            f"{field}: the circuit has no measurements, so the sampler would return no counts; "
            "add them (OpenQASM 2: `measure q -> c;`, OpenQASM 3: `c = measure q;`) or use primitive: estimator"
        )
    return circuit


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(one_line(name, 24) for name in names[:10])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 10 else "")


def _no_values(field: str, names: Sequence[str]) -> InvalidCircuitError:
    count = len(names)
    plural = "parameter" if count == 1 else "parameters"
    return InvalidCircuitError(
        one_line(
            f"{field}: the circuit has {count} {plural} ({_names(names)}) but no values were "
            f"given; add {field}, e.g. [[0.1, ...]] in that order"
        )
    )


def normalize_bindings(
    parameter_names: Sequence[str],
    parameter_values: Sequence[Sequence[float]] | None,
    *,
    field: str = "spec.parameterValues",
) -> list[list[float]]:
    """Every binding as a row of floats in ``parameter_names`` order (the circuit's parameter order).

    An unparameterized circuit takes no values; a parameterized one needs at least one binding.
    """
    names = list(parameter_names)
    count = len(names)
    plural = "parameter" if count == 1 else "parameters"
    if not parameter_values:
        if count:
            raise _no_values(field, names)
        return []
    if not count:
        raise InvalidCircuitError(
            f"{field}: the circuit has no parameters; remove {field} (or declare inputs, e.g. `input float[64] theta;`)"
        )
    rows: list[list[float]] = []
    for i, binding in enumerate(parameter_values):
        where = f"{field}[{i}]"
        if len(binding) != count:
            raise InvalidCircuitError(
                one_line(
                    f"{where}: {len(binding)} values given but the circuit has {count} {plural} "
                    f"({_names(names)}); give one value per parameter, in that order"
                )
            )
        row = [float(value) for value in binding]
        for j, value in enumerate(row):
            if not math.isfinite(value):
                raise InvalidCircuitError(
                    one_line(f"{where}: the value for {quote(names[j])} is {value}; use a finite number")
                )
        rows.append(row)
    return rows


_PAULI_STRING = re.compile(r"[IXYZ]+")


def check_observable_terms(observables: Sequence[Mapping[str, float]], *, field: str = "spec.observables") -> None:
    """Every key is a Pauli string and every coefficient a finite number.

    The API server cannot check map keys, so a job on a cluster reaches this step with whatever
    keys it was given; Python's JSON reader accepts ``Infinity`` and ``NaN``.
    """
    for i, terms in enumerate(observables):
        for label, coefficient in terms.items():
            if not _PAULI_STRING.fullmatch(label):
                raise InvalidJobError(
                    one_line(
                        f"{field}[{i}]: {quote(label)} is not a Pauli string; write one letter "
                        "I, X, Y or Z per qubit (qubit 0 rightmost)"
                    )
                )
            if not math.isfinite(coefficient):
                raise InvalidJobError(
                    one_line(f"{field}[{i}]: the coefficient of {quote(label)} is {coefficient}; use a finite number")
                )


def check_observables(observables: Sequence[Observable], num_qubits: int, *, field: str = "spec.observables") -> None:
    """Every Pauli string of every observable has one letter per circuit qubit, and every
    coefficient is finite."""
    check_observable_terms([observable.paulis for observable in observables], field=field)
    for i, observable in enumerate(observables):
        for label in observable.paulis:
            if len(label) != num_qubits:
                raise InvalidCircuitError(
                    one_line(
                        f"{field}[{i}]: {quote(label)} acts on {len(label)} qubits but the circuit "
                        f"has {num_qubits}; write one Pauli letter per qubit (qubit 0 rightmost, I for none)"
                    )
                )


# --------------------------------------------------------------------------- PUBs


def _source_origin(source: ValuesSource) -> tuple[dict[str, Any], str]:
    """A values source as the request records it, and how messages name it."""
    if source.config_map_key_ref is not None:
        ref = source.config_map_key_ref
        return (
            {"configMapKeyRef": {"name": ref.name, "key": ref.key}},
            f"(ConfigMap {quote(ref.name)}, key {quote(ref.key)})",
        )
    assert source.artifact is not None  # ValuesSource guarantees exactly one source
    return {"artifact": {"key": source.artifact.key}}, f"(artifact {quote(source.artifact.key)})"


def _pub_values(
    pub: PubSpec,
    names: list[str],
    prefix: str,
    sources: Sources,
    limits: Limits,
    before: int,
) -> tuple[np.ndarray | None, dict[str, Any] | None]:
    """A PUB's rows (None when unparameterized) and where they came from."""
    import numpy as np

    from qiskit_argo import sweeps

    source = pub.parameter_values_from
    if source is None:
        rows = normalize_bindings(names, pub.parameter_values, field=f"{prefix}.parameterValues")
        if not rows:
            return None, None
        _check_total(f"{prefix}.parameterValues", len(rows), before, limits)
        return np.asarray(rows, dtype=np.float64), {"inline": True}
    field = f"{prefix}.parameterValuesFrom"
    if not names:
        raise InvalidCircuitError(
            f"{field}: the circuit has no parameters; remove {field} (or declare inputs, e.g. `input float[64] theta;`)"
        )
    origin, named = _source_origin(source)
    if source.config_map_key_ref is not None:
        data: bytes | Path = sources.config_map_key(source.config_map_key_ref, f"{field}.configMapKeyRef")
    else:
        assert source.artifact is not None
        data = sources.artifact(source.artifact.key, f"{field}.artifact")
    where = f"{field} {named}"
    values = sweeps.read_source(data, where, parameter_names=names, max_rows=limits.max_bindings, already=before)
    return values, origin


def _over_total(field: str, rows: int, before: int, limits: Limits) -> LimitExceededError:
    return LimitExceededError(
        f"{field}: {rows} bindings, with the {before} of the PUBs before it, exceeds the limit of "
        f"{limits.max_bindings}; {_SPLIT}"
    )


def _check_total(field: str, rows: int, before: int, limits: Limits) -> None:
    if before + rows > limits.max_bindings:
        if not before:
            raise _over(field, "bindings", rows, limits.max_bindings, _SPLIT)
        raise _over_total(field, rows, before, limits)


def _source_key(source: CircuitSource) -> str:
    return json.dumps(source.dump(), sort_keys=True)


def resolve_shards(shards: int | str, total: int) -> int:
    """``spec.execution.shards`` as a number: ``auto`` by the bindings (``sharding.auto_shards``),
    never more than the bindings."""
    from qiskit_argo import sharding

    count = sharding.auto_shards(total) if shards == "auto" else int(shards)
    return max(1, min(count, total))


_FINGERPRINT_NAMESPACE = uuid.UUID("6d1f3c2e-7b1a-4f4e-9a51-2f0c7d8a9b10")


def _canonical(circuit: QuantumCircuit) -> QuantumCircuit:
    """A copy whose QPY bytes depend only on what it computes: parameters get UUIDs from their
    names (a parse gives them random ones), and the circuit a fixed name (parsers number them)."""
    from qiskit.circuit import Parameter

    if circuit.num_parameters:
        mapping = {
            parameter: Parameter(parameter.name, uuid=uuid.uuid5(_FINGERPRINT_NAMESPACE, parameter.name))
            for parameter in circuit.parameters
        }
        canonical = circuit.assign_parameters(mapping, inplace=False)
    else:
        canonical = circuit.copy()
    canonical.name = "pub"
    return canonical


def fingerprint(
    circuits: Sequence[QuantumCircuit], values: Sequence[np.ndarray | None], request: ExecutionRequest
) -> str:
    """sha256 (hex) of what a run computes, the same for the same job whenever it is validated: the
    circuits as QPY (``_canonical``: parameter UUIDs and names fixed), each values file's sha256,
    and canonical JSON of the PUBs (without where their values came from), the primitive and the
    optimization level; each part length-prefixed."""
    from qiskit_argo import circuits as circuit_io
    from qiskit_argo import sweeps

    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        digest.update(struct.pack("!Q", len(data)))
        digest.update(data)

    part(circuit_io.circuits_to_qpy([_canonical(circuit) for circuit in circuits]))
    for rows in values:
        part(b"" if rows is None else bytes.fromhex(sweeps.values_sha256(rows)))
    document = {
        "primitive": request.primitive,
        "optimizationLevel": request.optimization_level,
        "pubs": [pub.model_copy(update={"values_from": None}).dump() for pub in request.pubs],
    }
    part(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- the whole step


def validate_job(job: QiskitJob, limits: Limits, sources: Sources | None = None) -> ValidatedJob:
    """Check everything that can be checked before running; return the circuits, values, request
    and metrics. ``sources`` reads ConfigMap keys and artifacts (default: none mounted)."""
    from qiskit_argo import circuits, sweeps

    spec: QiskitJobSpec = job.spec
    sources = sources or Sources()
    if not sources.keys:
        sources = Sources(sources.circuit_dir, sources.sources_dir, artifact_keys(spec))
    is_sampler = spec.primitive == Primitive.SAMPLER.value
    single = spec.pubs is None
    check_spec_limits(job, limits)
    check_backend_method(job)
    pub_specs = spec.pub_specs()
    if not is_sampler:
        for i, pub in enumerate(pub_specs):
            check_observable_terms(pub.observables or [], field=_prefix(single, i) + ".observables")
    prepared: dict[str, QuantumCircuit] = {}
    run: list[QuantumCircuit] = []
    values: list[np.ndarray | None] = []
    pubs: list[PubRequest] = []
    total = 0
    for i, pub in enumerate(pub_specs):
        prefix = _prefix(single, i)
        key = _source_key(pub.circuit)
        circuit = prepared.get(key)
        if circuit is None:
            field = f"{prefix}.circuit"
            circuit = load_circuit(pub.circuit, sources, limits, field=field)  # bounded and checked
            circuit = circuits.flatten(circuit)
            circuit = prepare_for_primitive(circuit, spec.primitive, field=field)
            if is_sampler:
                check_sampler_bits(circuit, field=field)
            prepared[key] = circuit
        names = [parameter.name for parameter in circuit.parameters]
        rows, origin = _pub_values(pub, names, prefix, sources, limits, total)
        count = 1 if rows is None else len(rows)
        if rows is None:
            _check_total(f"{prefix}.circuit", count, total, limits)
        total += count
        observables = [Observable(paulis=terms) for terms in pub.observables or []]
        if not is_sampler:
            check_observables(observables, circuit.num_qubits, field=f"{prefix}.observables")
        if origin is not None and rows is not None:
            origin["sha256"] = sweeps.values_sha256(rows)
        run.append(circuit)
        values.append(rows)
        pubs.append(
            PubRequest(
                circuit=i,
                parameter_names=names,
                num_bindings=count,
                values=None if rows is None else sweeps.values_file(i),
                values_from=origin,
                shots=pub.effective_shots if is_sampler else None,
                precision=None if is_sampler else pub.precision,
                observables=None if is_sampler else observables,
            )
        )
    request = ExecutionRequest(
        job_name=job.name,
        namespace=job.namespace,
        primitive=spec.primitive,
        pubs=pubs,
        shards=resolve_shards(spec.execution.shards, total),
        cache=spec.execution.cache,
        aer=spec.backend.aer,
        optimization_level=spec.optimization_level,
        uid=job.metadata.uid,
        generation=job.metadata.generation or 0,
        backend_ref=spec.backend.ref,
        selector=spec.backend.selector,
        ibm=spec.backend.ibm,
        session_ref=spec.session_ref,
    )
    request.fingerprint = fingerprint(run, values, request)
    metrics = analyse_all(run, total)
    return ValidatedJob(circuits=run, request=request, metrics=metrics, values=values)


def _prefix(single: bool, index: int) -> str:
    return "spec" if single else f"spec.pubs[{index}]"


def _read_job_file(job_file: Path) -> Any:
    try:
        return json.loads(read_artifact(job_file, "job"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problem = f"{error.msg} at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else str(error)
        raise InvalidJobError(
            one_line(f"QiskitJob: not JSON ({one_line(problem, 120)}); pass the job as JSON")
        ) from None


def run_step(
    job_file: Path,
    limits_json: str,
    circuit_dir: Path | None,
    out_dir: Path,
    sources_dir: Path | None = None,
) -> None:
    """The validate step: read ``job_file`` (and its stored sources); write ``circuit.qpy`` (one
    circuit per PUB), ``request.json``, ``bindings/`` and ``metrics.json``."""
    from qiskit_argo import sweeps
    from qiskit_argo.circuits import circuits_to_qpy

    job = parse_job_document(_read_job_file(job_file))
    limits = parse_limits(limits_json)
    validated = validate_job(job, limits, Sources(circuit_dir, sources_dir, artifact_keys(job.spec)))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "circuit.qpy").write_bytes(circuits_to_qpy(validated.circuits))
    sweeps.write_bindings(out_dir / "bindings", validated.values)
    (out_dir / "request.json").write_text(json.dumps(validated.request.dump()))
    (out_dir / "metrics.json").write_text(json.dumps(validated.metrics.dump()))
