"""Self-reported progress for Argo: ``N/M`` in the file ``ARGO_PROGRESS_FILE`` names.

Argo's executor (the ``wait`` container) watches the directory of that file with inotify
(``util/file/watch.go``: a create or a write of the file) and reads its last line; a line that
parses as ``N/M`` (``pkg/apis/workflow/v1alpha1/progress.go``: ``0 <= N <= M``, ``M > 0``) becomes
the node's ``progress``, which Argo sums over the nodes of a Workflow. An execute step reports the
bindings of its shard: ``0/M`` when it starts and ``M/M`` when it is done, so the Workflow (and the
QiskitJob's ``status.progress``) reads "bindings done / bindings in all" over every shard.

The file is replaced atomically (written beside it, then renamed over it), so the watcher never
reads a half-written line. Without ``ARGO_PROGRESS_FILE`` (a test, a laptop) nothing is written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["PROGRESS_ENV", "ProgressFile", "format_progress"]

#: The environment variable Argo sets in a step's main container (``common.EnvVarProgressFile``).
PROGRESS_ENV = "ARGO_PROGRESS_FILE"


def format_progress(done: int, total: int) -> str:
    """``"N/M"``, Argo's progress form; ``done`` is clamped to ``0..total`` and ``total`` is at least 1."""
    total = max(int(total), 1)
    return f"{min(max(int(done), 0), total)}/{total}"


class ProgressFile:
    """Reports ``done/total`` to the file named by ``ARGO_PROGRESS_FILE`` (or ``path``).

    ``start()`` writes ``0/total``, ``update(n)`` writes ``n/total``, ``finish()`` writes
    ``total/total``. Writing never fails the step: progress is a courtesy, not a result.
    """

    def __init__(self, total: int, path: Path | str | None = None, *, env: Mapping[str, str] | None = None) -> None:
        if path is None:
            named = (os.environ if env is None else env).get(PROGRESS_ENV, "")
            path = named or None
        self.path: Path | None = Path(path) if path is not None else None
        self.total = max(int(total), 1)
        self.done = 0

    def start(self) -> None:
        self.update(0)

    def finish(self) -> None:
        self.update(self.total)

    def update(self, done: int) -> None:
        """Write ``done/total`` (atomically: a temporary file beside it, renamed over it)."""
        self.done = min(max(int(done), 0), self.total)
        if self.path is None:
            return
        line = format_progress(self.done, self.total) + "\n"
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(line)
            os.replace(temporary, self.path)
            return
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
