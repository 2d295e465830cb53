"""Read VEX documents apart, without a database: CycloneDX VEX (JSON 1.4 to 1.6) and OpenVEX.

CycloneDX is validated with cyclonedx-python-lib's JSON schema validator. Each
``vulnerabilities[]`` entry with an ``analysis.state`` is a statement about its
``affects[].ref``, known by its ``id`` and its ``references[].id`` aliases. Its time is
``analysis.lastUpdated``, else ``analysis.firstIssued``, else ``metadata.timestamp``; its author
the ``medfleet:vex:author`` property, else ``metadata.authors``, ``manufacturer``, ``supplier``;
its detail ``analysis.detail``, else the vulnerability's ``recommendation``.
``metadata.component`` names the release the document is about, if it is one.

OpenVEX (``@context`` https://openvex.dev/ns…, spec v0.2.0 and the older plain-string
vulnerability) is checked field by field: ``@id``, ``author``, ``timestamp``, ``version`` and
``statements`` are required; each statement needs a ``vulnerability`` name, a ``status`` and
``products`` (``@id`` or ``identifiers.purl``, with optional ``subcomponents``). Its time is its
own ``timestamp``, else the document's.

Analyses are translated and checked by ``medfleet.vulns.vex``; a broken rule raises
``InvalidVexError`` naming the statement. Entries medfleet's own exports mark as implicit
(untriaged findings) are flagged so that an import can skip them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonValidator

from medfleet.vulns import vex
from medfleet.vulns.errors import InvalidVexError

CYCLONEDX_SOURCE = "cyclonedx-vex"
OPENVEX_SOURCE = "openvex"
CYCLONEDX_VERSIONS = ("1.4", "1.5", "1.6")
OPENVEX_CONTEXT = "https://openvex.dev/ns"
AUTHOR_PROPERTY = "medfleet:vex:author"
IMPLICIT_PROPERTY = "medfleet:vex:implicit"
IMPLICIT_NOTE = "medfleet: matched by an advisory, not analysed yet"


@dataclass(frozen=True)
class Product:
    """A reference a statement is about, and the subcomponents it narrows to (OpenVEX)."""

    ref: str
    subcomponents: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentStatement:
    """One statement read from a document, not yet resolved to releases."""

    ids: tuple[str, ...]
    analysis: vex.Analysis
    products: tuple[Product, ...]
    author: str
    stated_at: datetime
    implicit: bool = False


@dataclass(frozen=True)
class ParsedDocument:
    """A document read apart: its source, id, statements, and the release it names, if any."""

    source: str
    document_id: str
    statements: tuple[DocumentStatement, ...]
    unusable: tuple[tuple[str, str], ...] = ()  # (vulnerability, why it is no statement)
    release_model: str | None = None
    release_version: str | None = None
    release_purl: str | None = None
    release_ref: str | None = None


def parse_document(document: Any) -> ParsedDocument:
    """Read a CycloneDX VEX or OpenVEX document (decoded JSON).

    Raises:
        InvalidVexError: neither kind, or the document breaks its format's rules or medfleet's.
    """
    if not isinstance(document, dict):
        raise InvalidVexError("a VEX document is a JSON object")
    if document.get("bomFormat") == "CycloneDX":
        return parse_cyclonedx(document)
    context = document.get("@context")
    if isinstance(context, str) and context.startswith(OPENVEX_CONTEXT):
        return parse_openvex(document)
    raise InvalidVexError(
        "not a VEX document: expected CycloneDX (bomFormat) or OpenVEX "
        f"(@context {OPENVEX_CONTEXT}…)"
    )


@functools.cache
def cyclonedx_validator(spec_version: str) -> JsonValidator:
    """cyclonedx-python-lib's JSON validator for a spec version (schemas loaded once)."""
    return JsonValidator(SchemaVersion.from_version(spec_version))


def check_cyclonedx_schema(document: dict[str, Any], spec_version: str) -> None:
    """Validate a CycloneDX document against its JSON schema.

    Raises:
        InvalidVexError: naming the first violation and where it is.
    """
    error = cyclonedx_validator(spec_version).validate_str(json.dumps(document))
    if error is not None:
        where = "/".join(str(part) for part in error.data.absolute_path) or "document"
        raise InvalidVexError(f"not valid CycloneDX {spec_version}: {where}: {error.data.message}")


def parse_cyclonedx(document: dict[str, Any]) -> ParsedDocument:
    """Read a CycloneDX VEX document (see the module docstring).

    Raises:
        InvalidVexError: unsupported version, schema violation, or no author or time.
    """
    spec = document.get("specVersion")
    if spec not in CYCLONEDX_VERSIONS:
        raise InvalidVexError(
            f"CycloneDX specVersion {spec!r} is not supported (supported: 1.4, 1.5, 1.6)"
        )
    check_cyclonedx_schema(document, spec)
    metadata = document.get("metadata", {})
    entries = document.get("vulnerabilities") or []
    if not entries:
        raise InvalidVexError("the CycloneDX document has no vulnerabilities: not a VEX document")
    author = _cyclonedx_author(metadata)
    statements: list[DocumentStatement] = []
    unusable: list[tuple[str, str]] = []
    for entry in entries:
        name = entry.get("id")
        if not name:
            raise InvalidVexError("every CycloneDX vulnerability needs an id")
        analysis = entry.get("analysis") or {}
        if not analysis.get("state"):
            unusable.append((name, "no analysis state: not a VEX statement"))
            continue
        if not entry.get("affects"):
            unusable.append((name, "the vulnerability affects nothing (no affects)"))
            continue
        statements.append(_cyclonedx_statement(entry, analysis, author, metadata))
    component = metadata.get("component") or {}
    return ParsedDocument(
        source=CYCLONEDX_SOURCE,
        document_id=document.get("serialNumber") or "cyclonedx-vex",
        statements=tuple(statements),
        unusable=tuple(unusable),
        release_model=component.get("name"),
        release_version=component.get("version"),
        release_purl=component.get("purl"),
        release_ref=component.get("bom-ref"),
    )


