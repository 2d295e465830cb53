"""An SBOM as medfleet keeps it: components, their match keys and FDA support data. Pure.

The readers (``sbom_cyclonedx``, ``sbom_spdx``) turn a validated document into ``RawComponent``
values; ``build_component`` checks each one and yields a ``Component`` or problems, never both,
so an import either keeps every component or refuses the document.

**Level of support and end-of-support date** (FDA premarket cybersecurity guidance, §V.A.4(b))
have no dedicated CycloneDX field; medfleet reads them from component ``properties`` and writes
them as::

    {"name": "medfleet:support-level", "value": "active"}        # see SupportLevel
    {"name": "medfleet:end-of-support", "value": "2027-12-31"}   # ISO 8601 date

It also reads the spellings found in practice: ``cdx:fda:level-of-support`` and
``cdx:fda:end-of-support-date`` (CycloneDX property taxonomy, ``cdx:fda`` namespace),
``cdx:lifecycle:milestone:endOfSupport`` (ISO date or timestamp), ``cdx:lifecycle:supportLevel``,
``fda:lifecycle:support_level`` / ``fda:lifecycle:end_of_support`` (taxonomy issue #104), and the
CLE-style ``cle:supportLevel``, ``cle:supportStatus``, ``cle:eos``, ``cdx:cle:supportStatus``,
``cdx:cle:endOfSupport``. Names compare case-insensitively. Values may use FDA's own wording
("actively maintained", "no longer maintained", "abandoned") and the other words listed in
``_LEVEL_WORDS``; several properties of one component must agree. In SPDX 2.3 the end of support
is the package's ``validUntilDate`` and the level a line ``medfleet:support-level=<level>`` (any
name above) in one of the package's annotations or in its comment.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from packageurl import PackageURL

from medfleet.vulns.errors import InvalidIdentifierError
from medfleet.vulns.keys import parse_cpe, parse_purl

CYCLONEDX = "cyclonedx"
SPDX = "spdx"
SUPPORT_LEVEL_PROPERTY = "medfleet:support-level"
END_OF_SUPPORT_PROPERTY = "medfleet:end-of-support"
FDA_LEVEL_PROPERTY = "cdx:fda:level-of-support"
FDA_END_OF_SUPPORT_PROPERTY = "cdx:fda:end-of-support-date"
SUPPORT_LEVEL_NAMES = frozenset(
    name.lower()
    for name in (
        SUPPORT_LEVEL_PROPERTY,
        FDA_LEVEL_PROPERTY,
        "cdx:lifecycle:supportLevel",
        "fda:lifecycle:support_level",
        "cle:supportLevel",
        "cle:supportStatus",
        "cdx:cle:supportStatus",
    )
)
END_OF_SUPPORT_NAMES = frozenset(
    name.lower()
    for name in (
        END_OF_SUPPORT_PROPERTY,
        FDA_END_OF_SUPPORT_PROPERTY,
        "cdx:lifecycle:milestone:endOfSupport",
        "fda:lifecycle:end_of_support",
        "cle:eos",
        "cdx:cle:endOfSupport",
    )
)
MAX_LENGTHS = {"bom_ref": 500, "kind": 32, "name": 300, "version": 200, "supplier": 300}
MAX_PURL, MAX_CPE, MAX_HASH_ALG, MAX_HASH_CONTENT = 1000, 500, 32, 256


class SupportLevel(enum.StrEnum):
    """The level of support a component's maker provides (FDA's examples in brackets)."""

    ACTIVE = "active"  # "actively maintained"
    LIMITED = "limited"  # security fixes only, deprecated, extended support
    NONE = "none"  # "no longer maintained": past its end of support
    ABANDONED = "abandoned"  # "abandoned": nobody maintains it
    UNKNOWN = "unknown"  # not known (FDA then asks for a justification)


FDA_WORDING: dict[SupportLevel, str] = {
    SupportLevel.ACTIVE: "actively maintained",
    SupportLevel.LIMITED: "limited support",
    SupportLevel.NONE: "no longer maintained",
    SupportLevel.ABANDONED: "abandoned",
    SupportLevel.UNKNOWN: "unknown",
}
"""How the export words each level in ``cdx:fda:level-of-support``."""

_L = SupportLevel
_LEVEL_WORDS: dict[str, SupportLevel] = {
    **{level.value: level for level in SupportLevel},
    **{wording: level for level, wording in FDA_WORDING.items()},
    "maintained": _L.ACTIVE,
    "supported": _L.ACTIVE,
    "support": _L.ACTIVE,
    "active support": _L.ACTIVE,
    "development": _L.ACTIVE,
    "limited": _L.LIMITED,
    "security fixes only": _L.LIMITED,
    "security only": _L.LIMITED,
    "extended support": _L.LIMITED,
    "maintenance": _L.LIMITED,
    "deprecated": _L.LIMITED,
    "not maintained": _L.NONE,
    "unmaintained": _L.NONE,
    "unsupported": _L.NONE,
    "no support": _L.NONE,
    "end of support": _L.NONE,
    "end of life": _L.NONE,
    "eos": _L.NONE,
    "eol": _L.NONE,
    "noassertion": _L.UNKNOWN,
    "no assertion": _L.UNKNOWN,
}
_Report = Callable[[str, str], None]  # (where, message)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s_\-]+")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z][\w.:-]*)\s*=\s*(.*?)\s*$", re.MULTILINE)


def _words(text: str) -> str:
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", text.strip())).strip().lower()


def support_level_of(text: str) -> SupportLevel | None:
    """The level a property value names (``"actively maintained"``, ``"limitedSupport"``…).

    None when the text names no known level.
    """
    return _LEVEL_WORDS.get(_words(text))


def end_of_support_of(text: str) -> date | None:
    """The date of an ISO 8601 date or timestamp (a timestamp's UTC day); None if it is neither."""
    value = text.strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def assignments_in(text: str) -> list[tuple[str, str]]:
    """Every ``name=value`` line of a free text (SPDX annotations and comments)."""
    return [(match[1], match[2]) for match in _ASSIGNMENT.finditer(text)]


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a document is refused: where in it (``components[2].purl``) and why."""

    where: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """``{"where", "message"}``, as errors report it."""
        return {"where": self.where, "message": self.message}


def as_dicts(problems: Iterable[Problem]) -> list[dict[str, str]]:
    """Problems as errors carry them."""
    return [problem.as_dict() for problem in problems]


@dataclass(frozen=True, slots=True, order=True)
class Hash:
    """A component hash: CycloneDX algorithm name (``SHA-256``) and lowercase hex content."""

    alg: str
    content: str


@dataclass(frozen=True, slots=True)
class Component:
    """One component as kept: identity, match keys, supplier, hashes, FDA support data.

    ``purl`` is normalised by packageurl-python (so an export re-imports to the same text);
    ``package_key`` and ``cpe_key`` are the keys advisories are matched by.
    """

    bom_ref: str
    kind: str
    name: str
    version: str | None
    purl: str | None
    package_key: str | None
    cpe: str | None
    cpe_key: str | None
    supplier: str | None
    hashes: tuple[Hash, ...]
    support_level: SupportLevel | None
    end_of_support: date | None

    @property
    def matchable(self) -> bool:
        """Whether advisories can name it: it has a purl or a CPE."""
        return self.purl is not None or self.cpe is not None


@dataclass(frozen=True)
class ParsedSbom:
    """A validated SBOM: its format, spec version, serial number and every component."""

    format: str  # CYCLONEDX or SPDX
    spec_version: str  # "1.6", "SPDX-2.3"
    serial_number: str | None
    components: tuple[Component, ...]

    @property
    def unmatchable(self) -> int:
        """How many components have neither purl nor CPE (kept, but never matched)."""
        return sum(not component.matchable for component in self.components)

    @property
    def label(self) -> str:
        """``CycloneDX 1.6`` or ``SPDX-2.3``."""
        return f"CycloneDX {self.spec_version}" if self.format == CYCLONEDX else self.spec_version


@dataclass
class RawComponent:
    """A component as a reader found it, before any check; ``where`` locates it for problems."""

    where: str
    bom_ref: str
    kind: str
    name: str
    version: str | None = None
    purl: str | None = None
    cpe: str | None = None
    supplier: str | None = None
    hashes: list[tuple[str, str]] = field(default_factory=list)
    lifecycle: list[tuple[str, str]] = field(default_factory=list)  # (property name, value)
    end_of_support: date | None = None  # a format's own field (SPDX validUntilDate)


def build_component(raw: RawComponent, problems: list[Problem]) -> Component | None:
    """The checked component, or None after appending to ``problems`` every reason it is not."""
    found: list[Problem] = []

    def problem(where: str, message: str) -> None:
        found.append(Problem(f"{raw.where}{where}", message))

    if not raw.name.strip():
        problem(".name", "a component needs a name")
    for name, limit in MAX_LENGTHS.items():
        value = getattr(raw, name)
        if value is not None and len(value) > limit:
            problem(f".{name}", f"longer than {limit} characters")
    purl, package_key = _purl(raw.purl, problem)
    cpe, cpe_key = _cpe(raw.cpe, problem)
    hashes = _hashes(raw.hashes, problem)
    level, end_of_support = _lifecycle(raw.lifecycle, raw.end_of_support, problem)
    problems.extend(found)
    if found:
        return None
    return Component(
        bom_ref=raw.bom_ref,
        kind=raw.kind,
        name=raw.name,
        version=raw.version,
        purl=purl,
        package_key=package_key,
        cpe=cpe,
        cpe_key=cpe_key,
        supplier=raw.supplier,
        hashes=hashes,
        support_level=level,
        end_of_support=end_of_support,
    )


def _purl(raw: str | None, problem: _Report) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    try:
        key = parse_purl(raw).key
    except InvalidIdentifierError as exc:
        problem(".purl", str(exc))
        return None, None
    purl = PackageURL.from_string(raw.strip()).to_string()
    if len(purl) > MAX_PURL:
        problem(".purl", f"longer than {MAX_PURL} characters")
    return purl, key


def _cpe(raw: str | None, problem: _Report) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    cpe = raw.strip()
    try:
        key = parse_cpe(cpe).key
    except InvalidIdentifierError as exc:
        problem(".cpe", str(exc))
        return None, None
    if len(cpe) > MAX_CPE:
        problem(".cpe", f"longer than {MAX_CPE} characters")
    return cpe, key


def _hashes(raw: list[tuple[str, str]], problem: _Report) -> tuple[Hash, ...]:
    hashes = set()
    for index, (alg, content) in enumerate(raw):
        if len(alg) > MAX_HASH_ALG or len(content) > MAX_HASH_CONTENT:
            problem(f".hashes[{index}]", "hash algorithm or content too long")
        hashes.add(Hash(alg, content.lower()))
    return tuple(sorted(hashes))


def _lifecycle(
    pairs: Iterable[tuple[str, str]], own_end_of_support: date | None, problem: _Report
) -> tuple[SupportLevel | None, date | None]:
    levels: set[SupportLevel] = set()
    dates: set[date] = {own_end_of_support} if own_end_of_support else set()
    for name, value in pairs:
        key = name.strip().lower()
        if key in SUPPORT_LEVEL_NAMES:
            level = support_level_of(value)
            if level is None:
                known = ", ".join(level.value for level in SupportLevel)
                problem(
                    f".properties[{name}]",
                    f"{value!r} is not a level of support (use one of {known}, or FDA's "
                    "'actively maintained', 'no longer maintained', 'abandoned')",
                )
            else:
                levels.add(level)
        elif key in END_OF_SUPPORT_NAMES:
            day = end_of_support_of(value)
            if day is None:
                problem(
                    f".properties[{name}]",
                    f"{value!r} is not an ISO 8601 date (YYYY-MM-DD) or timestamp",
                )
            else:
                dates.add(day)
    if len(levels) > 1:
        shown = ", ".join(sorted(levels))
        problem(".properties", f"conflicting levels of support: {shown}")
    if len(dates) > 1:
        shown = ", ".join(sorted(day.isoformat() for day in dates))
        problem(".properties", f"conflicting end-of-support dates: {shown}")
    return next(iter(levels), None), next(iter(dates), None)
