"""Which vulnerability an id names: aliases, the preferred key, and merging.

Every id an advisory goes by (CVE-…, GHSA-…, DSA-…) is an alias of exactly one
``Vulnerability``; its ``key`` is the CVE id when one is known, else the first id seen. When one
record's ids touch two or more existing vulnerabilities, they are one vulnerability after all
and are merged (``medfleet.vulns.identity_merge``): the survivor is the one whose key is a CVE,
else the oldest; a surviving non-CVE key is replaced by a CVE id as soon as one is known.
Merging is one-way: an alias once seen is never taken away, so vulnerabilities are never split.

``resolve_many`` resolves a whole import batch with one alias query per thousand ids, so that
tens of thousands of records resolve without a query per record. It holds the ``IDENTITY_LOCK``
until the caller's transaction ends, so two imports that bring the same new id at once do not
both create it: the second waits for the first to commit and then finds its alias.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.service import AuditLog
from medfleet.db.locks import hold_until_commit
from medfleet.vulns.errors import (
    InvalidIdentifierError,
    VulnerabilityMergeError,
    VulnerabilityNotFoundError,
)
from medfleet.vulns.identity_merge import MergeReport, merge_vulnerabilities
from medfleet.vulns.tables import Vulnerability, VulnerabilityAlias

CHUNK = 1000  # ids per IN (...) query
IDENTITY_LOCK = "vulns.identity"


def normalize_id(text: str) -> str:
    """An advisory id as stored: stripped, CVE/GHSA prefixes upper-cased.

    Raises:
        InvalidIdentifierError: empty, too long, or with whitespace inside.
    """
    value = text.strip()
    if not value or len(value) > 100 or any(ch.isspace() for ch in value):
        raise InvalidIdentifierError(f"{text!r} is not a vulnerability id")
    if value.upper().startswith(("CVE-", "GHSA-")):
        prefix, rest = value.split("-", 1)
        value = f"{prefix.upper()}-{rest.lower() if prefix.upper() == 'GHSA' else rest}"
    return value


def find_vulnerability(session: Session, id_or_alias: str) -> Vulnerability:
    """The vulnerability that ``id_or_alias`` names (in any letter case when unambiguous).

    Raises:
        VulnerabilityNotFoundError: no vulnerability goes by it.
        InvalidIdentifierError: not an id at all.
    """
    alias = normalize_id(id_or_alias)
    query = select(Vulnerability).join(
        VulnerabilityAlias, VulnerabilityAlias.vulnerability_id == Vulnerability.id
    )
    found = session.scalar(query.where(VulnerabilityAlias.alias == alias))
    if found is None:  # people type "dsa-2896-1": accept any case when it is unambiguous
        loose = session.scalars(
            query.where(func.lower(VulnerabilityAlias.alias) == alias.lower()).distinct()
        ).all()
        found = loose[0] if len(loose) == 1 else None
    if found is None:
        raise VulnerabilityNotFoundError(f"no vulnerability goes by {alias}")
    return found


def preferred_key(ids: Sequence[str]) -> str:
    """The key a vulnerability known by ``ids`` is shown under: its CVE id, else the first id."""
    for value in ids:
        if value.startswith("CVE-"):
            return value
    return ids[0]


def known_aliases(session: Session, aliases: Iterable[str]) -> dict[str, int]:
    """Which of ``aliases`` are known, and the vulnerability each names (chunked queries)."""
    wanted = list(dict.fromkeys(aliases))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(VulnerabilityAlias.alias, VulnerabilityAlias.vulnerability_id).where(
                VulnerabilityAlias.alias.in_(wanted[start : start + CHUNK])
            )
        )
        found.update({row.alias: row.vulnerability_id for row in rows})
    return found


@dataclass
class Resolution:
    """Where each id set of a batch landed, which vulnerabilities are new, what was merged."""

    vulnerability_ids: list[int]
    created: set[int] = field(default_factory=set)
    merges: list[MergeReport] = field(default_factory=list)


class _Groups:
    """Union-find over alias and vulnerability nodes."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        root = self.parent.setdefault(node, node)
        while root != self.parent[root]:
            root = self.parent[root]
        while node != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, first: str, second: str) -> None:
        self.parent[self.find(second)] = self.find(first)


