"""Reading CycloneDX 1.4, 1.5 and 1.6 JSON SBOMs into ``sbom_model.ParsedSbom``.

A document is first validated against the JSON schema of its own ``specVersion`` with
cyclonedx-python-lib's strict JSON validator, and every schema problem is reported at once.
Then bom-refs must be unique across ``metadata.component`` and all components, and every
component must pass ``sbom_model.build_component``. Components nested in components (and in
``metadata.component``) are included; ``metadata.component`` itself is the device software the
SBOM describes, not a component of it. A component without a bom-ref is named by its purl,
else ``name@version``, else its position in the document.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from medfleet.vulns.errors import (
    DuplicateSbomRefError,
    InvalidSbomComponentError,
    SbomSchemaError,
    UnsupportedSbomVersionError,
)
from medfleet.vulns.sbom_model import (
    CYCLONEDX,
    MAX_LENGTHS,
    ParsedSbom,
    Problem,
    RawComponent,
    as_dicts,
    build_component,
)

SUPPORTED_VERSIONS = ("1.4", "1.5", "1.6")
MAX_REPORTED = 1000
"""At most this many schema problems are collected (a broken document can have millions)."""
_MAX_MESSAGE = 300


def is_cyclonedx(document: dict[str, Any]) -> bool:
    """Whether the document says it is CycloneDX (``"bomFormat": "CycloneDX"``)."""
    return document.get("bomFormat") == "CycloneDX"


def read_cyclonedx(document: dict[str, Any], text: str) -> ParsedSbom:
    """The SBOM of a CycloneDX JSON document (``text``, already parsed as ``document``).

    Raises:
        UnsupportedSbomVersionError: a specVersion other than 1.4, 1.5 or 1.6.
        SbomSchemaError: the document breaks its version's JSON schema (every problem listed).
        DuplicateSbomRefError: a bom-ref is used twice.
        InvalidSbomComponentError: a bad purl, CPE, support level or end-of-support date.
    """
    version = document.get("specVersion")
    if version not in SUPPORTED_VERSIONS:
        shown = "without a specVersion" if version is None else f"{version}"
        raise UnsupportedSbomVersionError(
            f"CycloneDX {shown} is not supported; {SUPPORTED_VERSIONS[0]}-"
            f"{SUPPORTED_VERSIONS[-1]} are"
        )
    problems = schema_problems(text, version)
    if problems:
        raise SbomSchemaError(
            f"the document is not valid CycloneDX {version} JSON", as_dicts(problems)
        )
    raws = _raw_components(document)
    problems = []
    components = [build_component(raw, problems) for raw in raws]
    if problems:
        raise InvalidSbomComponentError("components cannot be used", as_dicts(problems))
    serial = document.get("serialNumber")
    return ParsedSbom(
        format=CYCLONEDX,
        spec_version=version,
        serial_number=serial if isinstance(serial, str) else None,
        components=tuple(c for c in components if c is not None),
    )


@functools.cache
def _validator(version: str) -> JsonStrictValidator:
    return JsonStrictValidator(SchemaVersion.from_version(version))


def schema_problems(text: str, version: str) -> list[Problem]:
    """Every way ``text`` breaks the CycloneDX ``version`` JSON schema (at most MAX_REPORTED)."""
    errors = _validator(version).validate_str(text, all_errors=True)
    if errors is None:
        return []
    problems = []
    for error in islice(errors, MAX_REPORTED):
        data = error.data
        message = str(data.message)
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE] + "…"
        problems.append(Problem(_where(data.absolute_path), message))
    return problems


def _where(path: deque[str | int]) -> str:
    where = ""
    for step in path:
        where += f"[{step}]" if isinstance(step, int) else f".{step}" if where else str(step)
    return where or "(document)"


def _component_dicts(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every component with where it is, in document order, nested ones after their parent."""
    metadata_component = (document.get("metadata") or {}).get("component") or {}
    roots = [
        ("components", document.get("components") or []),
        ("metadata.component.components", metadata_component.get("components") or []),
    ]
    stack = [
        (f"{prefix}[{index}]", item)
        for prefix, items in reversed(roots)
        for index, item in reversed(list(enumerate(items)))
    ]
    while stack:  # iterative: nesting depth is the document's choice
        where, item = stack.pop()
        yield where, item
        children = item.get("components") or []
        stack.extend(
            (f"{where}.components[{index}]", child)
            for index, child in reversed(list(enumerate(children)))
        )


def _raw_components(document: dict[str, Any]) -> list[RawComponent]:
    """The components read apart; refuses duplicate bom-refs."""
    found = list(_component_dicts(document))
    declared: dict[str, str] = {}
    duplicates: list[Problem] = []
    metadata_ref = ((document.get("metadata") or {}).get("component") or {}).get("bom-ref")
    if isinstance(metadata_ref, str):
        declared[metadata_ref] = "metadata.component"
    for where, item in found:
        ref = item.get("bom-ref")
        if ref is None:
            continue
        if ref in declared:
            duplicates.append(Problem(where, f"bom-ref {ref!r} is also used by {declared[ref]}"))
        else:
            declared[ref] = where
    if duplicates:
        raise DuplicateSbomRefError("bom-refs must be unique", as_dicts(duplicates))
    taken = set(declared)
    return [_raw(where, item, _ref(where, item, taken)) for where, item in found]


def _ref(where: str, item: dict[str, Any], taken: set[str]) -> str:
    ref = item.get("bom-ref")
    if isinstance(ref, str):
        return ref
    version = item.get("version")
    name = f"{item['name']}@{version}" if version else str(item["name"])
    candidate = item.get("purl") or name
    if candidate in taken or len(candidate) > MAX_LENGTHS["bom_ref"]:
        candidate = where
    taken.add(candidate)
    return str(candidate)


def _raw(where: str, item: dict[str, Any], bom_ref: str) -> RawComponent:
    supplier = (
        (item.get("supplier") or {}).get("name")
        or (item.get("manufacturer") or {}).get("name")
        or item.get("publisher")
    )
    return RawComponent(
        where=where,
        bom_ref=bom_ref,
        kind=item["type"],
        name=item["name"],
        version=item.get("version") or None,
        purl=item.get("purl") or None,
        cpe=item.get("cpe") or None,
        supplier=supplier or None,
        hashes=[(h["alg"], h["content"]) for h in item.get("hashes") or []],
        lifecycle=[(p["name"], p.get("value") or "") for p in item.get("properties") or []],
    )
