"""The validate step: parse the job and its circuit, check limits, normalize the request.

Pure functions do the work (``validate_job`` and the checks it calls); ``run_step`` is the thin
file wrapper the ``validate`` workflow step calls. Every problem is a permanent error whose one-line
message names the field (``spec.parameterValues[2]``), the value and what to do:

* ``InvalidJobError`` — the QiskitJob itself is malformed (field path from pydantic, camelCase).
* ``InvalidCircuitError`` — the circuit cannot be read or does not fit the job: OpenQASM syntax
  (with the source line), QPY, a missing ConfigMap key, bindings that do not match the circuit's
  parameters, observables of the wrong width, a sampler circuit without measurements, and what
  Qiskit Aer cannot run (real-time variables, stretches, opaque gates, angles that are not finite,
  conditions Aer cannot evaluate; see ``circuits.check_circuit``).
* ``LimitExceededError`` — qubits, shots, instructions (after expanding gate definitions) or sweep
  size above the platform ``Limits``; absurd register sizes are refused before any parser runs.

Custom gates are replaced by their definitions (``circuits.flatten``), so the circuit that travels
on as QPY is linear in its size (QPY stores a custom gate's definition once per call: a nested
gate-definition bomb would otherwise serialise exponentially) and the executor has nothing left to
unroll. For the estimator, final measurements are stripped (expectation values are computed on the
state). The metrics describe the circuit that travels on to the execute step. Every message that
quotes input is one line of at most 300 characters, control characters escaped.

No Aer and no qiskit-ibm-runtime are imported here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from qiskit_argo.api import CircuitMetrics, CircuitSource, ConfigMapKeyRef, Observable, Primitive, QiskitJob
from qiskit_argo.errors import InvalidCircuitError, InvalidJobError, LimitExceededError, one_line, quote
from qiskit_argo.request import ExecutionRequest, Limits
from qiskit_argo.stepio import read_artifact

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

__all__ = [
    "ValidatedJob",
    "parse_job_document",
    "parse_limits",
    "read_config_map_key",
    "load_circuit",
    "analyse",
    "has_measurements",
    "check_spec_limits",
    "check_backend_method",
    "check_circuit_limits",
    "check_sampler_bits",
    "prepare_for_primitive",
    "normalize_bindings",
    "check_observable_terms",
    "check_observables",
    "validate_job",
    "run_step",
]

ReadKey = Callable[[ConfigMapKeyRef], bytes]


@dataclass(frozen=True)
class ValidatedJob:
    """What the validate step produces: the circuit to run, the request, and the metrics."""

    circuit: QuantumCircuit
    request: ExecutionRequest
    metrics: CircuitMetrics


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


# --------------------------------------------------------------------------- circuit source


def read_config_map_key(circuit_dir: Path | None, ref: ConfigMapKeyRef) -> bytes:
    """The content of a ConfigMap key mounted as ``circuit_dir/<key>`` (how the kubelet mounts it)."""
    where = "spec.circuit.configMapKeyRef"
    name, key = quote(ref.name, 63), quote(ref.key, 63)
    if "/" in ref.key or ref.key in {".", ".."} or ref.key.startswith(".."):
        raise InvalidJobError(
            one_line(f"{where}.key: {key} is not a ConfigMap key; use letters, digits, '-', '_', '.'")
        )
    if circuit_dir is None or not circuit_dir.is_dir():
        raise InvalidCircuitError(
            one_line(
                f"{where}: ConfigMap {name} is not mounted, so key {key} cannot be read; "
                f"create ConfigMap {name} with key {key} in the job's namespace"
            )
        )
    path = circuit_dir / ref.key
    if not path.is_file():
        keys = sorted(p.name for p in circuit_dir.iterdir() if not p.name.startswith(".."))
        shown = ", ".join(one_line(k, 40) for k in keys[:8]) + (", ..." if len(keys) > 8 else "") if keys else "none"
        raise InvalidCircuitError(
            one_line(
                f"{where}: ConfigMap {name} has no key {key} (it has: {shown}); "
                f"fix spec.circuit.configMapKeyRef.key or add the key to the ConfigMap"
            )
        )
    return path.read_bytes()


def load_circuit(source: CircuitSource, read_key: ReadKey, limits: Limits | None = None) -> QuantumCircuit:
    """The circuit of a job's ``spec.circuit``; ``read_key`` reads a ConfigMap key's bytes.

    With ``limits`` the circuit is bounded before and after parsing (``circuits.check_circuit``).
    """
    from qiskit_argo import circuits

    if source.openqasm is not None:
        return circuits.parse_openqasm(source.openqasm, field="spec.circuit.openqasm", limits=limits)
    if source.qpy is not None:
        return circuits.circuit_from_qpy_base64(source.qpy, field="spec.circuit.qpy", limits=limits)
    ref = source.config_map_key_ref
    assert ref is not None  # CircuitSource guarantees exactly one source
    field = f"spec.circuit.configMapKeyRef (ConfigMap {quote(ref.name)}, key {quote(ref.key)})"
    return circuits.load_circuit_bytes(read_key(ref), field=field, limits=limits)


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


def analyse(circuit: QuantumCircuit, num_bindings: int = 1) -> CircuitMetrics:
    """What a person wants to know about the circuit before it runs."""
    return CircuitMetrics(
        num_qubits=circuit.num_qubits,
        num_clbits=circuit.num_clbits,
        depth=circuit.depth(),
        size=circuit.size(),
        num_parameters=circuit.num_parameters,
        count_ops={str(name): int(count) for name, count in circuit.count_ops().items()},
        has_measurements=has_measurements(circuit),
        num_bindings=num_bindings,
    )


# --------------------------------------------------------------------------- checks


def _over(field: str, what: str, value: int, limit: int, todo: str) -> LimitExceededError:
    return LimitExceededError(f"{field}: {value} {what} exceeds the limit of {limit}; {todo}")


def check_spec_limits(job: QiskitJob, limits: Limits) -> None:
    """Limits that need only the spec: shots and sweep size."""
    spec = job.spec
    if spec.primitive == Primitive.SAMPLER.value and spec.effective_shots > limits.max_shots:
        raise _over("spec.shots", "shots", spec.effective_shots, limits.max_shots, "lower spec.shots")
    bindings = len(spec.parameter_values or [])
    if bindings > limits.max_bindings:
        raise _over(
            "spec.parameterValues",
            "bindings",
            bindings,
            limits.max_bindings,
            "split the sweep into several QiskitJobs",
        )


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


def check_circuit_limits(circuit: QuantumCircuit, limits: Limits) -> None:
    """Limits on the circuit itself: qubits, clbits and instructions after expanding gate
    definitions, and what Qiskit Aer cannot run (``circuits.check_circuit``)."""
    from qiskit_argo import circuits

    circuits.check_circuit(circuit, limits, field="spec.circuit")


def check_sampler_bits(circuit: QuantumCircuit) -> None:
    """The sampler returns classical registers: a bit outside every register would be lost."""
    loose = [bit for bit in circuit.clbits if not circuit.find_bit(bit).registers]
    if loose:
        raise InvalidCircuitError(
            f"spec.circuit: {len(loose)} classical bits belong to no classical register, so the sampler cannot "
            "return them; put every classical bit in a register (QuantumCircuit(QuantumRegister, ClassicalRegister))"
        )


def prepare_for_primitive(circuit: QuantumCircuit, primitive: str) -> QuantumCircuit:
    """The circuit the primitive runs: the sampler needs measurements; the estimator drops final ones."""
    if primitive == Primitive.ESTIMATOR.value:
        return circuit.remove_final_measurements(inplace=False) if has_measurements(circuit) else circuit
    if not has_measurements(circuit):
        raise InvalidCircuitError(
            "spec.circuit: the circuit has no measurements, so the sampler would return no counts; "
            "add them (OpenQASM 2: `measure q -> c;`, OpenQASM 3: `c = measure q;`) or use primitive: estimator"
        )
    return circuit


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(one_line(name, 24) for name in names[:10])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 10 else "")


def normalize_bindings(
    parameter_names: Sequence[str],
    parameter_values: Sequence[Sequence[float]] | None,
) -> list[list[float]]:
    """Every binding as a row of floats in ``parameter_names`` order (the circuit's parameter order).

    An unparameterized circuit takes no values; a parameterized one needs at least one binding.
    """
    names = list(parameter_names)
    count = len(names)
    plural = "parameter" if count == 1 else "parameters"
    if not parameter_values:
        if count:
            raise InvalidCircuitError(
                one_line(
                    f"spec.parameterValues: the circuit has {count} {plural} ({_names(names)}) but no values were "
                    "given; add spec.parameterValues, e.g. [[0.1, ...]] in that order"
                )
            )
        return []
    if not count:
        raise InvalidCircuitError(
            "spec.parameterValues: the circuit has no parameters; remove spec.parameterValues "
            "(or declare inputs, e.g. `input float[64] theta;`)"
        )
    rows: list[list[float]] = []
    for i, binding in enumerate(parameter_values):
        where = f"spec.parameterValues[{i}]"
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


def check_observable_terms(observables: Sequence[Mapping[str, float]]) -> None:
    """Every key is a Pauli string and every coefficient a finite number.

    The API server cannot check map keys, so a job on a cluster reaches this step with whatever
    keys it was given; Python's JSON reader accepts ``Infinity`` and ``NaN``.
    """
    for i, terms in enumerate(observables):
        for label, coefficient in terms.items():
            if not _PAULI_STRING.fullmatch(label):
                raise InvalidJobError(
                    one_line(
                        f"spec.observables[{i}]: {quote(label)} is not a Pauli string; write one letter "
                        "I, X, Y or Z per qubit (qubit 0 rightmost)"
                    )
                )
            if not math.isfinite(coefficient):
                raise InvalidJobError(
                    one_line(
                        f"spec.observables[{i}]: the coefficient of {quote(label)} is {coefficient}; "
                        "use a finite number"
                    )
                )


def check_observables(observables: Sequence[Observable], num_qubits: int) -> None:
    """Every Pauli string of every observable has one letter per circuit qubit, and every
    coefficient is finite."""
    check_observable_terms([observable.paulis for observable in observables])
    for i, observable in enumerate(observables):
        for label in observable.paulis:
            if len(label) != num_qubits:
                raise InvalidCircuitError(
                    one_line(
                        f"spec.observables[{i}]: {quote(label)} acts on {len(label)} qubits but the circuit "
                        f"has {num_qubits}; write one Pauli letter per qubit (qubit 0 rightmost, I for none)"
                    )
                )


# --------------------------------------------------------------------------- the whole step


def _no_config_maps(ref: ConfigMapKeyRef) -> bytes:
    return read_config_map_key(None, ref)


def validate_job(job: QiskitJob, limits: Limits, read_key: ReadKey = _no_config_maps) -> ValidatedJob:
    """Check everything that can be checked before running; return the circuit, request and metrics."""
    from qiskit_argo import circuits

    spec = job.spec
    is_sampler = spec.primitive == Primitive.SAMPLER.value
    check_spec_limits(job, limits)
    check_backend_method(job)
    if not is_sampler:
        check_observable_terms(spec.observables or [])
    observables = [Observable(paulis=terms) for terms in spec.observables or []]
    circuit = load_circuit(spec.circuit, read_key, limits)  # bounded and checked (circuits.check_circuit)
    circuit = circuits.flatten(circuit)
    circuit = prepare_for_primitive(circuit, spec.primitive)
    if is_sampler:
        check_sampler_bits(circuit)
    names = [parameter.name for parameter in circuit.parameters]
    rows = normalize_bindings(names, spec.parameter_values)
    if not is_sampler:
        check_observables(observables, circuit.num_qubits)
    request = ExecutionRequest(
        job_name=job.name,
        namespace=job.namespace,
        primitive=spec.primitive,
        shots=spec.effective_shots if is_sampler else None,
        precision=None if is_sampler else spec.precision,
        observables=None if is_sampler else observables,
        parameter_names=names,
        parameter_values=rows,
        aer=spec.backend.aer,
        optimization_level=spec.optimization_level,
        uid=job.metadata.uid,
        generation=job.metadata.generation or 0,
        backend_ref=spec.backend.ref,
        selector=spec.backend.selector,
        ibm=spec.backend.ibm,
        session_ref=spec.session_ref,
    )
    return ValidatedJob(circuit=circuit, request=request, metrics=analyse(circuit, max(len(rows), 1)))


def _read_job_file(job_file: Path) -> Any:
    try:
        return json.loads(read_artifact(job_file, "job"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problem = f"{error.msg} at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else str(error)
        raise InvalidJobError(
            one_line(f"QiskitJob: not JSON ({one_line(problem, 120)}); pass the job as JSON")
        ) from None


def run_step(job_file: Path, limits_json: str, circuit_dir: Path | None, out_dir: Path) -> None:
    """The validate step: read ``job_file``, write ``circuit.qpy``, ``request.json``, ``metrics.json``."""
    from qiskit_argo.circuits import circuit_to_qpy

    job = parse_job_document(_read_job_file(job_file))
    limits = parse_limits(limits_json)
    validated = validate_job(job, limits, lambda ref: read_config_map_key(circuit_dir, ref))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "circuit.qpy").write_bytes(circuit_to_qpy(validated.circuit))
    (out_dir / "request.json").write_text(json.dumps(validated.request.dump()))
    (out_dir / "metrics.json").write_text(json.dumps(validated.metrics.dump()))
