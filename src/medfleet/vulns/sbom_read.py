"""Reading an SBOM document of any supported kind: size, encoding, format detection. Pure.

CycloneDX (``"bomFormat": "CycloneDX"``, 1.4-1.6) goes to ``sbom_cyclonedx``, SPDX 2
(``spdxVersion``, 2.3 only) to ``sbom_spdx``; anything else is refused with a message saying
what was expected. Nothing here touches the database.
"""

from __future__ import annotations

import json

from medfleet.releases.records import MAX_SBOM_BYTES
from medfleet.vulns.errors import (
    InvalidSbomError,
    SbomTooLargeError,
    UnsupportedSbomVersionError,
)
from medfleet.vulns.sbom_cyclonedx import is_cyclonedx, read_cyclonedx
from medfleet.vulns.sbom_model import ParsedSbom
from medfleet.vulns.sbom_spdx import is_spdx, read_spdx

MAX_DOCUMENT_BYTES = MAX_SBOM_BYTES
"""The largest SBOM document imported (the size the release record accepts too)."""


def read_document(data: bytes) -> ParsedSbom:
    """Detect, validate and read an SBOM document; pure.

    Raises:
        SbomTooLargeError: more than ``MAX_DOCUMENT_BYTES``.
        InvalidSbomError: not UTF-8 JSON, or neither CycloneDX nor SPDX.
        UnsupportedSbomVersionError, SbomSchemaError, DuplicateSbomRefError,
        InvalidSbomComponentError: from the format's reader.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise SbomTooLargeError(
            f"the SBOM has {len(data)} bytes; at most {MAX_DOCUMENT_BYTES} are imported"
        )
    try:
        text = data.decode("utf-8-sig")
        document = json.loads(text)
    except UnicodeDecodeError as exc:
        raise InvalidSbomError(f"an SBOM must be UTF-8 JSON: {exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidSbomError(f"the SBOM is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidSbomError("an SBOM is a JSON object")
    try:
        if is_cyclonedx(document):
            return read_cyclonedx(document, text)
        if is_spdx(document):
            return read_spdx(document)
    except RecursionError as exc:
        raise InvalidSbomError("the SBOM is nested too deeply to be read") from exc
    if "@context" in document:
        raise UnsupportedSbomVersionError("SPDX 3 (JSON-LD) is not supported; SPDX-2.3 JSON is")
    raise InvalidSbomError(
        'neither CycloneDX ("bomFormat": "CycloneDX") nor SPDX ("spdxVersion") JSON'
    )
