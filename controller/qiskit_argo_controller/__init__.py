"""qiskit-argo-controller: the kopf operator that turns QiskitJobs into Argo Workflows."""

from qiskit_argo import __version__

__all__ = ["__version__"]
