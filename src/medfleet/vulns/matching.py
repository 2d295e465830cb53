"""Which components carry which vulnerabilities, and why: the matching engine. Pure, no I/O.

An ``AdvisoryPackage`` row becomes a ``Rule`` (its vulnerability and advisory, the package key
or CPE key it names, OSV ranges and explicit versions); a ``MatchIndex`` holds the rules by
package key and by CPE key and matches ``Component`` s against them, each hit with its reason:
``pkg:generic/openssl@1.0.1f: 1.0.1f is in the range introduced 1.0.1, fixed 1.0.1g
(CVE-2014-0160 via advisory NVD CVE-2014-0160)``.

Which route a component goes:

- **purl**: when the component has a package key with rules. The version is the purl's (else
  the component's), ordered by the purl type's ecosystem (PyPI as PEP 440, deb as dpkg, …);
  types without one (``pkg:generic``) order by the advisory's ecosystem, else by the package
  name (``openssl`` gets OpenSSL's letter ordering), else generically.
- **CPE** (``vendor:product``): when the component has a CPE key with rules and either has no
  purl rules at all or its purl type has no package manager of its own (``pkg:generic``, …).
  Package-manager data is the better source where it exists (distributions backport fixes
  that upstream CPE ranges cannot know of), so a ``pkg:pypi`` or ``pkg:deb`` component with
  purl rules is never matched by CPE. The version is the CPE's, else the component's, ordered
  by the CPE product (``openssl``) or the advisory's ecosystem.
- Per vulnerability, one hit: when the purl rules speak of a vulnerability at all, they decide
  it (CPE rules of the same vulnerability are ignored); among several advisories of one
  vulnerability the lowest advisory id wins.

Evaluation follows ``ranges.affected`` exactly (explicit versions match as exact strings, then
OSV range events in version order), but compiled: every distinct (version ordering, version
text) is parsed once, and the bounds of all rules of one key are sorted once into a "ladder",
so one component version costs a binary search and each range a few integer comparisons.
Components are deduplicated by what they are (``Package``): 10,000 SBOMs sharing components
evaluate each distinct package once, and the result keeps one reference to the package's
verdict per component (``MatchResult``) rather than an object per hit. A version or rule that
cannot be read never stops a run: the component is reported by ``MatchResult.skips()`` for
the vulnerabilities concerned. Only an explicit versions list without ranges needs no parsing
(the list decides alone, so an unreadable version it lists still matches).
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import unquote

from medfleet.vulns.errors import InvalidIdentifierError
from medfleet.vulns.keys import parse_cpe, parse_purl
from medfleet.vulns.range_compile import (
    CompiledRange,
    Ladder,
    Unreadable,
    VersionCache,
    compile_key,
    decide,
)
from medfleet.vulns.ranges import BY_PURL_TYPE, AffectedRange, VersionClass, version_class

PURL = "purl"
CPE = "cpe"


class Package(NamedTuple):
    """What a component is, as far as matching cares; equal packages are evaluated once."""

    package_key: str | None
    version: str | None  # the purl's version, else the component's
    cpe_key: str | None
    cpe_version: str | None  # the CPE's version, else the component's


class Component(NamedTuple):
    """One component of one release's SBOM."""

    component_id: int
    release_pk: int
    package: Package


@dataclass(frozen=True, slots=True)
class Rule:
    """One affected package of one advisory (an ``AdvisoryPackage`` row)."""

    rule_id: int
    vulnerability_id: int
    vulnerability_key: str
    advisory_id: int
    advisory_label: str  # "NVD CVE-2014-0160": how reasons name the advisory
    package_key: str | None
    cpe_key: str | None
    ecosystem: str | None
    ranges: tuple[AffectedRange, ...]
    versions: tuple[str, ...]
    problem: str | None = None  # why the stored ranges cannot be read: such a rule only skips


class Hit(NamedTuple):
    """A component carries a vulnerability: the advisory that says so, the route, the reason."""

    component_id: int
    release_pk: int
    vulnerability_id: int
    advisory_id: int
    matched_by: str
    reason: str


class Skip(NamedTuple):
    """A component whose exposure to a vulnerability could not be decided, and why."""

    component_id: int
    release_pk: int
    vulnerability_id: int
    reason: str


Verdict = tuple[tuple[tuple[int, int, str, str], ...], tuple[tuple[int, str], ...]]
"""A package's hits ((vulnerability, advisory, route, reason), …) and skips ((vulnerability,
reason), …), shared by every component of that package."""
_NOTHING: Verdict = ((), ())


