"""Reading SPDX 2.3 JSON SBOMs into ``sbom_model.ParsedSbom``, with spdx-tools.

SPDXIDs must be unique (checked first, for a specific error); then spdx-tools parses the
document and ``validate_full_spdx_document`` checks it against SPDX 2.3, and every message of
either is reported at once. Each package is a component named by its SPDXID, with:

- purl: the first external ref of category PACKAGE-MANAGER and type ``purl``;
- CPE: the first SECURITY ref of type ``cpe23Type``, else ``cpe22Type``;
- kind: ``primaryPackagePurpose`` as a CycloneDX component type (``library`` when it is absent
  or has no CycloneDX counterpart: SOURCE, ARCHIVE, INSTALL, OTHER);
- supplier: the supplier's name (NOASSERTION: none); hashes: the checksums, with CycloneDX
  algorithm names (``SHA256`` becomes ``SHA-256``);
- end of support: ``validUntilDate``; level of support: a ``medfleet:support-level=<level>`` line
  in an annotation of the package or in its comment (``sbom_model`` lists the other names).

The packages the document DESCRIBES are the device software itself and are left out, unless
the document describes every package (then all are components). Files and snippets are not
components.
"""

from __future__ import annotations

from typing import Any

from spdx_tools.spdx.model.actor import Actor
from spdx_tools.spdx.model.checksum import ChecksumAlgorithm
from spdx_tools.spdx.model.document import Document
from spdx_tools.spdx.model.package import ExternalPackageRefCategory, Package, PackagePurpose
from spdx_tools.spdx.model.relationship import RelationshipType
from spdx_tools.spdx.parser.error import SPDXParsingError
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.validation.validation_message import ValidationContext

from medfleet.vulns.errors import (
    DuplicateSbomRefError,
    InvalidSbomComponentError,
    SbomSchemaError,
    UnsupportedSbomVersionError,
)
from medfleet.vulns.sbom_model import (
    SPDX,
    ParsedSbom,
    Problem,
    RawComponent,
    as_dicts,
    assignments_in,
    build_component,
)

SPDX_VERSION = "SPDX-2.3"
_PURPOSE_KIND = {
    "APPLICATION": "application",
    "FRAMEWORK": "framework",
    "LIBRARY": "library",
    "CONTAINER": "container",
    "OPERATING_SYSTEM": "operating-system",
    "DEVICE": "device",
    "FIRMWARE": "firmware",
    "FILE": "file",
}
_CYCLONEDX_ALG = {
    "SHA1": "SHA-1",
    "SHA256": "SHA-256",
    "SHA384": "SHA-384",
    "SHA512": "SHA-512",
    "SHA3_256": "SHA3-256",
    "SHA3_384": "SHA3-384",
    "SHA3_512": "SHA3-512",
    "BLAKE2B_256": "BLAKE2b-256",
    "BLAKE2B_384": "BLAKE2b-384",
    "BLAKE2B_512": "BLAKE2b-512",
    "BLAKE3": "BLAKE3",
    "MD5": "MD5",
}
"""SPDX checksum algorithms CycloneDX knows too; others (SHA224, MD2, MD4, MD6, ADLER32) keep
their SPDX name and are left out of a CycloneDX export."""


def is_spdx(document: dict[str, Any]) -> bool:
    """Whether the document says it is SPDX 2 JSON (it has ``spdxVersion``)."""
    return "spdxVersion" in document


def read_spdx(document: dict[str, Any]) -> ParsedSbom:
    """The SBOM of an SPDX 2.3 JSON document.

    Raises:
        UnsupportedSbomVersionError: an spdxVersion other than SPDX-2.3.
        DuplicateSbomRefError: an SPDXID is used twice.
        SbomSchemaError: spdx-tools cannot parse the document or finds it invalid (all listed).
        InvalidSbomComponentError: a bad purl, CPE, support level or end-of-support date.
    """
    version = document.get("spdxVersion")
    if version != SPDX_VERSION:
        raise UnsupportedSbomVersionError(f"{version} is not supported; {SPDX_VERSION} is")
    _check_unique_ids(document)
    parsed = _parse(document)
    messages = validate_full_spdx_document(parsed, SPDX_VERSION)
    if messages:
        problems = [Problem(_where(m.context), m.validation_message) for m in messages]
        raise SbomSchemaError(f"the document is not valid {SPDX_VERSION}", as_dicts(problems))
    problems = []
    built = [build_component(_raw(parsed, package), problems) for package in _packages(parsed)]
    if problems:
        raise InvalidSbomComponentError("packages cannot be used", as_dicts(problems))
    return ParsedSbom(
        format=SPDX,
        spec_version=SPDX_VERSION,
        serial_number=parsed.creation_info.document_namespace,
        components=tuple(component for component in built if component is not None),
    )


