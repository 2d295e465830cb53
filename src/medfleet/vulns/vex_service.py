"""VEX statements per release and component: record them, read them, and what they leave exposed.

A statement names its subject as (release, component reference, vulnerability). The component
reference is the component's purl, else its bom-ref (``component_ref_of``), so a statement
outlives a re-imported SBOM; ``None`` covers the whole release. Statements are append-only:
per subject the latest one (by ``stated_at``, then by row id) is in force, and for a finding a
statement about its component beats a release-wide one, whatever their times.

Who may do what: manufacturer engineers, QA/RA and admins record statements (author = the
caller, audited); the manufacturer's staff read everything of their organization; hospital
users read the VEX of released (or since withdrawn) releases, which customers receive, get
"not found" for anything else and are refused every change. Functions never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.releases.errors import ReleaseNotFoundError
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.vulns import vex
from medfleet.vulns.errors import InvalidVexError, VulnsPermissionError
from medfleet.vulns.identity import find_vulnerability
from medfleet.vulns.tables import Finding, SbomComponent, VexStatement

AUTHOR_ROLES = (Role.ENGINEER, Role.QA_RA, Role.ADMIN)
MANUAL = "manual"
CUSTOMER_VISIBLE_STATES = (ReleaseState.RELEASED.value, ReleaseState.WITHDRAWN.value)
_CHUNK = 500

Subject = tuple[int, str | None, int]
"""(release pk, component reference or None for the whole release, vulnerability id)."""


def require_author(principal: Principal) -> None:
    """Refuse anyone who may not write VEX.

    Raises:
        VulnsPermissionError: not a manufacturer engineer, QA/RA or admin.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*AUTHOR_ROLES):
        raise VulnsPermissionError("VEX statements need a manufacturer engineer, QA/RA or admin")


def readable_release(session: Session, principal: Principal, model: str, version: str) -> Release:
    """The release whose VEX the caller may read.

    Raises:
        ReleaseNotFoundError: none; for hospital users also one never released.
    """
    query = select(Release).where(Release.model == model, Release.version == version)
    if principal.org_kind is OrgKind.MANUFACTURER:
        query = query.where(Release.org_id == principal.org_id)
    else:
        query = query.where(
            Release.state.in_(CUSTOMER_VISIBLE_STATES), Release.released_at.is_not(None)
        )
    release = session.scalar(query)
    if release is None:
        raise ReleaseNotFoundError(f"release {model} {version} not found")
    return release


def authored_release(session: Session, principal: Principal, model: str, version: str) -> Release:
    """The caller's organization's release, for writing VEX.

    Raises:
        VulnsPermissionError: the caller may not write VEX (checked first).
        ReleaseNotFoundError: no such release.
    """
    require_author(principal)
    return readable_release(session, principal, model, version)


def component_ref_of(component: SbomComponent) -> str:
    """How VEX names a component: its purl, else its bom-ref."""
    return component.purl or component.bom_ref


def find_component(session: Session, release: Release, ref: str) -> SbomComponent:
    """The component of the release's SBOM that ``ref`` (a purl or a bom-ref) names.

    Raises:
        InvalidVexError: the SBOM has no such component (or the release has no SBOM).
    """
    wanted = ref.strip()
    for column in (SbomComponent.purl, SbomComponent.bom_ref):
        found = session.scalars(
            select(SbomComponent)
            .where(SbomComponent.release_pk == release.id, column == wanted)
            .order_by(SbomComponent.id)
        ).first()
        if found is not None:
            return found
    raise InvalidVexError(
        f"the SBOM of {release.model} {release.version} has no component with purl or "
        f"bom-ref {wanted!r}"
    )


