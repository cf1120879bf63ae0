"""The catalogue snapshot: the namespace's QiskitBackends (and the job's QiskitSession) as the
schedule step sees them.

The schedule step has no API access. The controller (or the local runner) lists the QiskitBackends
of the job's namespace, turns each into a ``CatalogueEntry`` (``snapshot``) and passes the JSON
into the Workflow as the schedule task's ``catalogue`` artifact. An entry holds what scheduling
needs (type, device, qubits, queue, price, limits, phase) and a reference to the credentials
Secret, never a secret value.

``semaphore_data`` is the ConfigMap ``qiskit-argo-semaphores`` the controller keeps in step with
the catalogue: one key per backend (its name) holding its ``maxConcurrentJobs``, never 0.
``load_catalogue`` reads QiskitBackend and QiskitSession manifests from files for a local run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from qiskit_argo.api import (
    API_VERSION,
    AerOptions,
    CostModel,
    QiskitBackend,
    QiskitSession,
    SecretKeyRef,
    _Model,
)
from qiskit_argo.errors import InvalidJobError, one_line, quote
from qiskit_argo.wire import json_type_name

__all__ = [
    "AER_DEVICE",
    "BUILTIN_SEMAPHORE_KEY",
    "UNLIMITED",
    "CATALOGUE_KINDS",
    "CatalogueEntry",
    "SessionEntry",
    "Catalogue",
    "entry_of",
    "snapshot",
    "semaphore_data",
    "load_catalogue",
]

#: The device an aer entry (and the built-in simulator) runs on: ``AerSimulator().name``.
AER_DEVICE = "aer_simulator"
#: The semaphore key of the built-in Aer simulator: not a DNS name, so no QiskitBackend can take it.
BUILTIN_SEMAPHORE_KEY = "_builtin"
#: The limit written for a backend without ``maxConcurrentJobs`` (and for the built-in simulator):
#: Argo needs a number, and this many jobs never run at once.
UNLIMITED = 1_000_000
#: The kinds ``load_catalogue`` reads; other objects in the same files (Secrets, jobs) are skipped.
CATALOGUE_KINDS = ("QiskitBackend", "QiskitSession")


class CatalogueEntry(_Model):
    """One QiskitBackend as the schedule step sees it (the Secret by reference only)."""

    name: str
    type: Literal["aer", "ibm"]
    device: str
    fake: bool = False
    channel: str | None = None
    instance: str | None = None
    credentials: SecretKeyRef | None = None
    enabled: bool = True
    phase: str | None = None
    message: str | None = None
    num_qubits: int | None = None
    basis_gates: list[str] = []
    operational: bool | None = None
    pending_jobs: int | None = None
    cost: CostModel | None = None
    max_concurrent_jobs: int | None = None
    aer: AerOptions | None = None


class SessionEntry(_Model):
    """The job's QiskitSession: the backend it runs on, its mode, and its runtime id once open."""

    name: str
    backend_ref: str
    mode: Literal["session", "batch"]
    session_id: str | None = None


class Catalogue(_Model):
    """What the schedule step chooses from."""

    entries: list[CatalogueEntry] = []
    session: SessionEntry | None = None

    def entry(self, name: str) -> CatalogueEntry | None:
        """The entry called ``name``, or ``None``."""
        return next((entry for entry in self.entries if entry.name == name), None)


def entry_of(backend: QiskitBackend) -> CatalogueEntry:
    """``backend`` as a catalogue entry: its spec, and what its last probe found."""
    spec, status = backend.spec, backend.status
    capabilities = status.capabilities if status else None
    device = spec.backend or spec.fake_backend or (status.device if status else None) or AER_DEVICE
    return CatalogueEntry(
        name=backend.name,
        type=spec.type,
        device=device,
        fake=spec.fake_backend is not None,
        channel=spec.channel if spec.backend else None,
        instance=spec.instance,
        credentials=spec.credentials_secret_ref,
        enabled=spec.enabled,
        phase=status.phase if status else None,
        message=status.message if status else None,
        num_qubits=capabilities.num_qubits if capabilities else None,
        basis_gates=list(capabilities.basis_gates) if capabilities else [],
        operational=capabilities.operational if capabilities else None,
        pending_jobs=capabilities.pending_jobs if capabilities else None,
        cost=spec.cost,
        max_concurrent_jobs=spec.max_concurrent_jobs,
        aer=spec.aer,
    )


