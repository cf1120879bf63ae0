"""QiskitSession: an IBM Quantum runtime session or batch that QiskitJobs run inside.

A QiskitSession names an IBM QiskitBackend (``backendRef``) and a mode: ``session`` (dedicated
access between iterative jobs) or ``batch`` (independent jobs scheduled together). The controller
opens it with a small Workflow of ours (the ``session-open`` step, the only pod that receives the
backend's API key) and copies the runtime session id into status; a QiskitJob with
``spec.sessionRef`` waits in Pending (``SessionNotReady``) until then, and its IBM job carries
that id. Deleting the QiskitSession closes the runtime session with another Workflow (close: no
new jobs, queued ones still run; cancel instead when ``spec.cancelOnDelete``).

Beside the models: ``QISKIT_SESSION``, the kind's CRD declaration. The spec cannot change once
the session is open (``status.sessionId`` set): a different backend or mode is a new session.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from qiskit_argo.api._base import DURATION_PATTERN, _Model
from qiskit_argo.api._conditions import Condition
from qiskit_argo.api._kind import Kind, PrinterColumn
from qiskit_argo.api._resource import API_VERSION, _Resource
from qiskit_argo.objectmeta import DNS1123_SUBDOMAIN
from qiskit_argo.wire import Bool, Str

__all__ = [
    "SESSION_KIND",
    "SESSION_PLURAL",
    "SESSION_SINGULAR",
    "SESSION_SHORT_NAMES",
    "SessionPhase",
    "SessionConditionType",
    "QiskitSessionSpec",
    "QiskitSessionStatus",
    "QiskitSession",
    "SESSION_COLUMNS",
    "QISKIT_SESSION",
]

SESSION_KIND = "QiskitSession"
SESSION_PLURAL = "qiskitsessions"
SESSION_SINGULAR = "qiskitsession"
SESSION_SHORT_NAMES = ("qs",)


class SessionPhase(StrEnum):
    """The one word ``kubectl get qs`` shows."""

    #: Not opened yet (or waiting for its QiskitBackend).
    PENDING = "Pending"
    #: The open Workflow is running.
    OPENING = "Opening"
    #: Open: jobs naming it run inside it.
    READY = "Ready"
    #: Being closed (the QiskitSession was deleted).
    CLOSING = "Closing"
    #: Closed or expired at IBM: no new jobs.
    CLOSED = "Closed"
    #: It could not be opened (see reason and message).
    FAILED = "Failed"


class SessionConditionType(StrEnum):
    """The conditions a QiskitSession reports."""

    READY = "Ready"


class QiskitSessionSpec(_Model):
    """Which backend, which mode, for how long, and what deleting it does."""

    backend_ref: Annotated[
        Str,
        Field(
            max_length=253,
            pattern=f"^{DNS1123_SUBDOMAIN}$",
            description="The QiskitBackend (type ibm, in this namespace) the session runs on.",
        ),
    ]
    mode: Annotated[
        Literal["session", "batch"],
        Field(
            description=(
                "session: dedicated access for iterative jobs (qiskit_ibm_runtime.Session); batch: independent "
                "jobs scheduled together (qiskit_ibm_runtime.Batch)."
            )
        ),
    ] = "session"
    max_time: Annotated[
        Str | None,
        Field(
            max_length=32,
            pattern=DURATION_PATTERN,
            description="Longest the session may stay open, e.g. 2h or 30m (IBM's max_time); unset: IBM's default.",
        ),
    ] = None
    cancel_on_delete: Annotated[
        Bool,
        Field(
            description=(
                "Deleting the QiskitSession cancels it at IBM (its queued and running jobs stop); by default it is "
                "closed: no new jobs, those already queued still run."
            )
        ),
    ] = False


class QiskitSessionStatus(_Model):
    """What the controller last saw; written from the open and close Workflows' outputs."""

    phase: Annotated[
        SessionPhase,
        Field(description="Pending, Opening, Ready (jobs run inside it), Closing, Closed or Failed."),
    ] = SessionPhase.PENDING
    reason: Annotated[
        str | None, Field(description="One CamelCase word for why it is in its phase, e.g. CredentialsRejected.")
    ] = None
    message: Annotated[str | None, Field(description="One line for a person: what is happening or what to fix.")] = None
    session_id: Annotated[
        str | None, Field(description="IBM's runtime session id; set once open (then the spec cannot change).")
    ] = None
    device: Annotated[str | None, Field(description="The IBM (or local-testing fake) backend it runs on.")] = None
    state: Annotated[
        str | None, Field(description="IBM's word for the session's state, e.g. open, active, inactive, closed.")
    ] = None
    quantum_seconds: Annotated[
        float | None, Field(description="Quantum time used inside the session so far, as IBM metered it.")
    ] = None
    open_workflow_name: Annotated[
        str | None, Field(description="The Workflow that opened it (`argo logs <name>`).")
    ] = None
    close_workflow_name: Annotated[str | None, Field(description="The Workflow that closed it, once deleted.")] = None
    opened_at: Annotated[datetime | None, Field(description="When it opened (RFC 3339).")] = None
    observed_generation: Annotated[int | None, Field(description="The metadata.generation this status describes.")] = (
        None
    )
    conditions: Annotated[
        list[Condition],
        Field(description="Ready: whether jobs naming this session can run inside it now, with a reason."),
    ] = []


class QiskitSession(_Resource):
    """A QiskitSession resource as stored in the API server or read from a file."""

    name_reason: ClassVar[str] = "jobs refer to it by name and it becomes a label value"

    api_version: Annotated[Literal["qiskit-argo.io/v1alpha1"], Field(alias="apiVersion")] = API_VERSION  # type: ignore[assignment]
    kind: Literal["QiskitSession"] = "QiskitSession"
    spec: QiskitSessionSpec
    status: Annotated[
        QiskitSessionStatus | None,
        Field(description="What the session is doing, kept up to date by the controller; edits are overwritten."),
    ] = None


#: ``kubectl get qs`` (priority 1: ``-o wide`` only).
SESSION_COLUMNS = (
    PrinterColumn(name="Backend", type="string", json_path=".spec.backendRef", description="The QiskitBackend."),
    PrinterColumn(name="Mode", type="string", json_path=".spec.mode", description="session or batch."),
    PrinterColumn(name="Phase", type="string", json_path=".status.phase", description="Where the session is."),
    PrinterColumn(name="Session", type="string", json_path=".status.sessionId", description="IBM's session id."),
    PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp"),
    PrinterColumn(name="Message", type="string", json_path=".status.message", priority=1),
)

QISKIT_SESSION = Kind(
    kind=SESSION_KIND,
    plural=SESSION_PLURAL,
    singular=SESSION_SINGULAR,
    short_names=SESSION_SHORT_NAMES,
    model=QiskitSession,
    description="An IBM Quantum runtime session or batch on one QiskitBackend, which QiskitJobs run inside.",
    noun="session",
    printer_columns=SESSION_COLUMNS,
    mutable_spec_fields=frozenset(),
    started_by="sessionId",
)
