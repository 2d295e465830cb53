"""Whether a change's regulatory assessment lets it go on: finished, and cleared if needed.

Finished means recorded, still current (what it read still hashes the same) and e-signed as
approved by QA/RA with a signature that still holds. The change-request gate and release
approval both ask here, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.signatures import Meaning, SignatureView, signatures_for
from medfleet.changes import fact_finding
from medfleet.changes.regulatory import basis_sha256, latest
from medfleet.changes.regulatory_tables import AssessmentRecord, ClearanceRecord
from medfleet.changes.tables import ChangeRequest
from medfleet.errors import MedfleetError


def assessment_missing(
    session: Session, change: ChangeRequest, trusted_keys: dict[str, Ed25519PublicKey]
) -> list[str]:
    """What stops ``change``'s assessment from counting as finished (empty when it does).

    Finished: recorded, still current (the facts hash to what it read) and e-signed as
    approved by QA/RA with a signature that still holds (checked against ``trusted_keys``,
    the server keys that countersign e-signatures).
    """
    record = latest(session, change)
    if record is None:
        return [f"{change.key}: a recorded regulatory assessment ('medfleet change assess')"]
    missing = []
    try:
        facts = fact_finding.facts_for(session, change)
        current = basis_sha256(session, change, facts) == record.facts_sha256
    except MedfleetError as error:  # e.g. the change lost its classification
        current, reason = False, str(error)
    else:
        reason = "the risk-file delta, requirements or classification changed since"
    if not current:
        missing.append(f"{change.key}: assessment {record.number} is stale ({reason}); re-assess")
    if not _approved(session, record, trusted_keys):
        missing.append(
            f"{change.key}: assessment {record.number} needs a QA/RA 'approved' e-signature"
        )
    return missing


def _approved(
    session: Session, record: AssessmentRecord, trusted_keys: dict[str, Ed25519PublicKey]
) -> bool:
    views: Sequence[SignatureView] = signatures_for(session, record, trusted_keys)
    return any(view.valid and view.meaning == Meaning.APPROVED.value for view in views)


def submission_pending(session: Session, change: ChangeRequest) -> bool:
    """True when the latest assessment says a submission is needed and no clearance of this
    change is recorded (FDA: new 510(k) likely; EU: significant change)."""
    record = latest(session, change)
    if record is None or not record.document.get("submission_needed", False):
        return False
    cleared = session.scalar(
        select(ClearanceRecord.id).where(ClearanceRecord.change_request_id == change.id)
    )
    return cleared is None
