"""PUBs: a circuit with a slice of its bindings as one bindings array.

``sampler_pub`` / ``estimator_pub`` build one PUB; ``primitive_pub`` picks by primitive; a shard
runs one PUB per slice of the job's bindings (``shard_pubs``, reading the ``bindings`` directory
through ``qiskit_argo.sweeps``). Values are columns in the request's parameter order
(``PubRequest.parameter_names``); ``order_values`` puts them in a (transpiled) circuit's order.
Estimator observables broadcast against the bindings, so results read ``evs[binding, observable]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit_argo.errors import InvalidCircuitError

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from qiskit.circuit import QuantumCircuit
    from qiskit.primitives.containers.estimator_pub import EstimatorPub
    from qiskit.primitives.containers.sampler_pub import SamplerPub
    from qiskit.quantum_info import SparsePauliOp

    from qiskit_argo.request import ExecutionRequest

__all__ = ["sparse_pauli_op", "sampler_pub", "estimator_pub", "primitive_pub", "order_values", "shard_pubs"]


def sparse_pauli_op(paulis: Mapping[str, float]) -> SparsePauliOp:
    """``{"ZZ": 1.0, "XX": 0.5}`` as a ``SparsePauliOp`` (qubit 0 is the rightmost letter)."""
    from qiskit.quantum_info import SparsePauliOp

    return SparsePauliOp.from_list(list(paulis.items()))


def _values_array(parameter_values: Sequence[Sequence[float]] | np.ndarray | None, num_parameters: int) -> Any:
    import numpy as np

    if num_parameters == 0 or parameter_values is None or len(parameter_values) == 0:
        return None
    array = np.asarray(parameter_values, dtype=float)
    if array.ndim != 2 or array.shape[1] != num_parameters:
        raise InvalidCircuitError(
            f"parameter values have shape {array.shape}; expected (bindings, {num_parameters}) "
            "in the circuit's parameter order"
        )
    return array


def sampler_pub(
    circuit: QuantumCircuit,
    parameter_values: Sequence[Sequence[float]] | np.ndarray | None,
    shots: int,
) -> SamplerPub:
    """One sampler PUB: the circuit, every binding as one bindings array (shape ``(bindings,)``)."""
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    values = _values_array(parameter_values, circuit.num_parameters)
    return SamplerPub.coerce((circuit, values, shots))


def estimator_pub(
    circuit: QuantumCircuit,
    observables: Sequence[SparsePauliOp],
    parameter_values: Sequence[Sequence[float]] | np.ndarray | None,
    precision: float | None,
) -> EstimatorPub:
    """One estimator PUB whose result has shape ``(bindings, observables)``, or ``(observables,)``
    for an unparameterized circuit.

    The bindings get shape ``(bindings, 1)`` so they broadcast against the ``(observables,)`` array.
    """
    from qiskit.primitives.containers.estimator_pub import EstimatorPub

    values = _values_array(parameter_values, circuit.num_parameters)
    if values is not None:
        values = values.reshape(values.shape[0], 1, values.shape[1])
    return EstimatorPub.coerce((circuit, list(observables), values, precision))


def primitive_pub(
    primitive: str,
    circuit: QuantumCircuit,
    parameter_values: Sequence[Sequence[float]] | np.ndarray | None,
    *,
    shots: int | None = None,
    observables: Sequence[SparsePauliOp] = (),
    precision: float | None = None,
) -> SamplerPub | EstimatorPub:
    """``sampler_pub`` (``shots``, default 1024) or ``estimator_pub`` by ``primitive``."""
    if primitive == "estimator":
        return estimator_pub(circuit, observables, parameter_values, precision)
    return sampler_pub(circuit, parameter_values, shots if shots is not None else 1024)


def order_values(values: np.ndarray | None, names: Sequence[str], circuit: QuantumCircuit) -> np.ndarray | None:
    """``values`` (columns in ``names`` order) with its columns in ``circuit.parameters``' order,
    which transpilation may change; a parameter the circuit lacks is an ``InvalidCircuitError``."""
    if values is None or circuit.num_parameters == 0:
        return None
    order = [parameter.name for parameter in circuit.parameters]
    if order == list(names):
        return values
    index = {name: i for i, name in enumerate(names)}
    missing = [name for name in order if name not in index]
    if missing:
        raise InvalidCircuitError(
            f"the circuit has parameters the bindings do not name ({', '.join(missing[:5])}); rerun the job"
        )
    return values[:, [index[name] for name in order]]


def shard_pubs(
    circuits: Sequence[QuantumCircuit],
    request: ExecutionRequest,
    bindings_dir: Path,
    slices: Sequence[tuple[int, int, int]],
    *,
    observables: Sequence[Sequence[SparsePauliOp]] | None = None,
) -> list[SamplerPub | EstimatorPub]:
    """One PUB per slice ``(pub, start, stop)`` (``sharding.Slice``): circuit
    ``circuits[request.pubs[pub].circuit]`` with rows ``start..stop-1`` of the PUB's values, its
    shots, or its observables (``observables[pub]`` when given: already mapped to a layout; else
    the request's) and precision."""
    from qiskit_argo import sweeps

    pubs: list[SamplerPub | EstimatorPub] = []
    for pub_index, start, stop in slices:
        pub = request.pubs[pub_index]
        circuit = circuits[pub.circuit]
        values = sweeps.load_values(bindings_dir, pub_index, start, stop) if pub.values else None
        values = order_values(values, pub.parameter_names, circuit)
        if observables is not None:
            operators = list(observables[pub_index])
        else:
            operators = [sparse_pauli_op(observable.paulis) for observable in pub.observables or []]
        pubs.append(
            primitive_pub(
                request.primitive,
                circuit,
                values,
                shots=pub.shots,
                observables=operators,
                precision=pub.precision,
            )
        )
    return pubs
