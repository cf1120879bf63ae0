"""``python -m qiskit_argo_controller`` is ``qiskit-argo-controller``."""

from qiskit_argo_controller.cli import console

console()
