"""Fixtures of the IBM step tests (helpers in ``tests.ibm.steputil``)."""

from tests.ibm.steputil import job_files

__all__ = ["job_files"]