def _cyclonedx_statement(
    entry: dict[str, Any], analysis: dict[str, Any], author: str, metadata: dict[str, Any]
) -> DocumentStatement:
    name: str = entry["id"]
    properties = {p.get("name"): p.get("value") for p in entry.get("properties", [])}
    stamp = analysis.get("lastUpdated") or analysis.get("firstIssued") or metadata.get("timestamp")
    if not stamp:
        raise InvalidVexError(
            f"{name}: a statement needs a time (analysis.lastUpdated or metadata.timestamp)"
        )
    try:
        checked = vex.check_analysis(
            analysis["state"],
            analysis.get("justification"),
            analysis.get("response", []),
            analysis.get("detail") or entry.get("recommendation"),
        )
    except InvalidVexError as exc:
        raise InvalidVexError(f"{name}: {exc}") from None
    return DocumentStatement(
        ids=(name, *(reference["id"] for reference in entry.get("references", []))),
        analysis=checked,
        products=tuple(Product(target["ref"]) for target in entry["affects"]),
        author=properties.get(AUTHOR_PROPERTY) or author,
        stated_at=parse_time(stamp, name),
        implicit=properties.get(IMPLICIT_PROPERTY) == "true",
    )


def _cyclonedx_author(metadata: dict[str, Any]) -> str:
    names = [author.get("name") for author in metadata.get("authors", []) if author.get("name")]
    if names:
        return ", ".join(names)
    for key in ("manufacturer", "manufacture", "supplier"):
        name = (metadata.get(key) or {}).get("name")
        if name:
            return str(name)
    raise InvalidVexError(
        "the CycloneDX document names no author (metadata.authors, manufacturer or supplier)"
    )


def parse_openvex(document: dict[str, Any]) -> ParsedDocument:
    """Read an OpenVEX document (see the module docstring).

    Raises:
        InvalidVexError: a required field is missing or wrong, naming it.
    """
    document_id = _text(document, "@id", "the OpenVEX document")
    author = _text(document, "author", "the OpenVEX document")
    timestamp = parse_time(_text(document, "timestamp", "the OpenVEX document"), "the document")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidVexError("the OpenVEX document needs an integer version")
    entries = document.get("statements")
    if not isinstance(entries, list) or not entries:
        raise InvalidVexError("the OpenVEX document needs a non-empty list of statements")
    statements = tuple(
        _openvex_statement(entry, f"OpenVEX statement {number}", author, timestamp)
        for number, entry in enumerate(entries, start=1)
    )
    return ParsedDocument(OPENVEX_SOURCE, document_id, statements)


def _openvex_statement(
    entry: Any, where: str, author: str, document_time: datetime
) -> DocumentStatement:
    if not isinstance(entry, dict):
        raise InvalidVexError(f"{where} is not an object")
    vulnerability = entry.get("vulnerability")
    if isinstance(vulnerability, str):  # OpenVEX before v0.2.0
        vulnerability = {"name": vulnerability}
    if not isinstance(vulnerability, dict):
        raise InvalidVexError(f"{where} needs a vulnerability with a name")
    name = _text(vulnerability, "name", f"{where}'s vulnerability")
    aliases = vulnerability.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise InvalidVexError(f"{where}: vulnerability aliases must be a list of strings")
    products = entry.get("products")
    if not isinstance(products, list) or not products:
        raise InvalidVexError(f"{where} needs a non-empty list of products")
    texts = {
        key: _optional_text(entry, key, where)
        for key in ("justification", "impact_statement", "action_statement", "status_notes")
    }
    try:
        analysis = vex.from_openvex(_text(entry, "status", where), **texts)
    except InvalidVexError as exc:
        raise InvalidVexError(f"{where} ({name}): {exc}") from None
    stamp = entry.get("timestamp")
    return DocumentStatement(
        ids=(name, *aliases),
        analysis=analysis,
        products=tuple(_product(product, where) for product in products),
        author=author,
        stated_at=parse_time(stamp, where) if stamp else document_time,
        implicit=texts["status_notes"] == IMPLICIT_NOTE,
    )


def _product(product: Any, where: str) -> Product:
    ref = _component_ref(product, f"{where}: a product")
    subcomponents = product.get("subcomponents") or []
    if not isinstance(subcomponents, list):
        raise InvalidVexError(f"{where}: subcomponents must be a list")
    return Product(
        ref, tuple(_component_ref(sub, f"{where}: a subcomponent") for sub in subcomponents)
    )


def _component_ref(component: Any, what: str) -> str:
    if not isinstance(component, dict):
        raise InvalidVexError(f"{what} is not an object")
    identifiers = component.get("identifiers")
    ref = component.get("@id")
    if not ref and isinstance(identifiers, dict):
        ref = identifiers.get("purl")
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidVexError(f"{what} needs an @id or an identifiers.purl")
    return ref.strip()


def _text(container: dict[str, Any], key: str, what: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidVexError(f"{what} needs {key!r} (a non-empty string)")
    return value.strip()


def _optional_text(container: dict[str, Any], key: str, what: str) -> str | None:
    value = container.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidVexError(f"{what}: {key!r} must be a string")
    return value


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 timestamp with a zone, in UTC.

    Raises:
        InvalidVexError: unreadable, or without a time zone.
    """
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidVexError(f"{what}: {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise InvalidVexError(f"{what}: timestamp {value!r} needs a time zone")
    return parsed.astimezone(UTC)
