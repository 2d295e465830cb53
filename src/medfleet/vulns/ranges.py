"""Whether a component version falls in an advisory's affected versions, and why. Pure.

Versions are compared with the ordering of the component's ecosystem, through univers: PyPI
versions as PEP 440, npm and crates as SemVer, Debian as dpkg, and so on (``version_class``
picks the class from a purl type, an OSV ecosystem name or, for C components that no package
manager describes, a CPE product such as ``openssl``, whose letter suffixes order as OpenSSL
means them: 1.0.1 < 1.0.1a < … < 1.0.1f < 1.0.1g < 1.0.2).

OSV ``affected`` entries are evaluated as the OSV schema says: the explicit ``versions`` list
matches exactly; a ``SEMVER`` or ``ECOSYSTEM`` range is a list of events that, sorted by
version, switch "affected" on at ``introduced`` (``"0"``: from the first version) and off at
``fixed`` (that version is not affected) or after ``last_affected`` (that version still is).
``limit`` (meant for git ranges) is honoured as an upper bound: nothing at or above it is
affected. ``introduced_after`` is not OSV: it carries NVD's ``versionStartExcluding`` (affected
from just above that version) so that CPE ranges from NVD fit the same evaluation.
Every match says why (``Match.reason``), so a finding can show its evidence.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from univers import versions as uv

from medfleet.vulns.errors import InvalidVersionRangeError

VersionClass = type[uv.Version]

BY_PURL_TYPE: dict[str, VersionClass] = {
    "pypi": uv.PypiVersion,
    "npm": uv.SemverVersion,
    "cargo": uv.SemverVersion,
    "golang": uv.GolangVersion,
    "maven": uv.MavenVersion,
    "nuget": uv.NugetVersion,
    "gem": uv.RubygemsVersion,
    "composer": uv.ComposerVersion,
    "deb": uv.DebianVersion,
    "rpm": uv.RpmVersion,
    "apk": uv.AlpineLinuxVersion,
    "conan": uv.ConanVersion,
}
BY_ECOSYSTEM: dict[str, VersionClass] = {
    "PyPI": uv.PypiVersion,
    "npm": uv.SemverVersion,
    "crates.io": uv.SemverVersion,
    "Go": uv.GolangVersion,
    "Maven": uv.MavenVersion,
    "NuGet": uv.NugetVersion,
    "RubyGems": uv.RubygemsVersion,
    "Packagist": uv.ComposerVersion,
    "Debian": uv.DebianVersion,
    "Alpine": uv.AlpineLinuxVersion,
}
# C components without a package manager, known by their CPE product name.
BY_PRODUCT: dict[str, VersionClass] = {"openssl": uv.OpensslVersion}


def version_class(
    *, purl_type: str | None = None, ecosystem: str | None = None, product: str | None = None
) -> VersionClass:
    """The univers version class for a purl type, an OSV ecosystem or a CPE product.

    Anything unknown (kernel, busybox, vendor stacks) falls back to ``RpmVersion``: rpmvercmp
    compares numeric segments as numbers (5.10.9 < 5.10.162) and letter segments as text,
    where univers' ``GenericVersion`` would compare the strings lexically.
    """
    if purl_type is not None and purl_type.lower() in BY_PURL_TYPE:
        return BY_PURL_TYPE[purl_type.lower()]
    if ecosystem is not None:
        base = ecosystem.split(":", 1)[0]
        if base in BY_ECOSYSTEM:
            return BY_ECOSYSTEM[base]
    if product is not None and product.lower() in BY_PRODUCT:
        return BY_PRODUCT[product.lower()]
    return uv.RpmVersion


class EventKind(enum.StrEnum):
    """The kinds of OSV range events."""

    INTRODUCED = "introduced"
    INTRODUCED_AFTER = "introduced_after"  # NVD versionStartExcluding; not part of OSV
    FIXED = "fixed"
    LAST_AFFECTED = "last_affected"
    LIMIT = "limit"


@dataclass(frozen=True, slots=True)
class Event:
    """One OSV range event: ``introduced: "1.0.1"``, ``fixed: "1.0.1g"``, …"""

    kind: EventKind
    version: str


@dataclass(frozen=True, slots=True)
class AffectedRange:
    """An OSV ``SEMVER`` or ``ECOSYSTEM`` range: its events, in the advisory's order."""

    events: tuple[Event, ...]

    def describe(self) -> str:
        """The range as people read it: ``introduced 1.0.1, fixed 1.0.1g``."""
        return ", ".join(f"{event.kind.value} {event.version}" for event in self.events)


