"""Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.200) for any signable record.

Signing re-authenticates the signer with their password, stores the printed name, UTC time,
meaning and the SHA-256 of the record's canonical content, and is countersigned by the server
key so that a row inserted straight into the database does not pass as a signature. A signature
is valid only while the record still hashes to the signed content. The author of a record (or
anyone who signed it as author) cannot approve it.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SeparationOfDutiesError,
    SignatureError,
)
from medfleet.accounts.model import Principal, Role
from medfleet.accounts.tables import ElectronicSignature
from medfleet.audit.model import NewEvent, canonical_json, canonical_time
from medfleet.audit.service import AuditLog
from medfleet.signing.server_key import signature_valid

SIGNATURE_DOMAIN = b"medfleet-esignature-v1\n"


class Meaning(enum.StrEnum):
    """What a signature means (§11.50(a)(3))."""

    AUTHORED = "authored"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    RELEASED = "released"


def parse_meaning(value: str) -> Meaning:
    """A meaning from its name.

    Raises:
        InvalidInputError: not one of authored, reviewed, approved, released.
    """
    try:
        return Meaning(value)
    except ValueError:
        known = ", ".join(m.value for m in Meaning)
        raise InvalidInputError(f"unknown signature meaning {value!r} (known: {known})") from None


class Signable(Protocol):
    """A record that can be e-signed: identity, owner, author and canonical content."""

    @property
    def record_type(self) -> str:
        """A stable type name, such as ``change_request``."""
        ...

    @property
    def record_id(self) -> str:
        """The record's id within its type."""
        ...

    @property
    def label(self) -> str:
        """How people name the record, such as ``CR-12``."""
        ...

    @property
    def org_id(self) -> int:
        """The organization that owns the record."""
        ...

    @property
    def author_id(self) -> int:
        """The user who authored the record."""
        ...

    def canonical_content(self) -> Mapping[str, Any]:
        """Everything the signature vouches for, as JSON-ready data."""
        ...


def content_sha256(record: Signable) -> str:
    """SHA-256 of the record's canonical content (type and id included)."""
    document = {
        "record_type": record.record_type,
        "record_id": record.record_id,
        "content": dict(record.canonical_content()),
    }
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def _server_message(
    record_type: str,
    record_id: str,
    username: str,
    printed_name: str,
    meaning: str,
    signed_at: datetime,
    content_hash: str,
) -> bytes:
    return (
        SIGNATURE_DOMAIN
        + canonical_json(
            {
                "content_sha256": content_hash,
                "meaning": meaning,
                "printed_name": printed_name,
                "record_id": record_id,
                "record_type": record_type,
                "signed_at": canonical_time(signed_at),
                "username": username,
            }
        ).encode()
    )


ROLES_FOR_MEANING: dict[Meaning, tuple[Role, ...]] = {
    Meaning.AUTHORED: (Role.ENGINEER, Role.QA_RA, Role.ADMIN),
    Meaning.REVIEWED: (Role.ENGINEER, Role.QA_RA),
    Meaning.APPROVED: (Role.QA_RA,),
    Meaning.RELEASED: (Role.QA_RA,),
}


