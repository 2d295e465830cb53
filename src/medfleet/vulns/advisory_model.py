"""An advisory record as medfleet reads it, whatever its source (OSV, NVD). Pure.

A ``ParsedAdvisory`` is one record from one source: the ids it goes by (its own first, then its
aliases), what it says about the vulnerability (summary, severity, CVSS), when it was published,
modified or withdrawn, and the packages it says are affected. Each ``AffectedPackage`` is keyed
like an SBOM component (``package_key`` from a purl, or ``cpe_key`` from a CPE) and carries its
ranges in the JSON form ``AdvisoryPackage.ranges`` stores (``[{"type": "ECOSYSTEM", "events":
[{"introduced": "1.0.1"}, {"fixed": "1.0.1g"}]}]``) and its explicitly listed versions.

``ignored`` says, for each part of the record that medfleet cannot use (an affected entry of an
ecosystem without a purl type, git-only ranges), why it was left out; nothing is dropped
silently. ``content_sha256`` fingerprints the record as imported: a re-import of the same record
with the same parser is recognised and changes nothing. ``parse_record`` is the one way the
source parsers (``osv``, ``nvd``) turn a malformed record into an error that names it.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medfleet.audit.model import canonical_json
from medfleet.vulns.errors import InvalidAdvisoryError, VulnsError

PARSER_VERSION = 1
"""Part of every content hash: raising it makes the next import re-read every stored record."""


class Source(enum.StrEnum):
    """Where advisory records come from."""

    OSV = "osv"
    NVD = "nvd"


class Severity(enum.StrEnum):
    """Qualitative severity, CVSS's names in lower case."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"


_SEVERITY_NAMES = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,  # Red Hat's word
    "moderate": Severity.MEDIUM,  # GitHub's and Red Hat's word
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "none": Severity.NONE,
}


def severity_from_name(name: object) -> Severity | None:
    """A severity from a source's word for it (``HIGH``, ``MODERATE``…); None when unknown."""
    if not isinstance(name, str):
        return None
    return _SEVERITY_NAMES.get(name.strip().lower())


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    """One affected package: its key (purl or CPE), ecosystem, ranges and listed versions."""

    package_key: str | None
    cpe_key: str | None
    ecosystem: str | None
    ranges: tuple[dict[str, Any], ...] = ()
    versions: tuple[str, ...] = ()

    def as_row(self) -> dict[str, Any]:
        """The columns of an ``AdvisoryPackage`` row (without advisory and vulnerability)."""
        return {
            "package_key": self.package_key,
            "cpe_key": self.cpe_key,
            "ecosystem": self.ecosystem,
            "ranges": [dict(entry) for entry in self.ranges],
            "versions": list(self.versions),
        }


@dataclass(frozen=True, slots=True)
class ParsedAdvisory:
    """One advisory record, read; ``ids`` is its own id followed by its aliases."""

    source: Source
    source_id: str
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    summary: str = ""
    severity: Severity | None = None
    cvss_score: float | None = None
    cvss_vector: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    withdrawn: datetime | None = None
    packages: tuple[AffectedPackage, ...] = ()
    ignored: tuple[str, ...] = ()
    document: Mapping[str, Any] = field(default_factory=dict, compare=False)
    _sha256: str = field(default="", init=False, repr=False, compare=False)

    @property
    def content_sha256(self) -> str:
        """SHA-256 of the canonical JSON of the record (and the parser version) as imported."""
        if not self._sha256:  # computed once: imports ask for it several times
            text = canonical_json({"parser": PARSER_VERSION, "document": self.document})
            object.__setattr__(self, "_sha256", hashlib.sha256(text.encode()).hexdigest())
        return self._sha256

    @property
    def ids(self) -> tuple[str, ...]:
        """The record's own id, then its aliases (without repeats)."""
        return tuple(dict.fromkeys((self.source_id, *self.aliases)))


def parse_timestamp(value: object) -> datetime | None:
    """An RFC 3339 / ISO 8601 timestamp as aware UTC (a zone-less one is read as UTC).

    Raises:
        ValueError: not a string, or not a timestamp.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a timestamp")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_record(
    record: object,
    location: str,
    parse: Callable[[Mapping[str, Any]], ParsedAdvisory],
    *,
    kind: str,
    named: str,
) -> ParsedAdvisory:
    """``parse(record)`` for a JSON object; any problem becomes one ``InvalidAdvisoryError``
    that names ``location``, and the record as ``named`` and its id (``kind`` without one).

    Raises:
        InvalidAdvisoryError: ``record`` is not an object, or ``parse`` raised a ``ValueError``
            or a ``VulnsError``.
    """
    where = f"{location}: " if location else ""
    if not isinstance(record, Mapping):
        raise InvalidAdvisoryError(f"{where}an {kind} must be a JSON object")
    try:
        return parse(record)
    except (VulnsError, ValueError) as exc:
        record_id = record.get("id")
        label = f"{named} {record_id}" if isinstance(record_id, str) else kind
        raise InvalidAdvisoryError(f"{where}{label}: {exc}") from exc
