"""The command line against a cluster: ``qiskit-argo submit/get/describe/logs/cancel/results``.

``kube`` is the one module that talks to the Kubernetes API for the command line (the official
``kubernetes`` client, kubeconfig or in-cluster config); every API or config error becomes one
``ClusterError`` line that says what to do. ``commands`` turns QiskitJobs, Events and pods into
the rows and lines the commands print, without I/O. ``argo_server`` reads a step's archived log
from the Argo Server once its pod is gone (results go through ``qiskit_argo.artifacts``). The
typer commands live in ``qiskit_argo.cli``. Needs the ``cluster`` extra (``pip install 'qiskit-argo[cluster]'``).
"""

from __future__ import annotations