def _check_unique_ids(document: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    duplicates = []
    elements = [("(document)", document)] + [
        (f"{section}[{index}]", element)
        for section in ("packages", "files", "snippets")
        if isinstance(document.get(section), list)
        for index, element in enumerate(document[section])
    ]
    for where, element in elements:
        spdx_id = element.get("SPDXID") if isinstance(element, dict) else None
        if not isinstance(spdx_id, str):
            continue
        if spdx_id in seen:
            duplicates.append(Problem(where, f"SPDXID {spdx_id!r} is also used by {seen[spdx_id]}"))
        else:
            seen[spdx_id] = where
    if duplicates:
        raise DuplicateSbomRefError("SPDXIDs must be unique", as_dicts(duplicates))


def _parse(document: dict[str, Any]) -> Document:
    try:
        return JsonLikeDictParser().parse(document)  # type: ignore[no-untyped-call]
    except SPDXParsingError as exc:
        problems = [Problem("(document)", message) for message in exc.get_messages()]  # type: ignore[no-untyped-call]
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # spdx-tools assumes the JSON's shape (objects where objects belong) before checking it
        problems = [Problem("(document)", f"malformed SPDX JSON structure: {exc}")]
    raise SbomSchemaError(f"the document cannot be read as {SPDX_VERSION}", as_dicts(problems))


def _packages(document: Document) -> list[Package]:
    own_id = document.creation_info.spdx_id
    described = {
        r.related_spdx_element_id
        for r in document.relationships
        if r.relationship_type == RelationshipType.DESCRIBES and r.spdx_element_id == own_id
    } | {
        r.spdx_element_id
        for r in document.relationships
        if r.relationship_type == RelationshipType.DESCRIBED_BY
        and r.related_spdx_element_id == own_id
    }
    components = [p for p in document.packages if p.spdx_id not in described]
    return components or list(document.packages)


def _raw(document: Document, package: Package) -> RawComponent:
    refs = package.external_references
    purls = [
        r.locator
        for r in refs
        if r.category == ExternalPackageRefCategory.PACKAGE_MANAGER and r.reference_type == "purl"
    ]
    security = [r for r in refs if r.category == ExternalPackageRefCategory.SECURITY]
    cpes = [r.locator for r in security if r.reference_type == "cpe23Type"] + [
        r.locator for r in security if r.reference_type == "cpe22Type"
    ]
    texts = [a.annotation_comment for a in document.annotations if a.spdx_id == package.spdx_id]
    if package.comment:
        texts.append(package.comment)
    purpose: PackagePurpose | None = package.primary_package_purpose
    checksums = [(_alg(c.algorithm), c.value) for c in package.checksums]
    valid_until = package.valid_until_date
    return RawComponent(
        where=package.spdx_id,
        bom_ref=package.spdx_id,
        kind=_PURPOSE_KIND.get(purpose.name, "library") if purpose else "library",
        name=package.name,
        version=package.version or None,
        purl=purls[0] if purls else None,
        cpe=cpes[0] if cpes else None,
        supplier=package.supplier.name if isinstance(package.supplier, Actor) else None,
        hashes=checksums,
        lifecycle=[pair for text in texts for pair in assignments_in(text)],
        end_of_support=valid_until.date() if valid_until else None,
    )


def _alg(algorithm: ChecksumAlgorithm) -> str:
    name: str = algorithm.name
    return _CYCLONEDX_ALG.get(name, name)


def _where(context: ValidationContext) -> str:
    return str(context.spdx_id or context.parent_id or "(document)")
