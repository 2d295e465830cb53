"""What medfleet's own records say about a change, as the facts the assessment reads.

The classification and device model come from the change request, the safety class from the
software items it touches, the situations and controls from its ISO 14971 risk-file delta
(severities before mitigation, significance from the manufacturer's matrix, redundancy of added
controls) and the requirement changes from traceability. Nothing here is typed in by the
assessor; the assessor only answers what these facts leave open.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from medfleet.changes.assessment.errors import InvalidFactsError
from medfleet.changes.assessment.facts import (
    ChangeFacts,
    ControlFact,
    RequirementFact,
    SituationFact,
)
from medfleet.changes.tables import ChangeRequest
from medfleet.risk import service as risk
from medfleet.risk.model import DeltaAnalysis
from medfleet.trace import service as trace


def _situations(analysis: DeltaAnalysis) -> tuple[SituationFact, ...]:
    return tuple(
        SituationFact(
            key=impact.key,
            action=impact.action.value,
            severity_before=impact.severity_before,
            severity_after=impact.severity_after,
            probability_before=impact.probability_before,
            probability_after=impact.probability_after,
            significant_harm=impact.significant_harm,
            mitigated_before=impact.mitigated_before,
            mitigated_after=impact.mitigated_after,
        )
        for impact in analysis.situations
        if impact.action is not None  # touched only through a control: see the controls
    )


def _controls(analysis: DeltaAnalysis) -> tuple[ControlFact, ...]:
    significant = {impact.key for impact in analysis.situations if impact.significant_harm}
    return tuple(
        ControlFact(
            key=impact.key,
            action=impact.action.value,
            situations=impact.situations,
            significant_harm=bool(significant.intersection(impact.situations)),
            redundant=impact.redundant,
        )
        for impact in analysis.controls
    )


def facts_for(session: Session, change: ChangeRequest) -> ChangeFacts:
    """The facts of ``change`` as its records stand now.

    Raises:
        InvalidFactsError: the change has no class, device model or software items yet.
    """
    safety = change.safety_class
    if change.kind is None or change.device_model is None or safety is None:
        raise InvalidFactsError(
            f"{change.key} is not classified yet: set its class, device model and software "
            "items during impact analysis ('medfleet change classify')"
        )
    analysis = risk.analysis_for(session, change.org_id, change.id)
    requirements = tuple(
        RequirementFact(key=item.key, action=item.action.value, kind=item.kind.value)
        for item in trace.requirement_changes(session, change.org_id, change.id)
    )
    return ChangeFacts(
        key=change.key,
        title=change.title,
        change_class=change.kind.value,
        safety_class=safety.value,
        device_model=change.device_model,
        situations=_situations(analysis),
        controls=_controls(analysis),
        requirements=requirements,
    )