def add_statement(
    session: Session,
    *,
    subject: Subject,
    analysis: vex.Analysis,
    author: str,
    author_user_id: int | None,
    source: str,
    stated_at: datetime,
    recorded_at: datetime,
) -> VexStatement | None:
    """Append a statement, or return None when the very same one is already recorded.

    "The same" is the same subject, state, justification, responses, detail, author and time:
    what a re-imported document repeats.
    """
    release_pk, component_ref, vulnerability_id = subject
    responses = [response.value for response in analysis.responses]
    justification = analysis.justification.value if analysis.justification else None
    label = analysis.openvex_justification
    openvex_justification = label.value if label else None
    earlier = session.scalars(
        select(VexStatement).where(
            VexStatement.release_pk == release_pk,
            _ref_is(component_ref),
            VexStatement.vulnerability_id == vulnerability_id,
            VexStatement.state == analysis.state.value,
            VexStatement.author == author,
            VexStatement.stated_at == stated_at,
        )
    ).all()
    for row in earlier:
        if (row.justification, row.openvex_justification, list(row.responses), row.detail) == (
            justification,
            openvex_justification,
            responses,
            analysis.detail,
        ):
            return None
    statement = VexStatement(
        release_pk=release_pk,
        component_ref=component_ref,
        vulnerability_id=vulnerability_id,
        state=analysis.state.value,
        justification=justification,
        openvex_justification=openvex_justification,
        responses=responses,
        detail=analysis.detail,
        author=author,
        author_user_id=author_user_id,
        source=source,
        stated_at=stated_at,
        recorded_at=recorded_at,
    )
    session.add(statement)
    session.flush()
    return statement


def record_statement(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    model: str,
    version: str,
    vulnerability: str,
    state: str,
    justification: str | None = None,
    responses: Sequence[str] = (),
    detail: str | None = None,
    component: str | None = None,
    now: datetime,
) -> VexStatement:
    """Record the caller's statement about a release (or one component of its SBOM).

    The statement is in force from now on for its subject; earlier ones stay as history.

    Raises:
        VulnsPermissionError: the caller may not write VEX.
        ReleaseNotFoundError: no such release of the caller's organization.
        VulnerabilityNotFoundError: no vulnerability goes by that id or alias.
        InvalidVexError: a value or rule broken, or the component is not in the SBOM.
    """
    release = authored_release(session, principal, model, version)
    analysis = vex.check_analysis(state, justification, responses, detail)
    found = find_vulnerability(session, vulnerability)
    component_ref = (
        component_ref_of(find_component(session, release, component)) if component else None
    )
    statement = add_statement(
        session,
        subject=(release.id, component_ref, found.id),
        analysis=analysis,
        author=principal.full_name,
        author_user_id=principal.user_id,
        source=MANUAL,
        stated_at=now,
        recorded_at=now,
    )
    if statement is None:  # the same author said the same thing at the same instant
        raise InvalidVexError("this statement was just recorded")
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "vex.statement_recorded",
            "vex_statement",
            str(statement.id),
            {
                "release": release.release_id,
                "vulnerability": found.key,
                **statement_payload(statement),
            },
        ),
    )
    return statement


def statement_history(
    session: Session, release: Release, vulnerability_id: int | None = None
) -> list[VexStatement]:
    """Every statement about the release (or one vulnerability of it), newest first."""
    query = select(VexStatement).where(VexStatement.release_pk == release.id)
    if vulnerability_id is not None:
        query = query.where(VexStatement.vulnerability_id == vulnerability_id)
    return list(
        session.scalars(query.order_by(VexStatement.stated_at.desc(), VexStatement.id.desc()))
    )


def statements_in_force(
    session: Session, release: Release, vulnerability_id: int | None = None
) -> list[VexStatement]:
    """The statement in force per subject of the release, ordered by vulnerability then subject."""
    latest = InForce(statement_history(session, release, vulnerability_id))
    return sorted(
        latest.statements(),
        key=lambda s: (s.vulnerability_id, s.component_ref is not None, s.component_ref or ""),
    )


class InForce:
    """The latest statement per subject, and which one holds for a finding."""

    def __init__(self, statements: Iterable[VexStatement]) -> None:
        self._latest: dict[Subject, VexStatement] = {}
        for statement in statements:
            subject = (statement.release_pk, statement.component_ref, statement.vulnerability_id)
            current = self._latest.get(subject)
            if current is None or (statement.stated_at, statement.id) > (
                current.stated_at,
                current.id,
            ):
                self._latest[subject] = statement

    def statements(self) -> list[VexStatement]:
        """The statements in force."""
        return list(self._latest.values())

    def for_component(
        self, release_pk: int, component_ref: str, vulnerability_id: int
    ) -> VexStatement | None:
        """The statement holding for a component: its own, else the release-wide one."""
        own = self._latest.get((release_pk, component_ref, vulnerability_id))
        return own or self._latest.get((release_pk, None, vulnerability_id))

    def exposes(self, release_pk: int, component_ref: str, vulnerability_id: int) -> bool:
        """Whether an active finding on this component counts as exposure (no statement
        counts as in triage)."""
        statement = self.for_component(release_pk, component_ref, vulnerability_id)
        return statement is None or vex.counts_as_exposure(statement.state)


