"""HTTP endpoints of the regulatory assessment: answers, questions, run, memo, signatures.

Running an assessment with questions left open answers 422 with an ``unanswered`` list (ids
and texts); nothing is defaulted and nothing is recorded. The memo comes as HTML or PDF and
always carries the e-signatures with their validity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from medfleet.accounts.auth import authenticate
from medfleet.accounts.signatures import Meaning, signatures_for
from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.changes import fact_finding, plans, regulatory, service
from medfleet.changes.assessment.decide import open_questions
from medfleet.changes.assessment_cli import record_dict
from medfleet.changes.errors import InvalidChangeRequestError
from medfleet.changes.memo_render import memo_html, memo_pdf
from medfleet.changes.regulatory_tables import AssessmentRecord
from medfleet.runtime import Runtime

router = APIRouter(prefix=API_PREFIX, tags=["regulatory assessment"])
CR = "/change-requests/{key}"


class AnswerIn(BaseModel):
    """An assessor's yes/no with the written justification."""

    value: bool
    justification: str = Field(min_length=1, max_length=20_000)


class SignatureIn(BaseModel):
    """An e-signature on the assessment memo: the password again and the meaning."""

    password: str = Field(min_length=1, max_length=1024)
    meaning: Meaning
    comment: str | None = Field(default=None, max_length=2000)


class PlanIn(BaseModel):
    """A PCCP in its JSON form (see ``PccpPlan.as_dict``)."""

    plan: dict[str, Any]


class EvaluationIn(BaseModel):
    """An AI-model change's evaluation against a registered PCCP."""

    plan: str = Field(min_length=1, max_length=120)
    evaluation: dict[str, Any]


class ClearanceIn(BaseModel):
    """A clearance of a device model's software version."""

    device_model: str = Field(min_length=1, max_length=64)
    reference: str = Field(min_length=2, max_length=40)
    version: str = Field(min_length=1, max_length=64)
    cleared_at: str = Field(description="ISO 8601 date-time with a zone")
    change_request: str | None = None


def _shown(session: Session, runtime: Runtime, record: AssessmentRecord) -> dict[str, Any]:
    views = signatures_for(session, record, runtime.trusted_keys())
    return record_dict(record, [view.line() for view in views])


@router.put(f"{CR}/answers/{{question_id}}", summary="Answer an assessment question")
def put_answer(
    key: str, question_id: str, body: AnswerIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """QA/RA answers a question the records leave open (422 when the records decide it)."""
    with unit_of_work(runtime) as session:
        given = regulatory.answer(
            session, runtime.audit, principal, key, question_id, body.value, body.justification
        )
        return given.as_dict()


@router.delete(
    f"{CR}/answers/{{question_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw an answer",
)
def delete_answer(
    key: str, question_id: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Response:
    """Remove an assessor answer."""
    with unit_of_work(runtime) as session:
        regulatory.withdraw_answer(session, runtime.audit, principal, key, question_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(f"{CR}/questions", summary="Open assessment questions")
def get_questions(
    key: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> list[dict[str, Any]]:
    """The questions an assessor must still answer before the assessment can run."""
    with unit_of_work(runtime) as session:
        change = service.get(session, principal, key)
        facts = fact_finding.facts_for(session, change)
        plan, evaluation = regulatory.pccp_inputs(session, change)
        asked = open_questions(
            facts,
            regulatory.stored_answers(session, change),
            regulatory.documented_since_clearance(session, change),
            plan,
            evaluation,
        )
        return [q.as_dict() for q in asked]


@router.post(f"{CR}/assessments", status_code=status.HTTP_201_CREATED, summary="Run the assessment")
def run_assessment(key: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Record the outcome and the whole answer path (422 listing unanswered questions)."""
    with unit_of_work(runtime) as session:
        return _shown(session, runtime, regulatory.run(session, runtime.audit, principal, key))


@router.get(f"{CR}/assessments/latest", summary="The latest assessment")
def latest_assessment(key: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The latest recorded assessment with its signatures."""
    with unit_of_work(runtime) as session:
        return _shown(session, runtime, regulatory.get_record(session, principal, key))


@router.get(f"{CR}/assessments/latest/memo", summary="The assessment memo")
def assessment_memo(
    key: str, runtime: RuntimeDep, principal: CurrentPrincipal, format: str = "html"
) -> Response:
    """The memo as ``text/html`` (default) or ``application/pdf`` (``?format=pdf``)."""
    with unit_of_work(runtime) as session:
        record = regulatory.get_record(session, principal, key)
        html = memo_html(session, record, runtime.trusted_keys())
    if format == "pdf":
        return Response(memo_pdf(html), media_type="application/pdf")
    return Response(html, media_type="text/html; charset=utf-8")


@router.post(
    f"{CR}/assessments/latest/signatures",
    status_code=status.HTTP_201_CREATED,
    summary="E-sign the assessment memo",
)
def sign_assessment(
    key: str, body: SignatureIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Re-enter the password and sign the latest assessment (QA/RA approves)."""
    with unit_of_work(runtime) as session:
        regulatory.get_record(session, principal, key)  # 404 before the password is checked
    signer = authenticate(runtime, principal.username, body.password, purpose="esignature")
    with unit_of_work(runtime) as session:
        regulatory.sign(session, runtime.audit, signer, key, body.meaning, body.comment)
        return _shown(session, runtime, regulatory.get_record(session, signer, key))


@router.get("/pccp-plans", summary="List PCCPs")
def list_plans(runtime: RuntimeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """Registered predetermined change control plans (empty for hospitals)."""
    with unit_of_work(runtime) as session:
        return [r.document for r in plans.list_plans(session, principal)]


@router.post("/pccp-plans", status_code=status.HTTP_201_CREATED, summary="Register a PCCP")
def register_plan(body: PlanIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """QA/RA registers a plan: modifications covered and acceptance criteria per metric."""
    with unit_of_work(runtime) as session:
        return plans.register_plan(session, runtime.audit, principal, body.plan).document


@router.put(f"{CR}/evaluation", summary="Record a model evaluation")
def put_evaluation(
    key: str, body: EvaluationIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """An AI-model change's evaluation against a registered PCCP."""
    with unit_of_work(runtime) as session:
        record = plans.record_evaluation(
            session, runtime.audit, principal, key, body.plan, body.evaluation
        )
        return {"plan": body.plan, **record.document}


@router.post("/clearances", status_code=status.HTTP_201_CREATED, summary="Record a clearance")
def record_clearance(
    body: ClearanceIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """A cleared software version of a device model (documented changes restart after it)."""
    try:
        cleared_at = datetime.fromisoformat(body.cleared_at)
    except ValueError:
        raise InvalidChangeRequestError(f"{body.cleared_at!r} is not an ISO 8601 time") from None
    with unit_of_work(runtime) as session:
        record = plans.record_clearance(
            session,
            runtime.audit,
            principal,
            body.device_model,
            body.reference,
            body.version,
            cleared_at,
            body.change_request,
        )
        return {
            "reference": record.reference,
            "device_model": record.device_model,
            "version": record.version,
            "cleared_at": record.cleared_at.isoformat(),
        }