def resolve_many(
    session: Session,
    id_sets: Sequence[Sequence[str]],
    now: datetime,
    *,
    belongs_to: Sequence[int | None] | None = None,
    audit: AuditLog | None = None,
    principal: Principal | None = None,
) -> Resolution:
    """The vulnerability of each id set, creating, merging and adding aliases as needed.

    Id sets sharing an id (within the batch or through a stored alias) resolve to one
    vulnerability. ``belongs_to[i]`` is a vulnerability set ``i`` already belongs to (a stored
    advisory's), which it stays with. Every id becomes an alias of its vulnerability.

    Raises:
        InvalidIdentifierError: an empty id set, or something that is not an id.
        VulnerabilityMergeError: a merge is needed but no ``audit`` and ``principal`` were given.
    """
    normalized = [list(dict.fromkeys(normalize_id(value) for value in ids)) for ids in id_sets]
    if any(not ids for ids in normalized):
        raise InvalidIdentifierError("a vulnerability needs at least one id")
    hold_until_commit(session, IDENTITY_LOCK)
    known = known_aliases(session, (alias for ids in normalized for alias in ids))
    groups = _Groups()
    for index, ids in enumerate(normalized):
        first = f"a:{ids[0]}"
        pinned = belongs_to[index] if belongs_to is not None else None
        nodes = [f"a:{alias}" for alias in ids[1:]]
        nodes += [f"v:{known[alias]}" for alias in ids if alias in known]
        nodes += [f"v:{pinned}"] if pinned is not None else []
        groups.find(first)  # a lone id is a group of its own
        for node in nodes:
            groups.union(first, node)
    members: dict[str, list[str]] = {}
    for node in list(groups.parent):
        members.setdefault(groups.find(node), []).append(node)
    roots = [groups.find(f"a:{ids[0]}") for ids in normalized]
    resolution = Resolution(vulnerability_ids=[])
    existing_ids = {int(node[2:]) for node in groups.parent if node.startswith("v:")}
    standing = _standing(session, existing_ids)
    chosen: dict[str, int] = {}
    fresh: dict[str, str] = {}  # group root -> key of the vulnerability to create
    for root in dict.fromkeys(roots):
        aliases = [node[2:] for node in members[root] if node.startswith("a:")]
        existing = [int(node[2:]) for node in members[root] if node.startswith("v:")]
        if existing:
            chosen[root] = _settle(
                session, aliases, existing, standing, resolution, audit, principal
            )
        else:
            fresh[root] = preferred_key(aliases)
    created = _create(session, list(fresh.values()), now)
    for root, key in fresh.items():
        chosen[root] = created[key]
    resolution.created.update(created.values())
    resolution.vulnerability_ids = [chosen[root] for root in roots]
    new_aliases = {
        alias: vulnerability_id
        for ids, vulnerability_id in zip(normalized, resolution.vulnerability_ids, strict=True)
        for alias in ids
        if alias not in known
    }
    if new_aliases:
        session.execute(
            insert(VulnerabilityAlias),
            [{"alias": a, "vulnerability_id": v} for a, v in new_aliases.items()],
        )
    return resolution


def _create(session: Session, keys: Sequence[str], now: datetime) -> dict[str, int]:
    """New vulnerabilities under ``keys``, inserted in bulk; their ids by key."""
    created: dict[str, int] = {}
    for start in range(0, len(keys), CHUNK):
        rows = [
            {"key": key, "summary": "", "first_seen_at": now} for key in keys[start : start + CHUNK]
        ]
        returned = session.execute(
            insert(Vulnerability).returning(Vulnerability.id, Vulnerability.key), rows
        )
        created.update({row.key: row.id for row in returned})
    return created


def _standing(session: Session, ids: set[int]) -> dict[int, tuple[str, datetime]]:
    """Key and first sighting of each of these vulnerabilities (chunked queries)."""
    wanted = sorted(ids)
    found: dict[int, tuple[str, datetime]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(Vulnerability.id, Vulnerability.key, Vulnerability.first_seen_at).where(
                Vulnerability.id.in_(wanted[start : start + CHUNK])
            )
        )
        found.update({row.id: (row.key, row.first_seen_at) for row in rows})
    return found


def _settle(
    session: Session,
    aliases: list[str],
    existing: list[int],
    standing: dict[int, tuple[str, datetime]],
    resolution: Resolution,
    audit: AuditLog | None,
    principal: Principal | None,
) -> int:
    """The one vulnerability a group of ids and existing vulnerabilities becomes: the one keyed
    by a CVE, else the oldest; the others are merged into it."""
    survivor = min(
        existing, key=lambda v: (not standing[v][0].startswith("CVE-"), standing[v][1], v)
    )
    others = [v for v in existing if v != survivor]
    if others:
        if audit is None or principal is None:
            keys = ", ".join(sorted(standing[v][0] for v in existing))
            raise VulnerabilityMergeError(
                f"{', '.join(aliases)} name several vulnerabilities ({keys}); "
                "merging them needs an audited caller"
            )
        rows = [session.get_one(Vulnerability, v) for v in others]
        kept = session.get_one(Vulnerability, survivor)
        resolution.merges.append(merge_vulnerabilities(session, audit, principal, kept, rows))
    cve = next((alias for alias in aliases if alias.startswith("CVE-")), None)
    if cve is not None and not standing[survivor][0].startswith("CVE-"):
        session.get_one(Vulnerability, survivor).key = cve
        session.flush()
    return survivor


def resolve_vulnerability(
    session: Session,
    ids: Sequence[str],
    now: datetime,
    *,
    summary: str = "",
    audit: AuditLog | None = None,
    principal: Principal | None = None,
) -> Vulnerability:
    """The vulnerability known by any of ``ids``, created when none is; every id becomes an alias.

    When the ids name several vulnerabilities they are merged (audited as ``principal``).

    Raises:
        InvalidIdentifierError: ``ids`` is empty or holds something that is not an id.
        VulnerabilityMergeError: a merge is needed but no ``audit`` and ``principal`` were given.
    """
    resolution = resolve_many(session, [ids], now, audit=audit, principal=principal)
    vulnerability = session.get_one(Vulnerability, resolution.vulnerability_ids[0])
    if resolution.created and summary:
        vulnerability.summary = summary
    session.flush()
    return vulnerability
