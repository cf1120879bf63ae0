"""Filesystem guards: a name from a manifest stays one file inside its directory, and a results
directory is only ever emptied of what ``qiskit-argo run`` itself put there.

``join_key`` is the one way a key (a ConfigMap key, a step or volume name) becomes a path: it
refuses anything that is not a single safe path component, or that resolves outside the
directory (symbolic links included). ``prepare_results_dir`` decides whether a directory may
receive a run's results: a new path, an empty directory, or an earlier results directory of ours
(marked by ``MARKER``), from which it removes only ``RUN_ENTRIES``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from qiskit_argo.errors import PermanentError, quote
from qiskit_argo.objectmeta import config_map_key_problem
from qiskit_argo.reasons import Reason

__all__ = [
    "MARKER",
    "RUN_ENTRIES",
    "UnsafePathError",
    "ResultsDirError",
    "is_inside",
    "join_key",
    "prepare_results_dir",
]

#: The file that marks a directory as made by ``qiskit-argo run``; only such a directory is ever cleaned.
MARKER = ".qiskit-argo-results"
#: What a run writes at the top of its results directory; on a rerun, only these are removed.
RUN_ENTRIES = ("result.json", "metrics.json", "histogram.png", "workflow.yaml", "steps")

_WHAT_TO_DO = "choose a new or empty directory with --out"


class UnsafePathError(PermanentError):
    """A name from a manifest would not be a single file inside its directory."""

    reason = Reason.UNSAFE_PATH


class ResultsDirError(PermanentError):
    """The results directory cannot be used without deleting or overwriting what is not ours."""

    reason = Reason.RESULTS_DIRECTORY


def is_inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symbolic link resolved, is ``root`` or lies under it."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # outside; unreadable; a symlink loop (RuntimeError < 3.13)
        return False
    return True


def join_key(directory: Path, key: object, what: str = "key") -> Path:
    """``directory / key`` where ``key`` must be one safe file name — Kubernetes' ConfigMap key rule
    (``objectmeta.config_map_key_problem``) — that stays inside ``directory`` once links resolve."""
    problem = config_map_key_problem(key) if isinstance(key, str) else "must be a string"
    if problem or not isinstance(key, str):
        raise UnsafePathError(f"{what} {quote(key, 80)} is not a single file name: it {problem}")
    path = directory / key
    if path.is_symlink() or not is_inside(path, directory):
        raise UnsafePathError(f"{what} {key!r}: {path} is a symbolic link; refusing to follow it")
    return path


def _job_file_clash(target: Path, protect: Iterable[Path]) -> str | None:
    for keep in protect:
        for entry in RUN_ENTRIES:
            if is_inside(keep, target / entry):
                return f"{target / entry} would be replaced, and it holds {keep}; move that file first or {_WHAT_TO_DO}"
    return None


def _remove(path: Path) -> None:
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        path.unlink()  # a link is removed itself, never what it points at
    elif path.is_dir():
        shutil.rmtree(path)


def _oserror(target: Path, error: OSError) -> ResultsDirError:
    why = error.strerror or type(error).__name__
    where = error.filename or target
    return ResultsDirError(f"results directory {target}: cannot write {where} ({why}); {_WHAT_TO_DO}")


def prepare_results_dir(target: Path, protect: Iterable[Path] = ()) -> None:
    """Make ``target`` ready for a run's results, or raise ``ResultsDirError`` having changed nothing.

    ``target`` may be a new path (it is created, with ``MARKER``), an empty directory (it gets
    ``MARKER``) or an earlier results directory of ours (``RUN_ENTRIES`` are removed, anything else
    a person put there stays). A non-empty directory without ``MARKER``, a file, or a path under a
    file is refused. ``protect`` are files that must survive (the job file being run).
    """
    protect = list(protect)
    try:
        if target.is_dir():
            marker = target / MARKER
            ours = marker.is_file() and not marker.is_symlink()
            if ours:
                clash = _job_file_clash(target, protect)
                if clash:
                    raise ResultsDirError(f"results directory {clash}")
                for entry in RUN_ENTRIES:
                    _remove(target / entry)
                return
            if next(target.iterdir(), None) is not None:
                raise ResultsDirError(
                    f"results directory {target} is not empty and was not made by qiskit-argo run (it has no "
                    f"{MARKER}); nothing was deleted; {_WHAT_TO_DO}"
                )
        elif os.path.lexists(target):
            kind = "a broken symbolic link" if target.is_symlink() else "a file"
            raise ResultsDirError(f"results directory {target} is {kind}, not a directory; {_WHAT_TO_DO}")
        else:
            for parent in target.parents:
                if os.path.lexists(parent):
                    if not parent.is_dir():
                        raise ResultsDirError(
                            f"results directory {target}: {parent} is a file, so no directory can be made "
                            f"under it; {_WHAT_TO_DO}"
                        )
                    break
            target.mkdir(parents=True)
        (target / MARKER).write_text(
            "This directory was made by `qiskit-argo run`. A later run into it replaces only "
            + ", ".join(RUN_ENTRIES)
            + "; anything else you put here stays.\n"
        )
    except OSError as error:
        raise _oserror(target, error) from None
