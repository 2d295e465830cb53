"""What a change touches, for verification: requirements, risk controls, safety class.

The requirements are those the change added or modified (retired ones have nothing left to
verify); the risk controls are those its risk-file delta adds or modifies, plus the controls of
every hazardous situation it adds or modifies (a changed situation must be re-verified through
its controls); the safety class is the highest of the software items it touches.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from medfleet.changes.errors import InvalidChangeRequestError
from medfleet.changes.model import SafetyClass
from medfleet.changes.tables import ChangeRequest
from medfleet.risk import service as risk
from medfleet.risk.model import DeltaAction
from medfleet.trace import service as trace


@dataclass(frozen=True, slots=True)
class ChangeScope:
    """The requirements and risk controls a change touches, and its safety class."""

    change_key: str
    requirements: frozenset[str]
    controls: frozenset[str]
    safety_class: SafetyClass


def scope_of(session: Session, change: ChangeRequest) -> ChangeScope:
    """The verification scope of ``change`` as its records stand now.

    Raises:
        InvalidChangeRequestError: the change has no software items (no safety class) yet.
    """
    safety = change.safety_class
    if safety is None:
        raise InvalidChangeRequestError(
            f"{change.key} names no software items yet, so its safety class is unknown"
        )
    requirements = frozenset(
        item.key
        for item in trace.requirement_changes(session, change.org_id, change.id)
        if item.action.value != "retired"
    )
    analysis = risk.analysis_for(session, change.org_id, change.id)
    controls = {c.key for c in analysis.controls if c.action is not DeltaAction.REMOVED}
    for situation in analysis.situations:
        if situation.action in (DeltaAction.ADDED, DeltaAction.MODIFIED):
            controls.update(situation.controls)
    return ChangeScope(change.key, requirements, frozenset(controls), safety)
