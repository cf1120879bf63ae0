"""The normalized request that travels between steps as the ``request`` artifact.

The validate step turns a QiskitJob into an ``ExecutionRequest``: the circuit sources are gone
(the circuits travel as QPY in ``circuit.qpy``, one per PUB in PUB order), every PUB's bindings
are a values file in the ``bindings`` directory (``qiskit_argo.sweeps``: float64 rows in the
circuit's parameter order), ``shards: auto`` is a number, and every default is filled in. Later
steps read only this (with ``circuit.qpy`` and ``bindings``).

The single-circuit form of a job (``spec.circuit``) is one PUB here, like a job with one entry in
``spec.pubs``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from qiskit_argo.api import AerOptions, BackendSelector, IbmOptions, Observable, Primitive, _Model

__all__ = ["PubRequest", "ExecutionRequest", "Limits"]


class PubRequest(_Model):
    """One PUB: which circuit, its bindings, and its shots (sampler) or precision and observables
    (estimator)."""

    circuit: Annotated[int, Field(ge=0, description="Index of its circuit in circuit.qpy (one circuit per PUB).")]
    parameter_names: Annotated[list[str], Field(description="The circuit's parameters, in its order.")] = []
    num_bindings: Annotated[int, Field(ge=1, description="Rows of its values; 1 when unparameterized.")] = 1
    values: Annotated[
        str | None,
        Field(description="Its values file in the bindings directory (pub-<i>.npy); None when unparameterized."),
    ] = None
    values_from: Annotated[
        dict[str, Any] | None,
        Field(
            description=(
                'Where the rows came from: {"inline": true}, {"configMapKeyRef": {name, key}} or '
                '{"artifact": {key}}, with "sha256" of the values file; None when unparameterized.'
            )
        ),
    ] = None
    shots: Annotated[int | None, Field(description="Shots per binding (sampler).")] = None
    precision: Annotated[float | None, Field(description="Target standard error (estimator); None: the default.")] = (
        None
    )
    observables: Annotated[list[Observable] | None, Field(description="Its observables (estimator).")] = None


class ExecutionRequest(_Model):
    """Everything execute and store-results need, besides the circuits and the bindings themselves."""

    job_name: str
    namespace: str = "default"
    primitive: Primitive
    pubs: Annotated[list[PubRequest], Field(min_length=1, description="The PUBs, in the job's order.")]
    shards: Annotated[
        int,
        Field(
            ge=1, description="Execute tasks the bindings are cut into (qiskit_argo.sharding); at most the bindings."
        ),
    ] = 1
    cache: Annotated[bool, Field(description="spec.execution.cache: reuse an identical seeded Aer run's result.")] = (
        True
    )
    fingerprint: Annotated[
        str,
        Field(
            description=(
                "sha256 (hex) of what the run computes: circuit.qpy, every values file, and the PUBs, primitive and "
                "optimization level (validation.fingerprint); part of the simulator cache key."
            )
        ),
    ] = ""
    aer: AerOptions = AerOptions()
    optimization_level: int = 1
    uid: Annotated[
        str | None, Field(description="The QiskitJob's metadata.uid (part of its IBM identity tag); unset locally.")
    ] = None
    generation: Annotated[int, Field(description="The QiskitJob's metadata.generation the Workflow runs.")] = 0
    backend_ref: Annotated[str | None, Field(description="spec.backend.ref: the QiskitBackend to run on.")] = None
    selector: Annotated[
        BackendSelector | None, Field(description="spec.backend.selector: how to choose among QiskitBackends.")
    ] = None
    ibm: Annotated[IbmOptions, Field(description="spec.backend.ibm: options when it runs on IBM Quantum.")] = (
        IbmOptions()
    )
    session_ref: Annotated[str | None, Field(description="spec.sessionRef: the QiskitSession to run inside.")] = None

    @property
    def total_bindings(self) -> int:
        """Bindings over all PUBs (an unparameterized PUB counts one)."""
        return sum(pub.num_bindings for pub in self.pubs)

    @property
    def bindings_per_pub(self) -> list[int]:
        """Each PUB's bindings, in order (what ``sharding.plan`` cuts)."""
        return [pub.num_bindings for pub in self.pubs]


class Limits(_Model):
    """What the platform allows one job to ask for; the validate step enforces these."""

    max_qubits: Annotated[int, Field(ge=1, description="Most qubits, all registers together.")] = 32
    max_shots: Annotated[int, Field(ge=1)] = 1_000_000
    max_circuit_size: Annotated[
        int,
        Field(
            ge=1,
            description=(
                "Most instructions in the circuit after expanding gate definitions (a for-loop body counts "
                "once per iteration); also the most classical bits."
            ),
        ),
    ] = 200_000
    max_bindings: Annotated[int, Field(ge=1, description="Most parameter bindings in one job, over all its PUBs.")] = (
        1_000_000
    )
    max_pubs: Annotated[int, Field(ge=1, description="Most PUBs in one job (spec.pubs).")] = 64
