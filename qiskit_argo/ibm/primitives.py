"""Running a ``SubmitRequest`` with qiskit-ibm-runtime's primitives (the ones 0.51 does not deprecate).

qiskit-ibm-runtime 0.50 deprecated the server-side ``SamplerV2``/``EstimatorV2`` (what the
top-level ``qiskit_ibm_runtime.Sampler``/``Estimator`` still name) in favour of the client-side
ones built on the Executor, ``qiskit_ibm_runtime.executor_sampler.Sampler`` and
``qiskit_ibm_runtime.executor_estimator.Estimator``; it also deprecated
``options.environment.max_execution_time`` for the top-level ``options.max_execution_time``.
Those are what this module uses, imported by their full module paths. The same code runs against
IBM Quantum (``mode`` an ``IBMBackend``, ``Session`` or ``Batch``) and in local testing mode
(``mode`` a fake backend: ``Executor.run`` hands it to ``QiskitRuntimeLocalService``).

Options set: ``environment.job_tags``, ``max_execution_time``, ``simulator.seed_simulator`` (local
testing mode only) and, for the estimator, ``resilience_level`` (``EstimatorOptions.resilience_level``,
``Literal[0, 1, 2]``, default 1: readout mitigation; 2 adds ZNE). The executor sampler has no
resilience option.
"""

from __future__ import annotations

from typing import Any

from qiskit_argo.ibm.service import SubmitRequest

__all__ = ["run_request"]


def run_request(request: SubmitRequest, mode: Any) -> Any:
    """Submit ``request`` on ``mode`` (a backend, ``Session`` or ``Batch``); the runtime job."""
    primitive: Any
    if request.primitive == "sampler":
        from qiskit_ibm_runtime.executor_sampler import Sampler

        primitive = Sampler(mode=mode)
    else:
        from qiskit_ibm_runtime.executor_estimator import Estimator

        primitive = Estimator(mode=mode)
    options = primitive.options
    options.environment.job_tags = list(request.tags)
    if request.max_execution_time is not None:
        options.max_execution_time = request.max_execution_time
    if request.seed is not None:
        options.simulator.seed_simulator = request.seed
    if request.primitive == "estimator" and request.resilience_level is not None:
        options.resilience_level = request.resilience_level
    if request.primitive == "sampler":
        return primitive.run(list(request.pubs), shots=request.shots)
    return primitive.run(list(request.pubs), precision=request.precision)
