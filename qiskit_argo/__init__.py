"""qiskit-argo: run Qiskit work on Kubernetes as Argo Workflows, driven by QiskitJob resources."""

__version__ = "0.1.0"

__all__ = ["__version__"]
