"""The CustomResourceDefinitions of our kinds, generated from the pydantic models in ``qiskit_argo.api``.

Each registered ``api.Kind`` becomes one CRD (``definition(kind)``; ``all_crds()`` for all of
them). The pydantic JSON schema of the kind's model becomes a *structural* ``openAPIV3Schema``
(``_structural``: generic, knows no kind). The cross-field rules of the model's validators are
repeated as CEL ``x-kubernetes-validations`` with the same messages: each kind declares its own
beside its models (``api.job.RULES``); every kind gets the name rule, and a kind whose spec
freezes once started gets the immutability rule, generated from its spec's fields (``_definition``).

The module-level constants describe QiskitJob, as they did before there was more than one kind.
"""

from __future__ import annotations

from typing import Any

from qiskit_argo.api import QISKIT_JOB, Rule
from qiskit_argo.api.job import MUTABLE_SPEC_FIELDS
from qiskit_argo.crd._definition import (
    LABELS,
    all_crds,
    cel_invisible_fields,
    cel_rules,
    definition,
    immutability_rule,
    name_rule,
    openapi_schema,
    prune_nulls,
)

__all__ = [
    "definition",
    "all_crds",
    "qiskitjob_crd",
    "openapi_schema",
    "cel_rules",
    "name_rule",
    "immutability_rule",
    "cel_invisible_fields",
    "prune_nulls",
    "Rule",
    "LABELS",
    "CRD_NAME",
    "CATEGORIES",
    "MUTABLE_SPEC_FIELDS",
    "PRINTER_COLUMNS",
    "CEL_RULES",
]

#: QiskitJob's CRD name, ``qiskitjobs.qiskit-argo.io``.
CRD_NAME = QISKIT_JOB.crd_name
CATEGORIES = list(QISKIT_JOB.categories)
#: QiskitJob's ``kubectl get`` columns, as the CRD writes them.
PRINTER_COLUMNS: list[dict[str, Any]] = [column.entry() for column in QISKIT_JOB.printer_columns]
#: Every CEL rule of QiskitJob's CRD, in order; ``tests/unit/test_crd.py`` evaluates them against fixtures.
CEL_RULES: list[Rule] = cel_rules(QISKIT_JOB)


def qiskitjob_crd() -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of QiskitJob."""
    return definition(QISKIT_JOB)
