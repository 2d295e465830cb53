"""Registered PCCPs, the evaluations of AI-model changes against them, and clearances.

A predetermined change control plan is registered once per device model (QA/RA); an AI-model
change then records its evaluation (the modification it implements and the metrics measured)
against a plan, and the assessment decides whether it may be implemented under the plan. A
clearance records that a device model's software version was cleared (e.g. 510(k) K-number):
changes documented before it no longer add up with new ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes import service
from medfleet.changes.access import check_staff, require_role
from medfleet.changes.assessment.pccp import ModelEvaluation, PccpPlan
from medfleet.changes.errors import (
    AssessmentNotFoundError,
    InvalidChangeRequestError,
    RegulatoryRecordError,
)
from medfleet.changes.model import ChangeClass
from medfleet.changes.regulatory_tables import (
    ClearanceRecord,
    ModelEvaluationRecord,
    PccpPlanRecord,
)
from medfleet.changes.tables import ChangeRequest

REGULATORY_ROLES = (Role.QA_RA,)
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9./-]{1,39}")


def register_plan(
    session: Session, audit: AuditLog, principal: Principal, document: Mapping[str, Any]
) -> PccpPlanRecord:
    """Register a PCCP from its JSON form (``PccpPlan.as_dict``); names are unique.

    Raises:
        InvalidPlanError: the plan does not validate. RegulatoryRecordError: name taken.
        ChangeRequestNotFoundError, ChangeNotAllowedError.
    """
    check_staff(principal, "PCCPs")
    require_role(principal, REGULATORY_ROLES, "registering a PCCP")
    plan = PccpPlan.from_dict(document)
    if _plan(session, principal.org_id, plan.name) is not None:
        raise RegulatoryRecordError(f"a PCCP named {plan.name!r} is registered already")
    record = PccpPlanRecord(
        org_id=principal.org_id,
        name=plan.name,
        device_model=plan.device_model,
        document=plan.as_dict(),
        registered_by_id=principal.user_id,
        registered_at=audit.clock.now(),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "pccp.registered",
            "pccp_plan",
            str(record.id),
            {"name": plan.name, "device_model": plan.device_model, "plan": plan.as_dict()},
        ),
    )
    return record


def _plan(session: Session, org_id: int, name: str) -> PccpPlanRecord | None:
    return session.scalar(
        select(PccpPlanRecord).where(PccpPlanRecord.org_id == org_id, PccpPlanRecord.name == name)
    )


def list_plans(session: Session, principal: Principal) -> list[PccpPlanRecord]:
    """The registered PCCPs of the caller's organization (empty for hospitals)."""
    if principal.org_kind is not OrgKind.MANUFACTURER:
        return []
    return list(
        session.scalars(
            select(PccpPlanRecord)
            .where(PccpPlanRecord.org_id == principal.org_id)
            .order_by(PccpPlanRecord.name)
        )
    )


def record_evaluation(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    plan_name: str,
    document: Mapping[str, Any],
) -> ModelEvaluationRecord:
    """Record (or replace) an AI-model change's evaluation against a registered PCCP.

    Raises:
        ChangeRequestNotFoundError, ChangeNotAllowedError, ChangeStateError (frozen),
        AssessmentNotFoundError: no such plan,
        InvalidChangeRequestError: the change is not an ai_model change,
        InvalidPlanError: the evaluation does not validate.
    """
    change = service.get(session, principal, key)
    require_role(principal, (Role.QA_RA, Role.ENGINEER), "recording a model evaluation")
    service.require_editable(change)
    if change.kind is not ChangeClass.AI_MODEL:
        raise InvalidChangeRequestError(
            f"{change.key} is not an ai_model change: PCCP evaluations are for model updates"
        )
    plan = _plan(session, principal.org_id, plan_name)
    if plan is None:
        raise AssessmentNotFoundError(f"no PCCP named {plan_name!r}")
    evaluation = ModelEvaluation.from_dict(document)
    record = session.scalar(
        select(ModelEvaluationRecord).where(ModelEvaluationRecord.change_request_id == change.id)
    )
    if record is None:
        record = ModelEvaluationRecord(org_id=change.org_id, change_request_id=change.id)
        session.add(record)
    record.plan_id, record.document = plan.id, evaluation.as_dict()
    record.recorded_by_id, record.recorded_at = principal.user_id, audit.clock.now()
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "pccp.evaluation_recorded",
            "change_request",
            str(change.id),
            {"key": change.key, "plan": plan.name, "evaluation": evaluation.as_dict()},
        ),
    )
    return record


def record_clearance(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    device_model: str,
    reference: str,
    version: str,
    cleared_at: datetime,
    change_key: str | None = None,
) -> ClearanceRecord:
    """Record that ``version`` of ``device_model`` was cleared under ``reference``.

    Raises:
        InvalidChangeRequestError: malformed reference, empty model/version, naive time.
        RegulatoryRecordError: the reference is recorded already.
        ChangeRequestNotFoundError, ChangeNotAllowedError.
    """
    check_staff(principal, "clearances")
    require_role(principal, REGULATORY_ROLES, "recording a clearance")
    reference = reference.strip()
    if not _REFERENCE.fullmatch(reference):
        raise InvalidChangeRequestError(f"{reference!r} is not a submission reference (K123456)")
    if not device_model.strip() or not version.strip():
        raise InvalidChangeRequestError("a clearance names the device model and the version")
    if cleared_at.tzinfo is None:
        raise InvalidChangeRequestError("the clearance date needs a time zone (UTC)")
    if session.scalar(
        select(ClearanceRecord.id).where(
            ClearanceRecord.org_id == principal.org_id, ClearanceRecord.reference == reference
        )
    ):
        raise RegulatoryRecordError(f"clearance {reference} is recorded already")
    change: ChangeRequest | None = (
        service.get(session, principal, change_key) if change_key else None
    )
    record = ClearanceRecord(
        org_id=principal.org_id,
        device_model=device_model.strip(),
        reference=reference,
        version=version.strip(),
        cleared_at=cleared_at,
        change_request_id=change.id if change else None,
        recorded_by_id=principal.user_id,
        recorded_at=audit.clock.now(),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "clearance.recorded",
            "regulatory_clearance",
            str(record.id),
            {
                "device_model": record.device_model,
                "reference": reference,
                "version": record.version,
                "cleared_at": cleared_at.isoformat(),
                "change_request": change.key if change else None,
            },
        ),
    )
    return record
