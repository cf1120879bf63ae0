"""What the cluster commands print, computed from API objects (dicts), with no I/O.

``job_row`` is one line of ``qiskit-argo get`` (the CRD's printer columns: Name, Phase, Backend,
Shots, Age, Message; ``-o wide`` adds Primitive, Qubits, Workflow, IBM job, Cost).
``describe_sections`` is ``qiskit-argo describe``. ``exit_code`` maps a finished job's phase and
reason to the command line's exit codes. ``step_selector``/``pod_step`` find a job's step pods by
the labels Argo and our WorkflowTemplates put on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qiskit_argo.errors import EXIT_OK, EXIT_PERMANENT, EXIT_TRANSIENT

__all__ = [
    "COLUMNS",
    "WIDE_COLUMNS",
    "FINAL_PHASES",
    "PERMANENT_REASONS",
    "WORKFLOW_LABEL",
    "STEP_LABEL",
    "MAIN_CONTAINER",
    "age",
    "cost_text",
    "job_row",
    "describe_sections",
    "exit_code",
    "step_selector",
    "pod_step",
]

COLUMNS = ["NAME", "PHASE", "BACKEND", "SHOTS", "AGE", "MESSAGE"]
WIDE_COLUMNS = [*COLUMNS, "PRIMITIVE", "QUBITS", "WORKFLOW", "IBM JOB", "COST"]
FINAL_PHASES = frozenset({"Succeeded", "Failed"})
#: Failure reasons no retry can fix (the job itself is wrong): exit 2; other failures exit 1.
PERMANENT_REASONS = frozenset(
    {
        "InvalidSpec",
        "InvalidCircuit",
        "LimitExceeded",
        "PermanentFailure",
        "UnsafePath",
        "BackendNotFound",
        "NoSuitableBackend",
        "CredentialsMissing",
        "CredentialsRejected",
        "NoiseModelUnavailable",
    }
)
#: The label Argo puts on every pod of a Workflow (argo-workflows ``common.LabelKeyWorkflow``).
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
#: The label our WorkflowTemplates put on each step's pod (``workflowtemplates/qiskit-job-v1.yaml``).
STEP_LABEL = "qiskit-argo.io/step"
#: The container of an Argo pod that runs the step (beside ``init`` and ``wait``).
MAIN_CONTAINER = "main"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age(timestamp: Any, now: datetime | None = None) -> str:
    """How long ago, as kubectl prints it (``42s``, ``5m``, ``3h``, ``12d``); ``<unknown>`` if unset."""
    when = _time(timestamp)
    if when is None:
        return "<unknown>"
    seconds = max(0, int(((now or datetime.now(UTC)) - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _status(job: dict[str, Any]) -> dict[str, Any]:
    status = job.get("status")
    return status if isinstance(status, dict) else {}


def _spec(job: dict[str, Any]) -> dict[str, Any]:
    spec = job.get("spec")
    return spec if isinstance(spec, dict) else {}


def _amount(cost: Any) -> str | None:
    if not isinstance(cost, dict):
        return None
    words = []
    if cost.get("quantumSeconds") not in (None, "", "0"):
        words.append(f"{cost['quantumSeconds']} qs")
    if cost.get("amount") not in (None, "", "0", "0.00"):
        words.append(f"{cost['amount']} {cost.get('currency') or ''}".strip())
    return ", ".join(words) or "0"


def cost_text(job: dict[str, Any]) -> str:
    """The job's cost in one cell: charged, else reserved, else estimated (so marked)."""
    cost = _status(job).get("cost") or {}
    for key, mark in (("charged", ""), ("reserved", "reserved "), ("estimate", "≈ ")):
        text = _amount(cost.get(key))
        if text is not None:
            return mark + text
    return ""


def job_row(job: dict[str, Any], *, wide: bool = False, now: datetime | None = None) -> list[str]:
    """One row of ``qiskit-argo get`` (strings; the caller cleans them for the terminal)."""
    meta, spec, status = job.get("metadata") or {}, _spec(job), _status(job)
    backend = status.get("backend") or {}
    row = [
        str(meta.get("name", "")),
        str(status.get("phase") or ""),
        str(backend.get("name") or ""),
        "" if spec.get("shots") is None else str(spec["shots"]),
        age(meta.get("creationTimestamp"), now),
        str(status.get("message") or ""),
    ]
    if wide:
        circuit = status.get("circuit") or {}
        ibm = status.get("ibm") or {}
        row += [
            str(spec.get("primitive") or "sampler"),
            "" if circuit.get("numQubits") is None else str(circuit["numQubits"]),
            str(status.get("workflowName") or ""),
            str(ibm.get("jobId") or ""),
            cost_text(job),
        ]
    return row


def _pairs(mapping: dict[str, Any], keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(label, str(mapping[key])) for key, label in keys if mapping.get(key) not in (None, "", [])]


