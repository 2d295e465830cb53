"""What matching reads from the database: components and advisory rules, in bulk.

Every query takes its keys or ids in chunks of ``CHUNK`` (SQLite limits bound parameters;
PostgreSQL plans short ``IN`` lists well), never one query per component. Packages of withdrawn
advisories (``Advisory.withdrawn_at`` set) are never loaded, so what only they said stops
matching. An advisory package whose stored ranges cannot be read is loaded with its explicit
versions: components it does not list are reported as skipped, with the reason.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from medfleet.vulns.errors import InvalidVersionRangeError
from medfleet.vulns.matching import Component, Rule, package_of
from medfleet.vulns.ranges import ranges_from_json
from medfleet.vulns.tables import Advisory, AdvisoryPackage, SbomComponent, Vulnerability

CHUNK = 500
T = TypeVar("T")

_COMPONENT_COLUMNS = (
    SbomComponent.id,
    SbomComponent.release_pk,
    SbomComponent.version,
    SbomComponent.purl,
    SbomComponent.package_key,
    SbomComponent.cpe,
    SbomComponent.cpe_key,
)


def chunks(values: Collection[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _component(row: Any) -> Component:
    return Component(
        row.id,
        row.release_pk,
        package_of(
            purl=row.purl,
            cpe=row.cpe,
            version=row.version,
            package_key=row.package_key,
            cpe_key=row.cpe_key,
        ),
    )


def _rows_in(
    session: Session,
    query: Select[*tuple[Any, ...]],
    column: InstrumentedAttribute[Any],
    values: Collection[Any],
) -> Iterator[Any]:
    for chunk in chunks(values):
        yield from session.execute(query.where(column.in_(chunk)))


def components_of_releases(session: Session, release_pks: Collection[int]) -> list[Component]:
    """Every SBOM component of these releases."""
    query = select(*_COMPONENT_COLUMNS)
    return [
        _component(row) for row in _rows_in(session, query, SbomComponent.release_pk, release_pks)
    ]


def components_by_keys(
    session: Session,
    package_keys: Collection[str],
    cpe_keys: Collection[str],
    component_ids: Collection[int] = (),
) -> list[Component]:
    """Every SBOM component with one of these package or CPE keys, or one of these ids."""
    query = select(*_COMPONENT_COLUMNS)
    seen: dict[int, Component] = {}
    for column, values in (
        (SbomComponent.package_key, package_keys),
        (SbomComponent.cpe_key, cpe_keys),
        (SbomComponent.id, component_ids),
    ):
        for row in _rows_in(session, query, column, values):
            if row.id not in seen:
                seen[row.id] = _component(row)
    return list(seen.values())


_RULE_QUERY = (
    select(
        AdvisoryPackage.id,
        AdvisoryPackage.vulnerability_id,
        Vulnerability.key,
        AdvisoryPackage.advisory_id,
        Advisory.source,
        Advisory.source_id,
        AdvisoryPackage.package_key,
        AdvisoryPackage.cpe_key,
        AdvisoryPackage.ecosystem,
        AdvisoryPackage.ranges,
        AdvisoryPackage.versions,
    )
    .join(Advisory, Advisory.id == AdvisoryPackage.advisory_id)
    .join(Vulnerability, Vulnerability.id == AdvisoryPackage.vulnerability_id)
    .where(Advisory.withdrawn_at.is_(None))
)


def rules_for_keys(
    session: Session, package_keys: Collection[str], cpe_keys: Collection[str]
) -> list[Rule]:
    """The rules of every non-withdrawn advisory package naming one of these keys."""
    rules: dict[int, Rule] = {}
    for column, values in (
        (AdvisoryPackage.package_key, package_keys),
        (AdvisoryPackage.cpe_key, cpe_keys),
    ):
        for row in _rows_in(session, _RULE_QUERY, column, values):
            if row.id not in rules:
                rules[row.id] = _rule(row)
    return list(rules.values())


def rule_keys_of_vulnerabilities(
    session: Session, vulnerability_ids: Sequence[int]
) -> tuple[set[str], set[str]]:
    """The package keys and CPE keys that these vulnerabilities' live advisories name."""
    package_keys: set[str] = set()
    cpe_keys: set[str] = set()
    query = (
        select(AdvisoryPackage.package_key, AdvisoryPackage.cpe_key)
        .join(Advisory, Advisory.id == AdvisoryPackage.advisory_id)
        .where(Advisory.withdrawn_at.is_(None))
    )
    for row in _rows_in(session, query, AdvisoryPackage.vulnerability_id, vulnerability_ids):
        if row.package_key is not None:
            package_keys.add(row.package_key)
        if row.cpe_key is not None:
            cpe_keys.add(row.cpe_key)
    return package_keys, cpe_keys


def _rule(row: Any) -> Rule:
    problem = None
    try:
        ranges = ranges_from_json(row.ranges or [])
    except InvalidVersionRangeError as exc:
        problem, ranges = f"the advisory's ranges cannot be read: {exc}", ()
    return Rule(
        rule_id=row.id,
        vulnerability_id=row.vulnerability_id,
        vulnerability_key=row.key,
        advisory_id=row.advisory_id,
        advisory_label=f"{str(row.source).upper()} {row.source_id}",
        package_key=row.package_key,
        cpe_key=row.cpe_key,
        ecosystem=row.ecosystem,
        ranges=ranges,
        versions=tuple(str(v) for v in row.versions or ()),
        problem=problem,
    )
