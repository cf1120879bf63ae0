"""A results artifact's bytes → its files, and the checksum check.

Argo's executor stores a directory output as a gzipped tar of the directory with its base name
as the top entry (argo-workflows v4.1.2 ``util/archive/archive.go`` ``tarDir``: ``results``,
``results/result.json``...; ``workflow/executor/executor.go`` ``stageArchiveFile`` names the
object ``<artifact>.tgz``). With ``archive: none`` the directory's files are stored one object
each under ``<key>/``; ``fetch`` reads those by name and never calls ``unpack_results``.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import tarfile
import zlib
from collections.abc import Mapping

from qiskit_argo.api import ResultLocation
from qiskit_argo.artifacts._errors import CorruptResult

__all__ = ["RESULT_FILES", "RESULT_JSON", "MAX_RESULTS_BYTES", "unpack_results", "verify_results"]

RESULT_JSON = "result.json"
#: What a results directory holds (``qiskit_argo.results``), in the order a local run writes them.
RESULT_FILES = (RESULT_JSON, "metrics.json", "histogram.png")
#: The most bytes the files of one results artifact may unpack to (a guard against a gzip bomb).
MAX_RESULTS_BYTES = 4 * 1024**3


def unpack_results(data: bytes, what: str = "results artifact") -> dict[str, bytes]:
    """The ``RESULT_FILES`` in a tgz as Argo writes it (any one top directory, or none); other
    entries are ignored. A truncated or unreadable archive → ``CorruptResult``."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                parts = [p for p in posixpath.normpath(member.name).split("/") if p not in ("", ".")]
                if not parts or ".." in parts or len(parts) > 2 or parts[-1] not in RESULT_FILES:
                    continue
                total += member.size
                if total > MAX_RESULTS_BYTES:
                    raise CorruptResult(f"{what}: unpacks to more than {MAX_RESULTS_BYTES} bytes; refusing it")
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                content = handle.read()
                if len(content) != member.size:
                    raise CorruptResult(f"{what}: {parts[-1]} is cut short ({len(content)} of {member.size} bytes)")
                files[parts[-1]] = content
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        why = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CorruptResult(
            f"{what}: {len(data)} bytes that are not a complete tar.gz ({why}); the download was cut short or "
            "the object is damaged; fetch it again"
        ) from None
    return files


def verify_results(files: Mapping[str, bytes], location: ResultLocation, what: str = "result.json") -> None:
    """Raise ``CorruptResult`` unless ``files`` has a result.json of the size and sha256 the job's
    status recorded (``location.size``/``sha256``). A location from before checksums were
    recorded has none: result.json must then at least be complete JSON."""
    data = files.get(RESULT_JSON)
    if data is None:
        raise CorruptResult(f"the results artifact has no {RESULT_JSON}; it is damaged or not a qiskit-argo result")
    if location.size is not None and len(data) != location.size:
        raise CorruptResult(
            f"{what}: {len(data)} bytes, but the job recorded {location.size}; the download was cut short or the "
            "object was changed; fetch it again"
        )
    if location.sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != location.sha256:
            raise CorruptResult(
                f"{what}: sha256 {digest[:16]}... does not match the {location.sha256[:16]}... the job recorded; "
                "the object is damaged or was changed; fetch it again, else rerun the job"
            )
        return
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise CorruptResult(f"{what}: {len(data)} bytes that are not complete JSON (no checksum recorded)") from None
