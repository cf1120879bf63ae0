"""A toy step for runner tests: a worker that preloads this module (``PYTHONPATH``:
``faults.pythonpath_with_tests()``) runs ``qiskit-argo-step toy ...`` here, every other step as usual.

``toy --out DIR [--value V] [--inputs DIR] [--sleep S] [--progress N/M] [--fail]`` writes
``DIR/part.json``: the value, its process id, its start and end times (``time.time()``) and the
files it found under ``--inputs`` (relative paths -> contents); ``DIR/value.txt``: the value. It
writes ``--progress`` to ``$ARGO_PROGRESS_FILE``, and with ``--fail`` exits 2 saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qiskit_argo import steps

MODULE = __name__
_real_main = steps.main


def _toy(args: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="toy")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--value", default="")
    parser.add_argument("--inputs", type=Path)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--progress")
    parser.add_argument("--fail", action="store_true")
    options = parser.parse_args(args)
    started = time.time()
    time.sleep(options.sleep)
    if options.progress and os.environ.get("ARGO_PROGRESS_FILE"):
        Path(os.environ["ARGO_PROGRESS_FILE"]).write_text(options.progress)
    if options.fail:
        print(f"ToyFailure: shard {options.value} failed", file=sys.stderr)
        return 2
    found: dict[str, str] = {}
    if options.inputs is not None and options.inputs.is_dir():
        for path in sorted(options.inputs.rglob("*")):
            if path.is_file():
                found[path.relative_to(options.inputs).as_posix()] = path.read_text()
    elif options.inputs is not None and options.inputs.is_file():
        found[options.inputs.name] = options.inputs.read_text()
    options.out.mkdir(parents=True, exist_ok=True)
    part = {"value": options.value, "pid": os.getpid(), "started": started, "ended": time.time(), "inputs": found}
    (options.out / "part.json").write_text(json.dumps(part))
    (options.out / "value.txt").write_text(options.value)
    return 0


def main(argv: Sequence[str] | None = None, **options: Any) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "toy":
        return _toy(args[1:])
    return int(_real_main(argv, **options))


steps.main = main  # type: ignore[assignment]