def snapshot(backends: Iterable[QiskitBackend], session: QiskitSession | None = None) -> Catalogue:
    """The catalogue passed to the schedule step: every backend (sorted by name) and the job's session."""
    entries = sorted((entry_of(backend) for backend in backends), key=lambda entry: entry.name)
    session_entry = None
    if session is not None:
        session_entry = SessionEntry(
            name=session.name,
            backend_ref=session.spec.backend_ref,
            mode=session.spec.mode,
            session_id=session.status.session_id if session.status else None,
        )
    return Catalogue(entries=entries, session=session_entry)


def semaphore_data(backends: Iterable[QiskitBackend]) -> dict[str, str]:
    """The semaphore ConfigMap's data: backend name -> its concurrency limit (at least 1), and
    ``BUILTIN_SEMAPHORE_KEY`` for the built-in simulator (unlimited)."""
    data = {BUILTIN_SEMAPHORE_KEY: str(UNLIMITED)}
    for backend in backends:
        limit = backend.spec.max_concurrent_jobs
        data[backend.name] = str(max(1, limit) if limit is not None else UNLIMITED)
    return dict(sorted(data.items()))


# --------------------------------------------------------------------------- local files


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(child for child in path.iterdir() if child.suffix in (".yaml", ".yml") and child.is_file())
        if not found:
            raise InvalidJobError(one_line(f"{path}: no *.yaml or *.yml file in the directory; check --catalogue"))
        return found
    if not path.exists():
        raise InvalidJobError(one_line(f"{path}: no such file or directory; check --catalogue"))
    return [path]


def _document_lines(text: str) -> list[int]:
    """The line (1-based) where each non-empty document of ``text`` starts, in order."""
    import yaml

    lines: list[int] = []
    events = iter(yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            root = next(events)
            empty = (
                isinstance(root, yaml.ScalarEvent)
                and root.implicit[0]
                and root.value in ("", "~", "null", "Null", "NULL")
            )
            if not empty:
                lines.append(root.start_mark.line + 1 if root.start_mark else 0)
    return lines


def _parse(document: Any, where: str) -> QiskitBackend | QiskitSession | None:
    from qiskit_argo.crd import prune_nulls
    from qiskit_argo.manifests import parse_wire

    if not isinstance(document, dict):
        raise InvalidJobError(one_line(f"{where}: expected a manifest mapping, got {json_type_name(document)}"))
    kind = document.get("kind")
    if kind not in CATALOGUE_KINDS:
        return None  # a Secret, a QiskitJob, ...: not part of the catalogue
    if document.get("apiVersion") != API_VERSION:
        raise InvalidJobError(
            one_line(f"{where}: {kind} apiVersion is {quote(document.get('apiVersion'))}; expected {API_VERSION!r}")
        )
    # As kubectl apply: status belongs to the controller (the local runner probes instead).
    document = prune_nulls({key: value for key, value in document.items() if key != "status"})
    model = QiskitBackend if kind == "QiskitBackend" else QiskitSession
    try:
        parsed: QiskitBackend | QiskitSession = parse_wire(model, document, where)
    except InvalidJobError as error:
        raise InvalidJobError(one_line(str(error))) from None
    return parsed


def load_catalogue(paths: Sequence[Path]) -> tuple[list[QiskitBackend], list[QiskitSession]]:
    """Every QiskitBackend and QiskitSession in ``paths`` (files, or directories whose *.yaml and
    *.yml files are read in name order), for a local run; other kinds are skipped. Errors are one
    line starting ``file:line:``; a name defined twice is refused."""
    from qiskit_argo import yamldoc
    from qiskit_argo.manifests import _read

    backends: list[QiskitBackend] = []
    sessions: list[QiskitSession] = []
    seen: dict[tuple[str, str], str] = {}
    for given in paths:
        found = 0
        for path in _files(Path(given)):
            source = str(path)
            text = yamldoc.decode(_read(path), source)
            documents = yamldoc.load_documents(text, source)
            lines = _document_lines(text)
            for index, document in enumerate(documents):
                line = lines[index] if len(lines) == len(documents) else None
                where = f"{source}:{line}" if line else f"{source} (document {index + 1})"
                parsed = _parse(document, where)
                if parsed is None:
                    continue
                key = (parsed.kind, parsed.name)
                if key in seen:
                    raise InvalidJobError(
                        one_line(f"{where}: {parsed.kind} {parsed.name!r} is also defined at {seen[key]}; keep one")
                    )
                seen[key] = where
                found += 1
                if isinstance(parsed, QiskitBackend):
                    backends.append(parsed)
                else:
                    sessions.append(parsed)
        if not found:
            raise InvalidJobError(
                one_line(f"{given}: no QiskitBackend or QiskitSession found; the catalogue needs kind: QiskitBackend")
            )
    return backends, sessions