@dataclass(frozen=True, slots=True)
class Match:
    """A version found affected, and the evidence."""

    version: str
    reason: str


_STARTS = frozenset({EventKind.INTRODUCED, EventKind.INTRODUCED_AFTER})


def ranges_from_json(ranges: Sequence[Mapping[str, Any]]) -> tuple[AffectedRange, ...]:
    """OSV-style JSON ranges (``[{"type": "ECOSYSTEM", "events": [{"introduced": "1.0.1"},
    {"fixed": "1.0.1g"}]}]``, as ``AdvisoryPackage.ranges`` stores them) as ``AffectedRange``.

    ``GIT`` ranges (commit hashes) are skipped: no component version can be compared to them.

    Raises:
        InvalidVersionRangeError: a range without events, or an event that is not exactly one
            known kind with a string version.
    """
    parsed: list[AffectedRange] = []
    for entry in ranges:
        if str(entry.get("type", "ECOSYSTEM")).upper() == "GIT":
            continue
        raw_events = entry.get("events")
        if not isinstance(raw_events, list) or not raw_events:
            raise InvalidVersionRangeError(f"range {dict(entry)!r} has no events")
        events = []
        for raw in raw_events:
            if not isinstance(raw, Mapping) or len(raw) != 1:
                raise InvalidVersionRangeError(f"range event {raw!r} must have exactly one key")
            ((kind, version),) = raw.items()
            if kind not in _EVENT_KINDS or not isinstance(version, str) or not version:
                raise InvalidVersionRangeError(f"range event {dict(raw)!r} is not understood")
            events.append(Event(EventKind(kind), version))
        parsed.append(AffectedRange(tuple(events)))
    return tuple(parsed)


_EVENT_KINDS = frozenset(kind.value for kind in EventKind)


def _parse(cls: VersionClass, text: str, what: str) -> uv.Version:
    try:
        return cls(text)
    except (ValueError, TypeError, uv.InvalidVersion) as exc:
        raise InvalidVersionRangeError(
            f"{what} {text!r} is not a valid {cls.__name__.removesuffix('Version')} version"
        ) from exc


def in_range(cls: VersionClass, version: uv.Version, affected_range: AffectedRange) -> bool:
    """OSV's evaluation of one range (see the module docstring) for a parsed version.

    Raises:
        InvalidVersionRangeError: an event's version cannot be read, or the range has no
            ``introduced`` event.
    """
    if not any(e.kind in _STARTS for e in affected_range.events):
        raise InvalidVersionRangeError(f"range '{affected_range.describe()}' has no introduced")
    affected = False
    ordered = sorted(
        affected_range.events,
        key=lambda e: (e.kind is not EventKind.INTRODUCED or e.version != "0", _key(cls, e)),
    )
    for event in ordered:
        if event.kind is EventKind.INTRODUCED:
            if event.version == "0" or version >= _parse(cls, event.version, "introduced"):
                affected = True
        elif event.kind is EventKind.INTRODUCED_AFTER:
            if version > _parse(cls, event.version, "introduced_after"):
                affected = True
        elif event.kind is EventKind.FIXED:
            if version >= _parse(cls, event.version, "fixed"):
                affected = False
        elif event.kind is EventKind.LAST_AFFECTED:
            if version > _parse(cls, event.version, "last_affected"):
                affected = False
        elif version >= _parse(cls, event.version, "limit"):
            return False
    return affected


def _key(cls: VersionClass, event: Event) -> uv.Version | str:
    if event.kind is EventKind.INTRODUCED and event.version == "0":
        return ""
    return _parse(cls, event.version, event.kind.value)


def affected(
    cls: VersionClass,
    version: str,
    ranges: Sequence[AffectedRange] = (),
    listed: Sequence[str] = (),
) -> Match | None:
    """Whether ``version`` is affected: listed exactly, or inside one of ``ranges``.

    Raises:
        InvalidVersionRangeError: the version or a range event cannot be read.
    """
    if version in listed:
        return Match(version, f"version {version} is listed as affected")
    parsed = _parse(cls, version, "version")
    for affected_range in ranges:
        if in_range(cls, parsed, affected_range):
            return Match(version, f"{version} is in the range {affected_range.describe()}")
    return None
