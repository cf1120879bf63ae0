"""Circuits in and out: OpenQASM 2/3 and QPY with one-line errors, expansion bounds, PUBs.

* ``parse_openqasm`` reads OpenQASM 2 or 3 (the version from the header, or from what the
  program looks like: ``openqasm_version``); errors name the source line. With ``limits``,
  register sizes and integers too large for the parsers are refused before any parser runs, and a
  parser's Rust panic becomes an ``InvalidCircuitError`` (its stderr output swallowed).
* ``circuit_from_qpy`` / ``circuit_to_qpy`` (and their base64 forms) move one circuit through
  QPY, ``circuits_from_qpy`` / ``circuits_to_qpy`` the ``circuit`` artifact's one circuit per PUB
  (QPY is how circuits travel between workflow steps); ``load_circuit_bytes`` /
  ``parse_circuit_text`` read a ConfigMap key that holds either.
* ``expanded_size`` counts instructions after expanding gate definitions without unrolling them;
  ``check_circuit`` refuses what exceeds the ``Limits`` and what Qiskit Aer cannot run;
  ``flatten`` replaces custom gates by their definitions.
* ``sampler_pub`` / ``estimator_pub`` / ``primitive_pub`` build a PUB; ``shard_pubs`` the PUBs of
  one shard (one per slice of the bindings), ``order_values`` fits values to a transpiled circuit.

One concept per private module: ``_text`` (OpenQASM source text, the version), ``_bounds``
(checks before parsing), ``_native`` (parser panics), ``_openqasm`` and ``_qasm3_gates``
(parsing), ``_qpy``, ``_formats`` (a ConfigMap key of either format), ``_limits`` (what a
circuit is checked against), ``_aer`` (what Aer runs and cannot run), ``_expansion`` (sizes and
checks), ``_flatten``, ``_pubs``. Only the standard library is imported with this package; Qiskit
and the OpenQASM importers on first use, Aer and qiskit-ibm-runtime never.
"""

from qiskit_argo.circuits._aer import AER_NATIVE_INSTRUCTIONS
from qiskit_argo.circuits._expansion import check_circuit, expanded_size
from qiskit_argo.circuits._flatten import flatten
from qiskit_argo.circuits._formats import load_circuit_bytes, parse_circuit_text
from qiskit_argo.circuits._limits import CircuitLimits
from qiskit_argo.circuits._openqasm import parse_openqasm
from qiskit_argo.circuits._pubs import (
    estimator_pub,
    order_values,
    primitive_pub,
    sampler_pub,
    shard_pubs,
    sparse_pauli_op,
)
from qiskit_argo.circuits._qpy import (
    QPY_MAGIC,
    circuit_from_qpy,
    circuit_from_qpy_base64,
    circuit_to_qpy,
    circuit_to_qpy_base64,
    circuits_from_qpy,
    circuits_to_qpy,
)
from qiskit_argo.circuits._text import openqasm_version

__all__ = [
    "QPY_MAGIC",
    "AER_NATIVE_INSTRUCTIONS",
    "CircuitLimits",
    "openqasm_version",
    "parse_openqasm",
    "parse_circuit_text",
    "circuit_from_qpy",
    "circuit_from_qpy_base64",
    "circuit_to_qpy",
    "circuit_to_qpy_base64",
    "circuits_from_qpy",
    "circuits_to_qpy",
    "load_circuit_bytes",
    "expanded_size",
    "check_circuit",
    "flatten",
    "sparse_pauli_op",
    "sampler_pub",
    "estimator_pub",
    "primitive_pub",
    "order_values",
    "shard_pubs",
]
