"""The table that ends a run names every PUB it shows, and says how many there are only when it
could not show them all (the summary keeps the first 16)."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from qiskit_argo.cli import _summary_table


def _rendered(summary: dict[str, Any]) -> str:
    table = _summary_table(
        "job",
        "Succeeded",
        backend={},
        summary=summary,
        metrics={},
        estimate={},
        ibm={},
        steps=[],
        failed=None,
        wall=1.0,
    )
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def _pubs(count: int) -> list[dict[str, Any]]:
    return [{"index": i, "numBindings": 1, "shots": 100, "topCounts": {"0": 100}} for i in range(count)]


@pytest.mark.parametrize(
    ("num_pubs", "shown", "truncated", "says_more"),
    [
        (3, 3, True, False),  # a PUB's counts cut short is not "more PUBs"
        (3, 3, False, False),
        (20, 16, True, True),  # the summary kept 16 of 20
    ],
)
def test_the_table_says_how_many_pubs_only_when_it_shows_fewer(
    num_pubs: int, shown: int, truncated: bool, says_more: bool
) -> None:
    text = _rendered({"primitive": "sampler", "numPubs": num_pubs, "pubs": _pubs(shown), "truncated": truncated})
    assert [f"pub {i}" in text for i in range(shown)] == [True] * shown
    assert (f"{num_pubs} PUBs in all" in text) is says_more
