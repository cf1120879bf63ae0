"""The bare Qiskit Aer script a researcher would write: parse, run the sampler, get every count.

Usage: python bench/bare.py CASE   (CASE is a name in bench/cases.py)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def prepare(case_name: str) -> tuple[Any, Any]:
    """Parse the circuit and make the sampler: what the execute step gets ready-made (QPY, request)."""
    from cases import CASES
    from qiskit import qasm3
    from qiskit_aer.primitives import SamplerV2

    case = CASES[case_name]
    circuit = qasm3.loads(case.qasm)
    sampler = SamplerV2(seed=case.seed, options={"backend_options": {"method": case.method}})
    pub = (circuit, case.bindings, case.shots) if case.bindings else (circuit, None, case.shots)
    return sampler, pub


def execute(sampler: Any, pub: Any) -> list[dict[str, int]]:
    """Run the one PUB and get the counts of every binding."""
    data = sampler.run([pub]).result()[0].data
    bits = next(iter(data.values()))
    if pub[1] is not None:
        return [bits.get_counts(i) for i in range(len(pub[1]))]
    return [bits.get_counts()]


def run(case_name: str) -> list[dict[str, int]]:
    return execute(*prepare(case_name))


if __name__ == "__main__":
    counts = run(sys.argv[1])
    print(f"{len(counts)} count dictionaries")
