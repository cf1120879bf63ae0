"""The one line a person reads in ``status.message`` and the conditions: what is happening, the
result, what went wrong."""

from __future__ import annotations

from qiskit_argo.api import BackendStatus, IbmJobStatus, Phase, ResultLocation, ResultSummary
from qiskit_argo.steps import STEPS

__all__ = [
    "MAX_MESSAGE",
    "one_line",
    "backend_text",
    "ibm_text",
    "result_text",
    "progress_message",
    "succeeded_message",
    "suspended_message",
    "deleted_message",
    "created_message",
]

#: Longest message kept in status (conditions allow 32 kB; a person reads one line).
MAX_MESSAGE = 1024


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` with every run of whitespace one space, cut to ``limit`` characters with ``…``."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def backend_text(backend: BackendStatus) -> str:
    """``aer (automatic): <why>``: the chosen backend, its method and the scheduler's reason."""
    text = backend.name + (f" ({backend.method})" if backend.method else "")
    return text + (f": {backend.reason}" if backend.reason else "")


#: IBM's states in our words (``IbmJobStatus.state``) as a person reads them.
_IBM_STATES = {"Queued": "is queued at IBM", "Running": "is running at IBM", "Done": "is done at IBM"}


def ibm_text(ibm: IbmJobStatus) -> str:
    """``IBM job <id> is queued at IBM`` (``queued or running`` before the wait step says which)."""
    state = _IBM_STATES.get(str(ibm.state or ""), f"is {str(ibm.state).lower()} at IBM" if ibm.state else "")
    text = f"IBM job {ibm.job_id} {state or 'is queued or running at IBM'}"
    if ibm.session_id:
        text += f" (session {ibm.session_id})"
    return text


def result_text(result: ResultSummary | None, location: ResultLocation | None) -> str:
    """The result in a few words (top count or first expectation values) and where the whole is."""
    parts: list[str] = []
    if result is not None:
        pubs = f"{result.num_pubs} PUB" + ("s" if result.num_pubs != 1 else "")
        if result.top_counts:
            top = max(result.top_counts.items(), key=lambda item: item[1])
            parts.append(f"{result.primitive}, {pubs}" + (f", {result.shots} shots" if result.shots else ""))
            parts.append(f"most frequent {top[0]} ({top[1]})")
        elif result.expectation_values:
            values = ", ".join(f"{value:.4g}" for value in result.expectation_values[:4])
            more = ", …" if len(result.expectation_values) > 4 else ""
            parts.append(f"{result.primitive}, {pubs}, <O> = [{values}{more}]")
        else:
            parts.append(f"{result.primitive}, {pubs}")
    if location is not None:
        parts.append(f"full result in artifact {location.artifact}" + (f" ({location.key})" if location.key else ""))
    return "; ".join(parts)


def progress_message(
    phase: Phase,
    current: str | None,
    backend: BackendStatus | None,
    wf_name: str,
    ibm: IbmJobStatus | None = None,
    *,
    waits_for_ibm: bool = False,
) -> str:
    """What a job that has not finished is doing now (``current``: the step under way; None: the
    step that runs the circuit), in the step's own words (``StepSpec.activity``); while a step
    waits for the IBM job (``waits_for_ibm``), its id and whether it is queued or running at IBM."""
    if phase == Phase.PENDING:
        return f"Workflow {wf_name} created; waiting for Argo to start it"
    step = STEPS.get(current or "") or next(spec for spec in STEPS.values() if spec.shows_backend)
    where = f" on {backend_text(backend)}" if backend and step.shows_backend else ""
    if waits_for_ibm and ibm is not None:
        device = f" on {backend.device or backend.name}" if backend else ""
        return f"{ibm_text(ibm)}{device} (step {step.name})"
    return f"{step.activity}{where} (step {step.name})"


def succeeded_message(result: ResultSummary | None, location: ResultLocation | None, wf_name: str) -> str:
    summary = result_text(result, location)
    return one_line(f"Succeeded: {summary}" if summary else f"Workflow {wf_name} succeeded")


def suspended_message(current: str | None, suspend: bool) -> str:
    """Suspended: before which step, and what the job's ``spec.suspend`` says now."""
    at = f" before step {current}" if current else ""
    if suspend:
        return f"Suspended{at} (spec.suspend is true); set it to false to resume"
    return f"Suspended{at}; resuming (spec.suspend is false)"


def deleted_message(wf_name: str) -> str:
    return f"Workflow {wf_name} was deleted before it finished; delete and re-create the QiskitJob to run it again"


def created_message(wf_name: str) -> str:
    return f"Creating Workflow {wf_name}"