def describe_sections(
    job: dict[str, Any], events: list[dict[str, Any]], now: datetime | None = None
) -> list[tuple[str, list[tuple[str, str]] | list[list[str]]]]:
    """``qiskit-argo describe``: (section title, rows). A section's rows are (label, value) pairs,
    except Conditions, Steps and Events, which are tables whose first row is the header."""
    meta, spec, status = job.get("metadata") or {}, _spec(job), _status(job)
    sections: list[tuple[str, Any]] = []
    overview = [
        ("Name", str(meta.get("name", ""))),
        ("Namespace", str(meta.get("namespace", ""))),
        ("Created", f"{meta.get('creationTimestamp', '')} ({age(meta.get('creationTimestamp'), now)} ago)"),
        ("Primitive", str(spec.get("primitive") or "sampler")),
    ]
    overview += _pairs(spec, [("shots", "Shots"), ("precision", "Precision"), ("suspend", "Suspend")])
    overview += _pairs(
        status,
        [
            ("phase", "Phase"),
            ("reason", "Reason"),
            ("message", "Message"),
            ("workflowName", "Workflow"),
            ("startTime", "Started"),
            ("completionTime", "Completed"),
        ],
    )
    sections.append(("QiskitJob", overview))

    backend = status.get("backend") or {}
    if backend:
        rows = _pairs(backend, [("name", "Name"), ("device", "Device"), ("method", "Method"), ("reason", "Why")])
        for rejected in backend.get("rejected") or []:
            if isinstance(rejected, dict):
                rows.append(("Rejected", f"{rejected.get('name')}: {rejected.get('reason')}"))
        sections.append(("Backend", rows))

    circuit = status.get("circuit") or {}
    if circuit:
        sections.append(
            (
                "Circuit",
                _pairs(
                    circuit,
                    [("numQubits", "Qubits"), ("depth", "Depth"), ("size", "Size"), ("numBindings", "Bindings")],
                ),
            )
        )

    result = status.get("result") or {}
    if result:
        rows = _pairs(result, [("shots", "Shots"), ("numPubs", "PUBs"), ("truncated", "Truncated")])
        top = result.get("topCounts")
        if isinstance(top, dict) and top:
            rows.append(("Top counts", "  ".join(f"{k}: {v}" for k, v in top.items())))
        values = result.get("expectationValues")
        if isinstance(values, list) and values:
            rows.append(("Expectation values", "  ".join(str(v) for v in values)))
        sections.append(("Result", rows))
    location = status.get("resultLocation") or {}
    if location:
        rows = _pairs(
            location,
            [
                ("artifact", "Artifact"),
                ("bucket", "Bucket"),
                ("key", "Key"),
                ("endpoint", "Endpoint"),
                ("sha256", "SHA-256"),
                ("size", "Size (bytes)"),
            ],
        )
        rows.append(("Download", f"qiskit-argo results {meta.get('name', '')} -n {meta.get('namespace', '')}"))
        sections.append(("Result location", rows))

    cost = status.get("cost") or {}
    if cost:
        rows = [
            (label, text)
            for key, label in (("estimate", "Estimate"), ("reserved", "Reserved"), ("charged", "Charged"))
            if (text := _amount(cost.get(key)) or "")
        ]
        if cost.get("budgets"):
            rows.append(("Budgets", ", ".join(str(b) for b in cost["budgets"])))
        sections.append(("Cost", rows))

    ibm = status.get("ibm") or {}
    if ibm:
        sections.append(
            (
                "IBM job",
                _pairs(
                    ibm,
                    [
                        ("jobId", "Job id"),
                        ("state", "State"),
                        ("action", "How"),
                        ("sessionId", "Session"),
                        ("quantumSeconds", "Quantum seconds"),
                        ("message", "Message"),
                    ],
                ),
            )
        )

    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    if conditions:
        table = [["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"]]
        table += [
            [
                str(c.get("type", "")),
                str(c.get("status", "")),
                str(c.get("reason", "")),
                age(c.get("lastTransitionTime"), now),
                str(c.get("message") or ""),
            ]
            for c in conditions
        ]
        sections.append(("Conditions", table))

    steps = [s for s in status.get("steps") or [] if isinstance(s, dict)]
    if steps:
        table = [["STEP", "PHASE", "STARTED", "FINISHED", "MESSAGE"]]
        table += [
            [
                str(s.get("name", "")),
                str(s.get("phase", "")),
                str(s.get("startedAt") or ""),
                str(s.get("finishedAt") or ""),
                str(s.get("message") or ""),
            ]
            for s in steps
        ]
        sections.append(("Steps", table))

    table = [["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]]
    for event in sorted(events, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or "")):
        source = event.get("source") or {}
        table.append(
            [
                str(event.get("type", "")),
                str(event.get("reason", "")),
                age(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp"), now),
                str(source.get("component") or event.get("reportingComponent") or ""),
                str(event.get("message") or ""),
            ]
        )
    sections.append(("Events", table))
    return sections


def exit_code(job: dict[str, Any]) -> int:
    """0 for Succeeded; for Failed, 2 when the job itself is wrong, else 1."""
    status = _status(job)
    if status.get("phase") == "Succeeded":
        return EXIT_OK
    return EXIT_PERMANENT if status.get("reason") in PERMANENT_REASONS else EXIT_TRANSIENT


def step_selector(workflow: str, step: str | None = None) -> str:
    """The label selector of a Workflow's step pods (one step's, with ``step``)."""
    selector = f"{WORKFLOW_LABEL}={workflow}"
    return selector + (f",{STEP_LABEL}={step}" if step else "")


def pod_step(pod: dict[str, Any]) -> str:
    """The step a pod runs: our step label, else Argo's node name annotation, else the pod's name."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return str(labels.get(STEP_LABEL) or annotations.get("workflows.argoproj.io/node-name") or meta.get("name", ""))
