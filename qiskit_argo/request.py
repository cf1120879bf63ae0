"""The normalized request that travels between steps as the ``request`` artifact.

The validate step turns a QiskitJob into an ``ExecutionRequest``: the circuit source is gone (the
circuit travels as QPY), parameter bindings are plain rows in the circuit's parameter order, and
every default is filled in. Later steps read only this.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from qiskit_argo.api import AerOptions, BackendSelector, IbmOptions, Observable, Primitive, _Model

__all__ = ["ExecutionRequest", "Limits"]


class ExecutionRequest(_Model):
    """Everything execute and store-results need, besides the circuit itself."""

    job_name: str
    namespace: str = "default"
    primitive: Primitive
    shots: int | None = None
    precision: float | None = None
    observables: list[Observable] | None = None
    parameter_names: list[str] = []
    parameter_values: Annotated[
        list[list[float]],
        Field(description="One row per binding, columns in parameter_names order; empty when unparameterized."),
    ] = []
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
    max_bindings: Annotated[int, Field(ge=1, description="Most parameter bindings in one sweep.")] = 100_000