@dataclass
class MatchResult:
    """What one ``MatchIndex.match`` call found, as columns: for every component with hits or
    skips, its id, its release and its package's verdict (shared, not copied), so millions of
    hits cost three appends each instead of an object each. ``hits()`` and ``skips()`` expand.
    """

    component_ids: array[int] = field(default_factory=lambda: array("q"))
    release_pks: array[int] = field(default_factory=lambda: array("q"))
    verdicts: list[Verdict] = field(default_factory=list)
    components: int = 0

    def hits(self) -> Iterator[Hit]:
        """Every (component, vulnerability) hit, in component order."""
        for component_id, release_pk, (found, _) in zip(
            self.component_ids, self.release_pks, self.verdicts, strict=True
        ):
            for entry in found:
                yield Hit(component_id, release_pk, *entry)

    def skips(self) -> Iterator[Skip]:
        """Every (component, vulnerability) that could not be decided, in component order."""
        for component_id, release_pk, (_, skipped) in zip(
            self.component_ids, self.release_pks, self.verdicts, strict=True
        ):
            for vulnerability_id, reason in skipped:
                yield Skip(component_id, release_pk, vulnerability_id, reason)

    @property
    def hit_count(self) -> int:
        """How many hits ``hits()`` yields."""
        return sum(len(found) for found, _ in self.verdicts)


def package_of(
    *,
    purl: str | None,
    cpe: str | None,
    version: str | None,
    package_key: str | None = None,
    cpe_key: str | None = None,
) -> Package:
    """The ``Package`` of an SBOM component from its purl, CPE and version.

    ``package_key`` and ``cpe_key``, when given, are the keys stored with the component (they
    come from the same ``keys`` functions); an unreadable purl or CPE counts as absent.
    """
    purl_key = purl_version = cpe_version = None
    if purl:
        purl_key, purl_version = _purl(purl)
    if cpe:
        parsed_key, cpe_version = _cpe(cpe)
        cpe_key = cpe_key or parsed_key
    return Package(
        package_key=package_key or purl_key,
        version=purl_version or version,
        cpe_key=cpe_key,
        cpe_version=(cpe_version or version) if cpe_key is not None else None,
    )


@functools.lru_cache(maxsize=65536)
def _purl(purl: str) -> tuple[str | None, str | None]:
    try:
        name = parse_purl(purl)
    except InvalidIdentifierError:
        return None, None
    return name.key, name.version


@functools.lru_cache(maxsize=65536)
def _cpe(cpe: str) -> tuple[str | None, str | None]:
    try:
        name = parse_cpe(cpe)
    except InvalidIdentifierError:
        return None, None
    return name.key, name.version


def _purl_type_and_name(package_key: str) -> tuple[str | None, str]:
    """``("generic", "openssl")`` for ``pkg:generic/openssl`` (the key is a normalised purl)."""
    if not package_key.startswith("pkg:") or "/" not in package_key:
        return None, package_key
    return package_key[4 : package_key.index("/")], unquote(package_key.rsplit("/", 1)[1])


@dataclass
class _Plan:
    """One key's rules on one route, compiled: ladders per ordering, ranges per rule."""

    rules: list[tuple[Rule, VersionClass, tuple[CompiledRange, ...], frozenset[str]]]
    ladders: dict[VersionClass, Ladder]
    vulnerabilities: frozenset[int]