def in_force_for(session: Session, vulnerability_id: int) -> InForce:
    """The VEX in force about one vulnerability, in every release."""
    return InForce(
        session.scalars(
            select(VexStatement).where(VexStatement.vulnerability_id == vulnerability_id)
        )
    )


@dataclass(frozen=True)
class FindingVex:
    """An active finding, its component's reference and the VEX statement holding for it."""

    finding: Finding
    component_ref: str
    statement: VexStatement | None

    @property
    def exposed(self) -> bool:
        """Whether the finding counts as exposure (no statement counts as in triage)."""
        return self.statement is None or vex.counts_as_exposure(self.statement.state)


def findings_with_vex(
    session: Session,
    *,
    vulnerability_ids: Collection[int] | None = None,
    release_pk: int | None = None,
) -> list[FindingVex]:
    """The active findings of some vulnerabilities and/or one release, each with its VEX."""
    found: list[FindingVex] = []
    id_chunks: list[list[int] | None] = [None]
    if vulnerability_ids is not None:
        ordered = sorted(set(vulnerability_ids))
        id_chunks = [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]
    for chunk in id_chunks:
        findings = select(Finding, SbomComponent.purl, SbomComponent.bom_ref).join(
            SbomComponent, SbomComponent.id == Finding.component_id
        )
        statements = select(VexStatement)
        findings = findings.where(Finding.active.is_(True))
        if chunk is not None:
            findings = findings.where(Finding.vulnerability_id.in_(chunk))
            statements = statements.where(VexStatement.vulnerability_id.in_(chunk))
        if release_pk is not None:
            findings = findings.where(Finding.release_pk == release_pk)
            statements = statements.where(VexStatement.release_pk == release_pk)
        in_force = InForce(session.scalars(statements))
        for finding, purl, bom_ref in session.execute(findings.order_by(Finding.id)).all():
            ref = purl or bom_ref
            holding = in_force.for_component(finding.release_pk, ref, finding.vulnerability_id)
            found.append(FindingVex(finding, ref, holding))
    return found


def exposed_findings_by_vulnerability(
    session: Session, vulnerability_ids: Collection[int]
) -> dict[int, list[Finding]]:
    """Per vulnerability, its active findings that VEX does not rule out (see the module)."""
    exposed: dict[int, list[Finding]] = {
        vulnerability_id: [] for vulnerability_id in vulnerability_ids
    }
    for entry in findings_with_vex(session, vulnerability_ids=vulnerability_ids):
        if entry.exposed:
            exposed[entry.finding.vulnerability_id].append(entry.finding)
    return exposed


def exposed_findings(session: Session, vulnerability_id: int) -> list[Finding]:
    """The active findings of a vulnerability whose VEX in force does not rule them out.

    Ruled out are findings whose statement in force is ``not_affected``, ``false_positive``,
    ``resolved`` or ``resolved_with_pedigree``; no statement, ``in_triage`` and
    ``exploitable`` count. Ordered by finding id.
    """
    return exposed_findings_by_vulnerability(session, [vulnerability_id])[vulnerability_id]


def statement_payload(statement: VexStatement) -> dict[str, Any]:
    """What a statement says, as JSON values (the audit payload and the views' core)."""
    return {
        "component": statement.component_ref,
        "state": statement.state,
        "justification": statement.justification,
        "openvex_justification": statement.openvex_justification,
        "responses": list(statement.responses),
        "detail": statement.detail,
        "author": statement.author,
        "source": statement.source,
        "stated_at": statement.stated_at.isoformat(),
        "exposure": vex.counts_as_exposure(statement.state),
    }


def _ref_is(component_ref: str | None) -> Any:
    if component_ref is None:
        return VexStatement.component_ref.is_(None)
    return VexStatement.component_ref == component_ref
