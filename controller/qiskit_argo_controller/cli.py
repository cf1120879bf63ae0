"""``qiskit-argo-controller``: run the controller against the current kubeconfig or in-cluster.

Flags (each also read from an environment variable, for the Deployment):

* ``--namespace NS`` (repeatable or comma-separated; ``QISKIT_ARGO_NAMESPACES``): serve only
  these namespaces. Default: all namespaces.
* ``--standalone``: no peering (one replica). Default: peering ``qiskit-argo`` — several replicas
  elect the one with the highest priority; the others stand by until it goes away.
* ``--liveness URL`` (default ``http://0.0.0.0:8080/healthz``; ``""`` disables),
  ``--metrics-port N`` (default 9090; 0 disables),
  ``--limits FILE`` (JSON ``Limits`` for the validate step), ``--log-format json|full|plain``,
  ``--verbose``/``--debug``.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 2 for bad flags.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import kopf
from pydantic import ValidationError

from qiskit_argo.request import Limits
from qiskit_argo_controller import __version__, metrics
from qiskit_argo_controller.handlers import DEFAULT_PEERING, Options, operator

__all__ = ["parse_args", "main", "console"]

_FORMATS = {"json": kopf.LogFormat.JSON, "full": kopf.LogFormat.FULL, "plain": kopf.LogFormat.PLAIN}


def _namespaces(values: Sequence[str]) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        names += [name.strip() for name in value.split(",") if name.strip()]
    return tuple(dict.fromkeys(names))


def parse_args(argv: Sequence[str] | None = None) -> tuple[Options, argparse.Namespace]:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="qiskit-argo-controller",
        description="Turn every QiskitJob into one Argo Workflow and copy its outcome back into the job.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[env["QISKIT_ARGO_NAMESPACES"]] if env.get("QISKIT_ARGO_NAMESPACES") else [],
        help="serve only this namespace (repeat, or comma-separate); default: all namespaces",
    )
    parser.add_argument("--standalone", action="store_true", default=env.get("QISKIT_ARGO_STANDALONE") == "true")
    parser.add_argument("--peering", default=env.get("QISKIT_ARGO_PEERING", DEFAULT_PEERING))
    parser.add_argument("--priority", type=int, default=None, help="peering priority (default: random)")
    parser.add_argument("--liveness", default=env.get("QISKIT_ARGO_LIVENESS", "http://0.0.0.0:8080/healthz"))
    parser.add_argument("--metrics-port", type=int, default=int(env.get("QISKIT_ARGO_METRICS_PORT", "9090")))
    parser.add_argument("--limits", type=Path, default=env.get("QISKIT_ARGO_LIMITS") or None)
    parser.add_argument("--log-format", choices=sorted(_FORMATS), default=env.get("QISKIT_ARGO_LOG_FORMAT", "json"))
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)

    limits = None
    if args.limits is not None:
        try:
            limits = Limits.model_validate(json.loads(Path(args.limits).read_text()))
        except (OSError, ValueError, ValidationError) as error:
            parser.error(f"--limits {args.limits}: {' '.join(str(error).split())[:300]}")
    options = Options(
        namespaces=_namespaces(args.namespace),
        limits=limits,
        standalone=args.standalone,
        peering=args.peering,
        priority=args.priority,
        liveness=args.liveness or None,
    )
    return options, args


def main(argv: Sequence[str] | None = None) -> int:
    options, args = parse_args(argv)
    kopf.configure(debug=args.debug, verbose=args.verbose, log_format=_FORMATS[args.log_format], log_prefix=None)
    op = operator(options)
    metrics.serve(args.metrics_port, [reconciler.book for reconciler in op.reconcilers.values()])
    kopf.run(**op.kwargs())
    return 0


def console() -> None:
    """Console-script entry point."""
    sys.exit(main())
