"""The identity tag: deterministic, unique per identity, always within IBM's limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qiskit_argo.ibm.tags import (
    IDENTITY_TAG_PATTERN,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    JobIdentity,
    check_tags,
    identity_tag,
    job_tags,
    label_tag,
)
from qiskit_argo.manifests import load_job

REPO = Path(__file__).resolve().parents[2]
UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
BASE = JobIdentity("lab", "bell", UID, 1)


def test_the_identity_tag_is_deterministic_and_fixed_length() -> None:
    tag = identity_tag(BASE)
    assert tag == identity_tag(JobIdentity("lab", "bell", UID, 1))
    assert re.fullmatch(IDENTITY_TAG_PATTERN, tag) and len(tag) == 48
    longest = JobIdentity("n" * 63, "j" * 63, UID, 2**63 - 1)
    assert len(identity_tag(longest)) == 48


@pytest.mark.parametrize(
    "other",
    [
        JobIdentity("lab2", "bell", UID, 1),
        JobIdentity("lab", "bell2", UID, 1),
        JobIdentity("lab", "bell", "another-uid", 1),
        JobIdentity("lab", "bell", UID, 2),
        JobIdentity("lab", "bell", None, 1),
        JobIdentity("la", "bbell", UID, 1),  # no ambiguity where one part ends and the next begins
    ],
    ids=["namespace", "name", "uid", "generation", "no-uid", "boundary"],
)
def test_every_part_of_the_identity_counts(other: JobIdentity) -> None:
    assert identity_tag(other) != identity_tag(BASE)


def test_the_label_tag_is_readable_and_fits() -> None:
    assert label_tag(BASE) == "qiskit-argo.name.lab.bell"
    long = label_tag(JobIdentity("n" * 63, "j" * 63, UID, 1))
    assert len(long) == MAX_TAG_LENGTH and long.endswith("~")


def test_job_tags_put_the_identity_first_and_check_ibms_limits() -> None:
    tags = job_tags(BASE, ["team.quantum", "team.quantum"])
    assert tags == (identity_tag(BASE), "qiskit-argo.name.lab.bell", "team.quantum")
    with pytest.raises(ValueError, match="at most 8"):
        job_tags(BASE, [f"t{i}" for i in range(MAX_TAGS - 1)])
    for bad in ("a" * 87, "has space", "a,b", "a/b", ""):
        with pytest.raises(ValueError):
            check_tags([bad])
    assert check_tags(["a" * 86, "A.b_c~d-e"]) == ("a" * 86, "A.b_c~d-e")


def test_the_identity_of_a_qiskit_job() -> None:
    job, _ = load_job(REPO / "examples" / "bell.yaml")
    job.metadata.uid, job.metadata.generation = UID, 3
    assert JobIdentity.of(job) == JobIdentity("default", "bell", UID, 3)
    job.metadata.uid, job.metadata.generation = None, None
    assert JobIdentity.of(job) == JobIdentity("default", "bell", None, 0), "a local run"
