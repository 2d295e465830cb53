"""The overdue-deadline check: alert once per missed deadline, note fixes that went out.

``check_deadlines`` (the worker's ``check-deadlines`` job, ``medfleet vulns check-deadlines``)
does two things in the caller's transaction:

1. for every assessment whose fix is not yet distributed and whose fixed release is released
   with a started campaign installing it (``assessments.first_distribution``), records the
   campaign's start as the time the fix was distributed (audit event ``vulns.fix_distributed``);
2. for every assessment whose inform or fix deadline has passed and is not met, inserts one
   ``DeadlineAlert`` and writes the audit event ``vulns.deadline_overdue`` (the vulnerability,
   the kind of deadline, its due date and the days overdue).

It is idempotent: a second run finds nothing new and writes nothing. Two workers may run it at
once on PostgreSQL: an alert is inserted with ``INSERT ... ON CONFLICT DO NOTHING`` on its
unique (assessment, kind), and the fix time with an ``UPDATE ... WHERE fix_distributed_at IS
NULL``; only the worker whose statement wrote the row records the audit event (the other waits
for the first's transaction and then finds the row taken). Rows are visited in id order and the
audit events are recorded last, so two workers never wait for each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.db.dialect import on_postgresql
from medfleet.db.engine import transaction
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime
from medfleet.vulns.assessments import OBJECT_TYPE, first_distribution
from medfleet.vulns.deadlines import DeadlineKind, DeadlineState, deadline_status
from medfleet.vulns.tables import DeadlineAlert, VulnAssessment, Vulnerability

SYSTEM_ACTOR = "system:deadline-check"


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """A deadline alerted for the first time by this check."""

    vulnerability: str
    kind: DeadlineKind
    due_at: datetime
    days_overdue: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "vulnerability": self.vulnerability,
            "kind": self.kind.value,
            "due_at": self.due_at.isoformat(),
            "days_overdue": self.days_overdue,
        }


@dataclass
class DeadlineCheck:
    """What one check found: new overdue alerts, and fixes found distributed."""

    alerts: list[RaisedAlert] = field(default_factory=list)
    fixes_distributed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "alerts": [alert.as_dict() for alert in self.alerts],
            "fixes_distributed": self.fixes_distributed,
        }


def _key(session: Session, row: VulnAssessment) -> str:
    return session.get_one(Vulnerability, row.vulnerability_id).key


def _event(row: VulnAssessment, action: str, payload: dict[str, object]) -> NewEvent:
    return NewEvent(SYSTEM_ACTOR, row.org_id, action, OBJECT_TYPE, str(row.id), payload)


def _note_distributions(session: Session, check: DeadlineCheck) -> list[NewEvent]:
    events = []
    waiting = session.scalars(
        select(VulnAssessment)
        .where(
            VulnAssessment.fix_distributed_at.is_(None),
            VulnAssessment.fixed_release_pk.is_not(None),
        )
        .order_by(VulnAssessment.id)
    ).all()
    for row in waiting:
        assert row.fixed_release_pk is not None  # selected so
        campaign = first_distribution(session, row.fixed_release_pk)
        if campaign is None or campaign.started_at is None:
            continue
        written = session.scalar(
            update(VulnAssessment)
            .where(VulnAssessment.id == row.id, VulnAssessment.fix_distributed_at.is_(None))
            .values(fix_distributed_at=campaign.started_at)
            .returning(VulnAssessment.id)
        )
        if written is None:  # another worker got there first
            continue
        key = _key(session, row)
        release = session.get_one(Release, row.fixed_release_pk).release_id
        check.fixes_distributed.append(key)
        events.append(
            _event(
                row,
                "vulns.fix_distributed",
                {
                    "vulnerability": key,
                    "release": release,
                    "campaign": campaign.key,
                    "campaign_id": campaign.id,
                    "at": campaign.started_at.isoformat(),
                },
            )
        )
    return events


def _not_alerted(kind: DeadlineKind) -> ColumnElement[bool]:
    return ~exists().where(
        DeadlineAlert.assessment_id == VulnAssessment.id, DeadlineAlert.kind == kind.value
    )


def _overdue(session: Session, now: datetime) -> list[tuple[VulnAssessment, DeadlineKind]]:
    """The (assessment, kind) of every passed, unmet deadline not alerted yet, in id order."""
    rows = session.scalars(
        select(VulnAssessment)
        .where(
            or_(
                and_(
                    VulnAssessment.inform_due_at < now,
                    VulnAssessment.customers_informed_at.is_(None),
                    _not_alerted(DeadlineKind.INFORM),
                ),
                and_(
                    VulnAssessment.fix_due_at < now,
                    VulnAssessment.fix_distributed_at.is_(None),
                    _not_alerted(DeadlineKind.FIX),
                ),
            )
        )
        .order_by(VulnAssessment.id)
    ).all()
    found = []
    for row in rows:
        for kind, due_at, done_at in (
            (DeadlineKind.INFORM, row.inform_due_at, row.customers_informed_at),
            (DeadlineKind.FIX, row.fix_due_at, row.fix_distributed_at),
        ):
            if due_at is not None:
                status = deadline_status(kind, due_at, done_at, now)
                if status.state is DeadlineState.OVERDUE:
                    found.append((row, kind))
    return found


def _claim(
    session: Session, row: VulnAssessment, kind: DeadlineKind, due_at: datetime, now: datetime
) -> bool:
    """Insert the alert unless it exists (or another worker's uncommitted one does, which this
    waits for); True when this call inserted it."""
    insert = postgresql.insert if on_postgresql(session) else sqlite.insert
    statement = (
        insert(DeadlineAlert)
        .values(assessment_id=row.id, kind=kind.value, due_at=due_at, raised_at=now)
        .on_conflict_do_nothing(index_elements=[DeadlineAlert.assessment_id, DeadlineAlert.kind])
        .returning(DeadlineAlert.id)
    )
    return session.scalar(statement) is not None


def _check(session: Session, now: datetime) -> tuple[DeadlineCheck, list[NewEvent]]:
    """Write what is new (fix times, alert rows); return it with the audit events to record."""
    check = DeadlineCheck()
    events = _note_distributions(session, check)
    for row, kind in _overdue(session, now):
        due_at = row.inform_due_at if kind is DeadlineKind.INFORM else row.fix_due_at
        assert due_at is not None  # _overdue yields only deadlines that exist
        if not _claim(session, row, kind, due_at, now):
            continue
        days = deadline_status(kind, due_at, None, now).days_overdue
        assert days is not None  # overdue
        alert = RaisedAlert(_key(session, row), kind, due_at, days)
        check.alerts.append(alert)
        payload = {**alert.as_dict(), "risk": row.risk, "critical": row.critical}
        events.append(_event(row, "vulns.deadline_overdue", payload))
    return check, events


def check_deadlines(session: Session, audit: AuditLog, now: datetime) -> DeadlineCheck:
    """Note distributed fixes, then alert every passed, unmet deadline once (see the module
    docstring); returns what is new. Safe to run repeatedly and concurrently."""
    check, events = _check(session, now)
    audit.record_many(session, events)
    return check


def deadline_job(runtime: Runtime) -> dict[str, object]:
    """The worker job: ``check_deadlines`` in a transaction of its own, at the runtime's now.

    The audit log (and with it the server key) is only touched when there is something to
    record, so on a deployment that was never initialised the job fails on the database, like
    the others, and does not stop the cycle.
    """
    with transaction(runtime.sessions) as session:
        check, events = _check(session, runtime.clock.now())
        if events:
            runtime.audit.record_many(session, events)
    return check.as_dict()
