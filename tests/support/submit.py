"""The Workflow that ``argo submit --from clusterworkflowtemplate/qiskit-job-v1 -p job=JSON`` creates.

Argo's CLI builds it with ``NewWorkflowFromWorkflowTemplate`` (generateName, the template label,
``spec.workflowTemplateRef``) and adds each ``-p NAME=VALUE`` to ``spec.arguments.parameters``.
"""

from __future__ import annotations

from typing import Any

from qiskit_argo import workflows
from qiskit_argo.naming import TEMPLATE_NAME

__all__ = ["submitted_from_template"]


def submitted_from_template(job_json: str | None, **spec: Any) -> dict[str, Any]:
    """That Workflow; ``job_json=None`` leaves ``-p job`` out; ``spec`` adds fields to its spec."""
    parameters = [] if job_json is None else [{"name": workflows.JOB_PARAMETER, "value": job_json}]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "generateName": f"{TEMPLATE_NAME}-",
            "labels": {"workflows.argoproj.io/cluster-workflow-template": TEMPLATE_NAME},
        },
        "spec": {
            "workflowTemplateRef": {"name": TEMPLATE_NAME, "clusterScope": True},
            **({"arguments": {"parameters": parameters}} if parameters else {}),
            **spec,
        },
    }
