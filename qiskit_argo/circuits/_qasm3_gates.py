"""OpenQASM 3 ``gate`` definitions converted lazily, so nested definitions are never copied.

``qiskit_qasm3_import``'s stock ``GateBuilder`` deep-copies a gate's whole definition (nested
definitions included) at every call, so ``g16 q;`` of 16 nested two-call gates costs 2^17
instruction copies (15 s) and ``g39`` never finishes. Here a call returns a gate that shares its
definition when it has no parameters and binds a copy of its own body (whose calls are again
lazy) when it has. Qiskit and the importer are imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

__all__ = ["qasm3_converter"]

_QASM3_CONVERTER: Any = None
_IMPORTED_GATE: Any = None


def _imported_gate_class() -> Any:
    """``_ImportedGate``: a gate of an OpenQASM 3 ``gate`` definition, defined on first use (it
    subclasses Qiskit's ``Gate``, and Qiskit is not imported with this module). The module's
    ``__getattr__`` hands it out by name, so a circuit holding one can be pickled."""
    global _IMPORTED_GATE
    if _IMPORTED_GATE is not None:
        return _IMPORTED_GATE
    from qiskit.circuit import Gate

    class _ImportedGate(Gate):
        """A gate of an OpenQASM 3 ``gate`` definition; its definition is built on first use."""

        def __init__(self, name: str, template: QuantumCircuit, order: tuple[Any, ...], params: Sequence[Any]):
            super().__init__(name, template.num_qubits, list(params))
            self._template = template
            self._order = order

        def _define(self) -> None:
            if self._order:
                self._definition = self._template.assign_parameters(
                    dict(zip(self._order, self.params, strict=True)), strict=False
                )
            else:
                self._definition = self._template  # shared: nothing here changes a definition in place

    _ImportedGate.__qualname__ = "_ImportedGate"
    _IMPORTED_GATE = _ImportedGate
    return _ImportedGate


def __getattr__(name: str) -> Any:
    if name == "_ImportedGate":
        return _imported_gate_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def qasm3_converter() -> Any:
    """``qiskit_qasm3_import``'s ``ConvertVisitor``, with gate definitions built when first read."""
    global _QASM3_CONVERTER
    if _QASM3_CONVERTER is not None:
        return _QASM3_CONVERTER
    from qiskit_qasm3_import import converter

    imported_gate = _imported_gate_class()

    class LazyGateBuilder:
        def __init__(self, builder: Any) -> None:
            self._builder = builder
            self._name = builder._name
            self._definition = builder._definition
            self._order = tuple(builder._order)

        def __call__(self, *parameters: Any) -> Any:
            if len(parameters) != len(self._order):
                return self._builder(*parameters)  # raises the importer's own error
            return imported_gate(self._name, self._definition, self._order, parameters)

    class Converter(converter.ConvertVisitor):  # type: ignore[misc]
        def _define_gate(self, name: str, definition: Any, *args: Any) -> Any:
            if isinstance(definition, converter.GateBuilder):
                definition = LazyGateBuilder(definition)
            return super()._define_gate(name, definition, *args)

    _QASM3_CONVERTER = Converter
    return Converter
