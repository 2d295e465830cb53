"""Patch deadlines of a vulnerability assessment: when they fall due, and how they stand (pure).

The FDA guidance "Postmarket Management of Cybersecurity in Medical Devices" distinguishes:

* **uncontrolled risk**: the manufacturer communicates with its customers within 30 days of
  becoming aware of the vulnerability (``inform``) and distributes a fix, or compensating
  controls that bring the residual risk to an acceptable level, within 60 days of awareness
  (``fix``). A manufacturer may declare shorter periods, never longer ones.
* **controlled risk**: the fix ships as a routine update on the manufacturer's declared patch
  cycle; there is no customer-communication deadline. medfleet counts that fix deadline as
  awareness plus one routine cycle: the latest date by which the next routine release that
  could carry the fix, once the manufacturer knew, must be out. The guidance sets no number of
  days for it, so the cycle (default 90 days) is the manufacturer's own declaration.

Every deadline counts whole 24-hour days from the awareness instant (UTC). At a given instant a
deadline is *met* (done at or before that instant; ``late`` when done after it fell due),
*pending* (not done, not yet past: ``days_left`` full days remain) or *overdue* (not done and
past: ``days_overdue`` counts every started day since it fell due, so an hour late is one day).
No I/O here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from medfleet.vulns.errors import InvalidAssessmentError

DAY = timedelta(days=1)
FDA_INFORM_DAYS = 30
"""Customers informed within 30 days of awareness (uncontrolled risk)."""
FDA_FIX_DAYS = 60
"""Fix (or compensating controls) distributed within 60 days of awareness (uncontrolled risk)."""
DEFAULT_ROUTINE_CYCLE_DAYS = 90
MAX_ROUTINE_CYCLE_DAYS = 730


class Risk(enum.StrEnum):
    """The residual risk of a vulnerability as the manufacturer assessed it."""

    CONTROLLED = "controlled"
    UNCONTROLLED = "uncontrolled"


class DeadlineKind(enum.StrEnum):
    """Which deadline: customers informed, or fix distributed."""

    INFORM = "inform"
    FIX = "fix"


class DeadlineState(enum.StrEnum):
    """How a deadline stands at one instant."""

    MET = "met"
    PENDING = "pending"
    OVERDUE = "overdue"


def parse_risk(value: str) -> Risk:
    """``controlled`` or ``uncontrolled`` (case and surrounding blanks ignored).

    Raises:
        InvalidAssessmentError: anything else.
    """
    try:
        return Risk(value.strip().lower())
    except ValueError:
        raise InvalidAssessmentError(
            f"unknown risk {value!r} (known: controlled, uncontrolled)"
        ) from None


@dataclass(frozen=True, slots=True)
class PatchTerms:
    """A manufacturer's patch policy: its routine cycle and its uncontrolled-risk deadlines.

    Build it with ``patch_terms`` from outside input; the defaults are FDA's 30 and 60 days and
    a 90-day routine cycle.
    """

    routine_cycle_days: int = DEFAULT_ROUTINE_CYCLE_DAYS
    inform_within_days: int = FDA_INFORM_DAYS
    fix_within_days: int = FDA_FIX_DAYS

    def as_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return {
            "routine_cycle_days": self.routine_cycle_days,
            "inform_within_days": self.inform_within_days,
            "fix_within_days": self.fix_within_days,
        }


def _days(name: str, value: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidAssessmentError(f"{name} must be a whole number of days from 1 to {maximum}")
    return value


def patch_terms(
    routine_cycle_days: int,
    inform_within_days: int = FDA_INFORM_DAYS,
    fix_within_days: int = FDA_FIX_DAYS,
) -> PatchTerms:
    """Checked patch terms: a routine cycle of 1-730 days, customers informed within 1-30
    days and the fix within 1-60 days (never looser than the FDA guidance), informing no later
    than fixing.

    Raises:
        InvalidAssessmentError: naming the offending value.
    """
    terms = PatchTerms(
        _days("the routine cycle", routine_cycle_days, MAX_ROUTINE_CYCLE_DAYS),
        _days("the inform deadline", inform_within_days, FDA_INFORM_DAYS),
        _days("the fix deadline", fix_within_days, FDA_FIX_DAYS),
    )
    if terms.inform_within_days > terms.fix_within_days:
        raise InvalidAssessmentError(
            f"customers must be informed no later than the fix is due "
            f"({terms.inform_within_days} > {terms.fix_within_days} days)"
        )
    return terms


@dataclass(frozen=True, slots=True)
class Deadlines:
    """When customers must be informed (uncontrolled risk only) and the fix distributed."""

    inform_due_at: datetime | None
    fix_due_at: datetime


def compute_deadlines(risk: Risk, aware_at: datetime, terms: PatchTerms) -> Deadlines:
    """The deadlines of a vulnerability assessed as ``risk``, counted from ``aware_at``.

    Uncontrolled: inform after ``inform_within_days``, fix after ``fix_within_days``.
    Controlled: no inform deadline, fix after one routine cycle (see the module docstring).
    Both fall strictly after ``aware_at``; moving ``aware_at`` earlier moves them earlier.

    Raises:
        InvalidAssessmentError: ``aware_at`` has no time zone.
    """
    if aware_at.tzinfo is None:
        raise InvalidAssessmentError("the awareness time needs a time zone")
    if risk is Risk.UNCONTROLLED:
        return Deadlines(
            aware_at + terms.inform_within_days * DAY, aware_at + terms.fix_within_days * DAY
        )
    return Deadlines(None, aware_at + terms.routine_cycle_days * DAY)


@dataclass(frozen=True, slots=True)
class DeadlineStatus:
    """How one deadline stands at one instant (see the module docstring)."""

    kind: DeadlineKind
    due_at: datetime
    state: DeadlineState
    met_at: datetime | None = None
    late: bool = False
    days_left: int | None = None
    days_overdue: int | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "kind": self.kind.value,
            "due_at": self.due_at.isoformat(),
            "state": self.state.value,
            "met_at": None if self.met_at is None else self.met_at.isoformat(),
            "late": self.late,
            "days_left": self.days_left,
            "days_overdue": self.days_overdue,
        }


def deadline_status(
    kind: DeadlineKind, due_at: datetime, done_at: datetime | None, now: datetime
) -> DeadlineStatus:
    """How the deadline ``due_at``, done at ``done_at`` (None: not yet), stands at ``now``.

    Met exactly when done at or before ``now``; otherwise overdue exactly when ``now`` is past
    ``due_at`` (at ``due_at`` itself it is still pending, with 0 days left).
    """
    if done_at is not None and done_at <= now:
        return DeadlineStatus(
            kind, due_at, DeadlineState.MET, met_at=done_at, late=done_at > due_at
        )
    if now <= due_at:
        return DeadlineStatus(kind, due_at, DeadlineState.PENDING, days_left=(due_at - now) // DAY)
    return DeadlineStatus(
        kind, due_at, DeadlineState.OVERDUE, days_overdue=-((due_at - now) // DAY)
    )
