"""OSV records (https://ossf.github.io/osv-schema/) read into ``ParsedAdvisory``. Pure.

What is kept:

- ``id`` and ``modified`` are required. ``aliases`` name the same vulnerability and merge with
  it; ``related`` ones are kept for reference but never merged. ``upstream`` (schema 1.7) lists
  what a distribution's record was derived from: with exactly one entry (``DEBIAN-CVE-2022-3602``
  from ``CVE-2022-3602``) that is the same vulnerability and counts as an alias; with several (a
  DSA fixing many CVEs) the record is its own vulnerability and they are kept as related.
- ``summary`` (else the first line of ``details``); ``severity``: the CVSS vector (v3 before v4
  before v2); the qualitative severity from ``database_specific.severity`` (GitHub's ``HIGH``,
  ``MODERATE``…) or an Ubuntu-style ``severity`` entry, else the vector's. OSV carries no
  numeric score: the base score is computed from the vector (``cvss_scores``); a vector that
  cannot be scored is kept, unscored, and named among the record's ignored parts.
- ``affected[]``: the package key comes from ``package.purl`` when given (so an entry named by
  purl only, such as ``pkg:generic/openssl`` for a C library no ecosystem packages, works), else
  from ``ecosystem`` and ``name`` through ``PURL_TYPES`` (``Debian:7`` → ``pkg:deb/debian/…``;
  Maven's ``group:artifact`` → namespace/name). An entry of an ecosystem with no purl type and
  no purl, one without a package (git only), or one without usable ranges or versions is left
  out and named in ``ignored``. ``ECOSYSTEM`` and ``SEMVER`` ranges are kept, ``GIT`` ranges
  (commit hashes) dropped; every range is validated with ``ranges.ranges_from_json``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from packageurl import PackageURL

from medfleet.vulns.advisory_model import (
    AffectedPackage,
    ParsedAdvisory,
    Severity,
    Source,
    parse_record,
    parse_timestamp,
    severity_from_name,
)
from medfleet.vulns.cvss_scores import Scored, base_score
from medfleet.vulns.errors import InvalidIdentifierError, VulnsError
from medfleet.vulns.identity import normalize_id
from medfleet.vulns.keys import package_key
from medfleet.vulns.ranges import ranges_from_json

# OSV ecosystem (the part before ":") -> (purl type, fixed namespace or None).
PURL_TYPES: dict[str, tuple[str, str | None]] = {
    "PyPI": ("pypi", None),
    "npm": ("npm", None),
    "crates.io": ("cargo", None),
    "Go": ("golang", None),
    "Maven": ("maven", None),
    "NuGet": ("nuget", None),
    "RubyGems": ("gem", None),
    "Packagist": ("composer", None),
    "Hex": ("hex", None),
    "Pub": ("pub", None),
    "CRAN": ("cran", None),
    "Hackage": ("hackage", None),
    "SwiftURL": ("swift", None),
    "ConanCenter": ("conan", None),
    "Debian": ("deb", "debian"),
    "Ubuntu": ("deb", "ubuntu"),
    "Alpine": ("apk", "alpine"),
    "Wolfi": ("apk", "wolfi"),
    "Chainguard": ("apk", "chainguard"),
    "AlmaLinux": ("rpm", "almalinux"),
    "Rocky Linux": ("rpm", "rocky-linux"),
    "Red Hat": ("rpm", "redhat"),
    "SUSE": ("rpm", "suse"),
    "openSUSE": ("rpm", "opensuse"),
    "Mageia": ("rpm", "mageia"),
    "openEuler": ("rpm", "openeuler"),
}
_KEPT_RANGE_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})
_CVSS_PREFERENCE = ("CVSS_V3", "CVSS_V4", "CVSS_V2")


def parse_osv(record: object, location: str = "", *, packages: bool = True) -> ParsedAdvisory:
    """Read one OSV record (see the module docstring for what is kept); ``packages=False``
    leaves ``affected`` unread, for callers that need only the record's facts.

    Raises:
        InvalidAdvisoryError: not an object, no ``id`` or ``modified``, a field of the wrong
            type, a bad timestamp, purl or range event; the message names ``location``.
    """
    return parse_record(
        record,
        location,
        lambda fields: _parse(fields, packages),
        kind="OSV record",
        named="OSV record",
    )


def _parse(record: Mapping[str, Any], with_packages: bool) -> ParsedAdvisory:
    source_id = normalize_id(_required_string(record, "id"))
    modified = parse_timestamp(_required_string(record, "modified"))
    aliases = _ids(record, "aliases")
    related = _ids(record, "related")
    upstream = _ids(record, "upstream")
    if len(upstream) == 1:
        aliases = (*aliases, *upstream)
    else:
        related = (*related, *upstream)
    packages: list[AffectedPackage] = []
    ignored: list[str] = []
    entries = _list(record, "affected") if with_packages else []
    for index, entry in enumerate(entries):
        package, reason = _affected(entry, index)
        if package is not None:
            packages.append(package)
        else:
            ignored.append(reason)
    vector, severity = _severity(record)
    score = None
    if vector is not None:
        scored = base_score(vector)
        if isinstance(scored, Scored):
            score, severity = scored.score, severity or scored.severity
        else:
            ignored.append(f"severity: {scored}")
    return ParsedAdvisory(
        source=Source.OSV,
        source_id=source_id,
        aliases=tuple(a for a in dict.fromkeys(aliases) if a != source_id),
        related=tuple(dict.fromkeys(related)),
        summary=_summary(record),
        severity=severity,
        cvss_score=score,
        cvss_vector=vector,
        published=parse_timestamp(_optional_string(record, "published")),
        modified=modified,
        withdrawn=parse_timestamp(_optional_string(record, "withdrawn")),
        packages=tuple(packages),
        ignored=tuple(ignored),
        document=record,
    )


def _required_string(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{name}' is required and must be a non-empty string")
    return value


def _optional_string(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string")
    return value


def _list(record: Mapping[str, Any], name: str) -> list[Any]:
    value = record.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{name}' must be a list")
    return value


def _ids(record: Mapping[str, Any], name: str) -> tuple[str, ...]:
    values = _list(record, name)
    if not all(isinstance(value, str) for value in values):
        raise ValueError(f"'{name}' must be a list of strings")
    return tuple(normalize_id(value) for value in values)


def _summary(record: Mapping[str, Any]) -> str:
    summary = (_optional_string(record, "summary") or "").strip()
    if summary:
        return summary
    details = (_optional_string(record, "details") or "").strip()
    return details.splitlines()[0].strip() if details else ""


def _severity(record: Mapping[str, Any]) -> tuple[str | None, Severity | None]:
    vectors: dict[str, str] = {}
    qualitative: Severity | None = None
    for entry in _list(record, "severity"):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("score"), str):
            raise ValueError("'severity' entries need a 'type' and a string 'score'")
        kind = str(entry.get("type", ""))
        if kind in _CVSS_PREFERENCE:
            vectors.setdefault(kind, entry["score"])
        else:  # Ubuntu's records say {"type": "Ubuntu", "score": "medium"}
            qualitative = qualitative or severity_from_name(entry["score"])
    vector = next((vectors[kind] for kind in _CVSS_PREFERENCE if kind in vectors), None)
    specific = record.get("database_specific")
    if isinstance(specific, Mapping):
        qualitative = severity_from_name(specific.get("severity")) or qualitative
    return vector, qualitative


def _affected(entry: object, index: int) -> tuple[AffectedPackage | None, str]:
    where = f"affected[{index}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be an object")
    package = entry.get("package")
    if package is None:
        return None, f"{where}: no package (git ranges only)"
    if not isinstance(package, Mapping):
        raise ValueError(f"{where}.package must be an object")
    ecosystem = package.get("ecosystem")
    if ecosystem is not None and not isinstance(ecosystem, str):
        raise ValueError(f"{where}.package.ecosystem must be a string")
    key = _package_key(package, where)
    if key is None:
        return None, (
            f"{where}: ecosystem {ecosystem!r} has no purl type known to medfleet "
            "and the entry gives no package.purl"
        )
    raw_ranges = [r for r in _list(entry, "ranges") if _kept_range(r, where)]
    try:
        ranges_from_json(raw_ranges)
    except VulnsError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    versions = _list(entry, "versions")
    if not all(isinstance(v, str) and v for v in versions):
        raise ValueError(f"{where}.versions must be a list of non-empty strings")
    if not raw_ranges and not versions:
        return None, f"{where}: {key} has no ECOSYSTEM/SEMVER range and no versions"
    ranges = tuple({"type": str(r["type"]).upper(), "events": r["events"]} for r in raw_ranges)
    return AffectedPackage(key, None, ecosystem, ranges, tuple(dict.fromkeys(versions))), ""


def _kept_range(entry: object, where: str) -> bool:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
        raise ValueError(f"{where}.ranges entries need a string 'type'")
    return entry["type"].upper() in _KEPT_RANGE_TYPES


def _package_key(package: Mapping[str, Any], where: str) -> str | None:
    purl = package.get("purl")
    if purl is not None:
        if not isinstance(purl, str):
            raise ValueError(f"{where}.package.purl must be a string")
        return package_key(purl)
    name = package.get("name")
    ecosystem = package.get("ecosystem")
    if not isinstance(name, str) or not name.strip() or not ecosystem:
        raise ValueError(f"{where}.package needs a 'purl' or an 'ecosystem' and a 'name'")
    return purl_for(str(ecosystem), name.strip())


@functools.lru_cache(maxsize=65_536)  # feeds repeat package names; packageurl is not cheap
def purl_for(ecosystem: str, name: str) -> str | None:
    """The package key an OSV ``ecosystem`` and package ``name`` map to; None when unknown.

    Raises:
        InvalidIdentifierError: the name cannot form a purl.
    """
    mapped = PURL_TYPES.get(ecosystem.split(":", 1)[0])
    return None if mapped is None else package_key(_purl_for(mapped, name).to_string())


def _purl_for(mapped: tuple[str, str | None], name: str) -> PackageURL:
    purl_type, namespace = mapped
    if namespace is not None:
        return PackageURL(type=purl_type, namespace=namespace, name=name)
    if purl_type == "maven":
        group, _, artifact = name.partition(":")
        if not artifact:
            raise InvalidIdentifierError(f"Maven package {name!r} is not group:artifact")
        return PackageURL(type=purl_type, namespace=group, name=artifact)
    if purl_type in {"npm", "golang", "composer"} and "/" in name:
        space, _, last = name.rpartition("/")
        return PackageURL(type=purl_type, namespace=space, name=last)
    return PackageURL(type=purl_type, name=name)
