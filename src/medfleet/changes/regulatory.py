"""Regulatory assessment use cases: assessor answers, running and recording the assessment.

The decision itself is pure (``medfleet.changes.assessment``); this module feeds it what
medfleet knows (``fact_finding.facts_for``: classification, risk-file delta, requirement
changes), what the assessors answered (each with name, time and written justification), the
changes of the same device model documented since its last clearance, and the PCCP evaluation
of an AI-model change. An assessment is recorded only when every question the path reaches is
answered; it is *current* while the facts still hash to what it read, and *finished* once
QA/RA has e-signed it as approved.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal, Role
from medfleet.accounts.signatures import Meaning, apply_signature
from medfleet.accounts.tables import ElectronicSignature
from medfleet.audit.model import NewEvent, canonical_json
from medfleet.audit.service import AuditLog
from medfleet.changes import fact_finding, service
from medfleet.changes.access import require_role
from medfleet.changes.assessment.decide import RegulatoryAssessment, assess, open_questions
from medfleet.changes.assessment.facts import ChangeFacts
from medfleet.changes.assessment.fda_510k import FdaOutcome
from medfleet.changes.assessment.pccp import ModelEvaluation, PccpPlan
from medfleet.changes.assessment.questions import AssessorAnswer, question
from medfleet.changes.errors import AssessmentNotFoundError, ChangeStateError
from medfleet.changes.model import ChangeState
from medfleet.changes.regulatory_tables import (
    AssessmentRecord,
    AssessorAnswerRow,
    ClearanceRecord,
    ModelEvaluationRecord,
)
from medfleet.changes.tables import ChangeRequest
from medfleet.risk import service as risk

ASSESSOR_ROLES = (Role.QA_RA,)
_CLOSED = (ChangeState.REJECTED.value, ChangeState.WITHDRAWN.value)


def basis_sha256(session: Session, change: ChangeRequest, facts: ChangeFacts) -> str:
    """SHA-256 of what an assessment read: the facts and the whole risk-file delta.

    The delta is hashed whole (hazards and wording included, not only what the flowcharts
    look at), so any change to the risk file of the change makes a recorded assessment stale.
    """
    delta = risk.delta_for(session, change.org_id, change.id)
    basis = {"facts": facts.as_dict(), "risk_delta": delta.as_dict()}
    return hashlib.sha256(canonical_json(basis).encode()).hexdigest()


def stored_answers(session: Session, change: ChangeRequest) -> list[AssessorAnswer]:
    """The assessor answers recorded on ``change``, by question id."""
    rows = session.scalars(
        select(AssessorAnswerRow)
        .where(AssessorAnswerRow.change_request_id == change.id)
        .order_by(AssessorAnswerRow.question_id)
    )
    return [
        AssessorAnswer(
            row.question_id, row.value, row.justification, row.assessor.username, row.answered_at
        )
        for row in rows
    ]


def documented_since_clearance(session: Session, change: ChangeRequest) -> list[ChangeFacts]:
    """Facts of the other changes of the same model documented since its last clearance.

    Each is the facts its own current assessment read, oldest first; rejected and withdrawn
    changes do not count, nor do changes whose latest assessment says a 510(k) is needed
    (those are cleared by their own submission).
    """
    if change.device_model is None:
        return []
    cleared_at = session.scalar(
        select(func.max(ClearanceRecord.cleared_at)).where(
            ClearanceRecord.org_id == change.org_id,
            ClearanceRecord.device_model == change.device_model,
        )
    )
    latest = (
        select(
            AssessmentRecord.change_request_id,
            func.max(AssessmentRecord.number).label("number"),
        )
        .group_by(AssessmentRecord.change_request_id)
        .subquery()
    )
    query = (
        select(AssessmentRecord)
        .join(
            latest,
            (latest.c.change_request_id == AssessmentRecord.change_request_id)
            & (latest.c.number == AssessmentRecord.number),
        )
        .join(ChangeRequest, ChangeRequest.id == AssessmentRecord.change_request_id)
        .where(
            ChangeRequest.org_id == change.org_id,
            ChangeRequest.device_model == change.device_model,
            ChangeRequest.id != change.id,
            ChangeRequest.state.not_in(_CLOSED),
            AssessmentRecord.fda_outcome == FdaOutcome.DOCUMENT.value,
        )
        .order_by(AssessmentRecord.assessed_at, AssessmentRecord.id)
    )
    if cleared_at is not None:
        query = query.where(AssessmentRecord.assessed_at > cleared_at)
    return [ChangeFacts.from_dict(record.document["change"]) for record in session.scalars(query)]


def pccp_inputs(
    session: Session, change: ChangeRequest
) -> tuple[PccpPlan | None, ModelEvaluation | None]:
    record = session.scalar(
        select(ModelEvaluationRecord).where(ModelEvaluationRecord.change_request_id == change.id)
    )
    if record is None:
        return None, None
    return PccpPlan.from_dict(record.plan.document), ModelEvaluation.from_dict(record.document)


def evaluate(session: Session, change: ChangeRequest) -> tuple[ChangeFacts, RegulatoryAssessment]:
    """Run the decision functions over the change's current facts and answers (no writes).

    Raises:
        UnansweredQuestionError: questions the path reaches that nobody answered (all listed).
        AnswerNotNeededError: an answer to a question the records decide.
        InvalidFactsError: the change is not classified yet.
    """
    facts = fact_finding.facts_for(session, change)
    plan, evaluation = pccp_inputs(session, change)
    result = assess(
        facts,
        stored_answers(session, change),
        documented=documented_since_clearance(session, change),
        plan=plan,
        evaluation=evaluation,
    )
    return facts, result


def answer(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    question_id: str,
    value: bool,
    justification: str,
) -> AssessorAnswer:
    """Record (or replace) the caller's answer to one question of a change's assessment.

    Raises:
        ChangeRequestNotFoundError, ChangeNotAllowedError (QA/RA only),
        InvalidAnswerError: unknown question or empty justification,
        AnswerNotNeededError: medfleet's records already decide this question,
        ChangeStateError: the change is frozen.
    """
    change = service.get(session, principal, key)
    require_role(principal, ASSESSOR_ROLES, "answering an assessment question")
    service.require_editable(change)
    new = AssessorAnswer(
        question(question_id).id,
        value,
        justification.strip(),
        principal.username,
        audit.clock.now(),
    )
    facts = fact_finding.facts_for(session, change)
    others = [a for a in stored_answers(session, change) if a.question_id != new.question_id]
    plan, evaluation = pccp_inputs(session, change)
    open_questions(  # refuses an answer to a question the records decide
        facts, [*others, new], documented_since_clearance(session, change), plan, evaluation
    )
    row = session.scalar(
        select(AssessorAnswerRow).where(
            AssessorAnswerRow.change_request_id == change.id,
            AssessorAnswerRow.question_id == new.question_id,
        )
    )
    before = None
    if row is None:
        row = AssessorAnswerRow(
            org_id=change.org_id, change_request_id=change.id, question_id=new.question_id
        )
        session.add(row)
    else:
        before = {"value": row.value, "justification": row.justification}
    row.value, row.justification = new.value, new.justification
    row.assessor_id, row.answered_at = principal.user_id, new.answered_at
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "assessment.answered",
            "change_request",
            str(change.id),
            {
                "key": change.key,
                "question_id": new.question_id,
                "value": new.value,
                "justification": new.justification,
                "before": before,
            },
        ),
    )
    return new


def withdraw_answer(
    session: Session, audit: AuditLog, principal: Principal, key: str, question_id: str
) -> None:
    """Remove an answer (e.g. one the records now decide).

    Raises:
        ChangeRequestNotFoundError, ChangeNotAllowedError, ChangeStateError,
        AssessmentNotFoundError: no such answer.
    """
    change = service.get(session, principal, key)
    require_role(principal, ASSESSOR_ROLES, "withdrawing an assessment answer")
    service.require_editable(change)
    row = session.scalar(
        select(AssessorAnswerRow).where(
            AssessorAnswerRow.change_request_id == change.id,
            AssessorAnswerRow.question_id == question_id,
        )
    )
    if row is None:
        raise AssessmentNotFoundError(f"{change.key} has no answer to {question_id}")
    session.delete(row)
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "assessment.answer_withdrawn",
            "change_request",
            str(change.id),
            {"key": change.key, "question_id": question_id, "value": row.value},
        ),
    )


def latest(session: Session, change: ChangeRequest) -> AssessmentRecord | None:
    """The most recent recorded assessment of ``change``."""
    return session.scalar(
        select(AssessmentRecord)
        .where(AssessmentRecord.change_request_id == change.id)
        .order_by(AssessmentRecord.number.desc())
        .limit(1)
    )


def run(session: Session, audit: AuditLog, principal: Principal, key: str) -> AssessmentRecord:
    """Assess a change and record the result; the same result twice is recorded once.

    Raises:
        ChangeRequestNotFoundError, ChangeNotAllowedError (QA/RA or engineer),
        ChangeStateError: the change is not in impact analysis or assessment,
        UnansweredQuestionError, AnswerNotNeededError, InvalidFactsError.
    """
    change = service.get(session, principal, key)
    require_role(principal, (Role.QA_RA, Role.ENGINEER), "running a regulatory assessment")
    if change.status not in (ChangeState.IMPACT_ANALYSIS, ChangeState.ASSESSMENT):
        raise ChangeStateError(
            f"{change.key} is in {change.state}: assess it during impact analysis or assessment"
        )
    facts, result = evaluate(session, change)
    document = result.as_dict()
    digest = basis_sha256(session, change, facts)
    previous = latest(session, change)
    if previous is not None and previous.document == document and previous.facts_sha256 == digest:
        return previous
    record = AssessmentRecord(
        org_id=change.org_id,
        change_request_id=change.id,
        number=(previous.number + 1) if previous else 1,
        document=document,
        facts_sha256=digest,
        fda_outcome=result.fda.outcome.value,
        mdcg_outcome=result.mdcg.outcome.value,
        assessed_by_id=principal.user_id,
        assessed_at=audit.clock.now(),
    )
    session.add(record)
    session.flush()
    session.refresh(record, ["change", "assessed_by"])
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "assessment.recorded",
            "change_request",
            str(change.id),
            {
                "key": change.key,
                "assessment": record.number,
                "facts_sha256": digest,
                "fda_outcome": record.fda_outcome,
                "mdcg_outcome": record.mdcg_outcome,
            },
        ),
    )
    return record


def get_record(
    session: Session, principal: Principal, key: str, number: int | None = None
) -> AssessmentRecord:
    """A recorded assessment of a change (the latest unless ``number`` is given).

    Raises:
        ChangeRequestNotFoundError, AssessmentNotFoundError.
    """
    change = service.get(session, principal, key)
    if number is None:
        record = latest(session, change)
    else:
        record = session.scalar(
            select(AssessmentRecord).where(
                AssessmentRecord.change_request_id == change.id, AssessmentRecord.number == number
            )
        )
    if record is None:
        raise AssessmentNotFoundError(f"{change.key} has no recorded assessment")
    return record


def sign(
    session: Session,
    audit: AuditLog,
    signer: Principal,
    key: str,
    meaning: Meaning,
    comment: str | None = None,
) -> ElectronicSignature:
    """E-sign the latest assessment of a change (its memo); the signer re-authenticated.

    Raises:
        ChangeRequestNotFoundError, AssessmentNotFoundError, and ``apply_signature``'s errors.
    """
    record = get_record(session, signer, key)
    return apply_signature(session, audit, signer, record, meaning, comment)