class MatchIndex:
    """Rules by package key and CPE key, with the compiled forms and verdicts they lead to."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._by_package: dict[str, list[Rule]] = {}
        self._by_cpe: dict[str, list[Rule]] = {}
        self._rule_ids: set[int] = set()
        self._plans: dict[tuple[str, str], _Plan] = {}
        self._cache = VersionCache()
        self._verdicts: dict[Package, Verdict] = {}
        self.add(rules)

    def __len__(self) -> int:
        return len(self._rule_ids)

    @property
    def packages_evaluated(self) -> int:
        """How many distinct packages have been evaluated (each once) since the last change."""
        return len(self._verdicts)

    def add(self, rules: Iterable[Rule]) -> None:
        """Add rules (a rule id seen before is ignored); verdicts they may change are dropped."""
        touched = False
        for rule in rules:
            if rule.rule_id in self._rule_ids:
                continue
            self._rule_ids.add(rule.rule_id)
            for key, table in ((rule.package_key, self._by_package), (rule.cpe_key, self._by_cpe)):
                if key is not None:
                    table.setdefault(key, []).append(rule)
                    touched = True
        if touched:
            self._plans.clear()
            self._verdicts.clear()

    def match(self, components: Iterable[Component]) -> MatchResult:
        """Every hit and skip of ``components`` (in their order); see the module docstring."""
        result = MatchResult()
        add_id, add_pk = result.component_ids.append, result.release_pks.append
        add_verdict = result.verdicts.append
        verdicts, evaluate, nothing = self._verdicts, self._evaluate, _NOTHING
        get = verdicts.get
        count = 0
        for component_id, release_pk, package in components:
            count += 1
            verdict = get(package)
            if verdict is None:
                verdict = verdicts[package] = evaluate(package)
            if verdict is not nothing:
                add_id(component_id)
                add_pk(release_pk)
                add_verdict(verdict)
        result.components = count
        return result

    def _evaluate(self, package: Package) -> Verdict:
        found: dict[int, tuple[int, int, str, str]] = {}
        skips: dict[int, str] = {}
        spoken: frozenset[int] = frozenset()
        purl_type = None
        if package.package_key is not None:
            purl_type = _purl_type_and_name(package.package_key)[0]
        if package.package_key is not None and package.package_key in self._by_package:
            plan = self._plan(PURL, package.package_key)
            spoken = plan.vulnerabilities
            label = f"{package.package_key}@{package.version}"
            self._run(plan, PURL, package.version, label, found, skips, frozenset())
        if (
            package.cpe_key is not None
            and package.cpe_key in self._by_cpe
            and (not spoken or purl_type not in BY_PURL_TYPE)
        ):
            plan = self._plan(CPE, package.cpe_key)
            label = f"CPE {package.cpe_key} {package.cpe_version}"
            self._run(plan, CPE, package.cpe_version, label, found, skips, spoken)
        if not found and not skips:
            return _NOTHING
        return (
            tuple(found.values()),
            tuple((vid, reason) for vid, reason in skips.items() if vid not in found),
        )

    def _run(
        self,
        plan: _Plan,
        route: str,
        version: str | None,
        label: str,
        found: dict[int, tuple[int, int, str, str]],
        skips: dict[int, str],
        decided_elsewhere: frozenset[int],
    ) -> None:
        positions: dict[VersionClass, int | str] = {}
        for rule, cls, compiled, listed in plan.rules:
            vid = rule.vulnerability_id
            if vid in found or vid in decided_elsewhere:
                continue
            position: int | str | None = None
            if version is not None and compiled and version not in listed:
                position = positions.get(cls)
                if position is None:
                    parsed = self._cache.parse(cls, version)
                    position = (
                        parsed.message
                        if isinstance(parsed, Unreadable)
                        else plan.ladders[cls].position(parsed)
                    )
                    positions[cls] = position
            verdict = decide(version, listed, compiled, position)
            if verdict is None:
                continue
            text, affected = verdict
            if affected:
                why = f"{rule.vulnerability_key} via advisory {rule.advisory_label}"
                found[vid] = (vid, rule.advisory_id, route, f"{label}: {text} ({why})")
                skips.pop(vid, None)
            else:
                skips.setdefault(vid, f"{label}: {text} (advisory {rule.advisory_label})")

    def _plan(self, route: str, key: str) -> _Plan:
        plan = self._plans.get((route, key))
        if plan is not None:
            return plan
        rules = sorted(
            (self._by_package if route == PURL else self._by_cpe)[key],
            key=lambda r: (r.advisory_id, r.rule_id),
        )
        if route == PURL:
            purl_type, name = _purl_type_and_name(key)
        else:
            purl_type, name = None, key.split(":", 1)[-1]  # the CPE product
        classes = [
            version_class(purl_type=purl_type, ecosystem=rule.ecosystem, product=name)
            for rule in rules
        ]
        ladders, compiled = compile_key(
            [(cls, rule.ranges) for rule, cls in zip(rules, classes, strict=True)], self._cache
        )
        plan = _Plan(
            rules=[
                (
                    rule,
                    cls,
                    ranges if rule.problem is None else (rule.problem,),
                    frozenset(rule.versions),
                )
                for rule, cls, ranges in zip(rules, classes, compiled, strict=True)
            ],
            ladders=ladders,
            vulnerabilities=frozenset(rule.vulnerability_id for rule in rules),
        )
        self._plans[(route, key)] = plan
        return plan
