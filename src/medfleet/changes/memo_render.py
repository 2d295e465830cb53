"""The assessment memo of a recorded assessment, with its e-signatures, as HTML or PDF."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from medfleet.accounts.signatures import signatures_for
from medfleet.changes.assessment.memo import (
    MemoInput,
    render_memo_pdf,
    render_recorded_memo_html,
)
from medfleet.changes.regulatory_tables import AssessmentRecord


def memo_html(
    session: Session, record: AssessmentRecord, trusted_keys: dict[str, Ed25519PublicKey]
) -> str:
    """The memo page: the recorded answer paths and outcomes, and every signature line."""
    views = signatures_for(session, record, trusted_keys)
    return render_recorded_memo_html(
        record.document,
        MemoInput(signature_lines=[view.line() for view in views], generated_at=record.assessed_at),
    )


def memo_pdf(html: str) -> bytes:
    """The memo page printed to PDF (A4, paged)."""
    return render_memo_pdf(html)