def apply_signature(
    session: Session,
    audit: AuditLog,
    signer: Principal,
    record: Signable,
    meaning: Meaning,
    comment: str | None = None,
) -> ElectronicSignature:
    """Sign ``record`` as an already re-authenticated ``signer``, in the caller's transaction.

    Callers must have checked the signer's password in this same request
    (``medfleet.accounts.auth.authenticate`` with purpose ``esignature``); this function
    enforces everything else.

    Raises:
        NotFoundError: the record belongs to another organization.
        PermissionDeniedError: the signer lacks a role that may sign with this meaning.
        SeparationOfDutiesError: the author tries to approve or release their own record.
        SignatureError: the signer already signed this content with this meaning.
    """
    if record.org_id != signer.org_id:
        raise NotFoundError(f"{record.label} not found")
    digest = content_sha256(record)
    existing = list(
        session.scalars(
            select(ElectronicSignature).where(
                ElectronicSignature.record_type == record.record_type,
                ElectronicSignature.record_id == record.record_id,
            )
        )
    )
    if meaning in (Meaning.APPROVED, Meaning.RELEASED):
        authors = {record.author_id} | {
            s.user_id for s in existing if s.meaning == Meaning.AUTHORED.value
        }
        if signer.user_id in authors:
            raise SeparationOfDutiesError(
                f"{signer.full_name} authored {record.label} and "
                f"cannot sign it as {meaning.value}: another person must"
            )
    allowed = ROLES_FOR_MEANING[meaning]
    if not signer.has_any(*allowed):
        names = " or ".join(role.value for role in allowed)
        raise PermissionDeniedError(f"signing as {meaning.value!r} needs the {names} role")
    for previous in existing:
        if (
            previous.user_id == signer.user_id
            and previous.meaning == meaning.value
            and previous.content_sha256 == digest
        ):
            raise SignatureError(
                f"{signer.username} already signed this version as {meaning.value}"
            )
    signed_at = audit.clock.now()
    text = comment.strip() if comment else None
    row = ElectronicSignature(
        record_type=record.record_type,
        record_id=record.record_id,
        org_id=record.org_id,
        user_id=signer.user_id,
        username=signer.username,
        printed_name=signer.full_name,
        meaning=meaning.value,
        signed_at=signed_at,
        content_sha256=digest,
        comment=text,
        server_key_id=audit.signer.key_id,
        server_signature=audit.signer.sign(
            _server_message(
                record.record_type,
                record.record_id,
                signer.username,
                signer.full_name,
                meaning.value,
                signed_at,
                digest,
            )
        ),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        NewEvent(
            signer.actor,
            record.org_id,
            "esignature.applied",
            record.record_type,
            record.record_id,
            {
                "meaning": meaning.value,
                "printed_name": signer.full_name,
                "content_sha256": digest,
                "signature_id": row.id,
            },
        ),
    )
    return row


@dataclass(frozen=True)
class SignatureView:
    """A signature as shown to people: who, when, meaning, and whether it still holds."""

    printed_name: str
    username: str
    meaning: str
    signed_at: datetime
    content_sha256: str
    valid: bool
    reason: str
    comment: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "printed_name": self.printed_name,
            "username": self.username,
            "meaning": self.meaning,
            "signed_at": self.signed_at.isoformat(),
            "content_sha256": self.content_sha256,
            "valid": self.valid,
            "reason": self.reason,
            "comment": self.comment,
        }

    def line(self) -> str:
        """One human-readable line, as every rendering of a signed record shows it."""
        state = "valid" if self.valid else f"INVALID: {self.reason}"
        return (
            f"{self.meaning.capitalize()} by {self.printed_name} ({self.username}) at "
            f"{self.signed_at:%Y-%m-%d %H:%M:%S} UTC [{state}]"
        )


def signatures_for(
    session: Session, record: Signable, trusted_keys: dict[str, Ed25519PublicKey]
) -> list[SignatureView]:
    """Every signature on ``record``, oldest first, each checked against its current content."""
    digest = content_sha256(record)
    rows = session.scalars(
        select(ElectronicSignature)
        .where(
            ElectronicSignature.record_type == record.record_type,
            ElectronicSignature.record_id == record.record_id,
        )
        .order_by(ElectronicSignature.signed_at, ElectronicSignature.id)
    )
    views = []
    for row in rows:
        genuine = signature_valid(
            trusted_keys,
            row.server_key_id,
            row.server_signature,
            _server_message(
                row.record_type,
                row.record_id,
                row.username,
                row.printed_name,
                row.meaning,
                row.signed_at,
                row.content_sha256,
            ),
        )
        if not genuine:
            valid, reason = False, "the signature record was not written by this server"
        elif row.content_sha256 != digest:
            valid, reason = False, "the record changed after it was signed"
        else:
            valid, reason = True, ""
        views.append(
            SignatureView(
                row.printed_name,
                row.username,
                row.meaning,
                row.signed_at,
                row.content_sha256,
                valid,
                reason,
                row.comment,
            )
        )
    return views
