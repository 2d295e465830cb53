"""Request and response bodies of the releases API (``medfleet.releases.routes``).

Bounds mirror the domain's (``medfleet.releases.model``) so that oversize input is refused by
validation before any use case runs; the domain checks again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from medfleet.accounts.signatures import Meaning
from medfleet.releases.model import MAX_BUILD_ID, MAX_DOWNTIME_MINUTES, MAX_NOTES_TEXT
from medfleet.releases.records import KEEP, ReleaseFields


class NotesIn(BaseModel):
    """Release notes for hospitals; omitted parts stay as they are."""

    what_changed: str | None = Field(default=None, max_length=MAX_NOTES_TEXT)
    risk_summary: str | None = Field(default=None, max_length=MAX_NOTES_TEXT)
    downtime_minutes: int | None = Field(default=None, ge=0, le=MAX_DOWNTIME_MINUTES)
    compatibility: str | None = Field(default=None, max_length=MAX_NOTES_TEXT)


class ReleasePatch(BaseModel):
    """Fields to change on a draft; omitted fields stay. Earlier signatures stop being valid."""

    version_number: int | None = Field(default=None, ge=1)
    min_from_version_number: int | None = Field(default=None, ge=0)
    build_id: str | None = Field(default=None, max_length=MAX_BUILD_ID)
    hardware_revisions: list[str] | None = Field(default=None, max_length=50)
    notes: NotesIn | None = None
    change_requests: list[str] | None = Field(default=None, max_length=200)

    def fields(self) -> ReleaseFields:
        """As the service's ``ReleaseFields`` (an explicit null clears the minimum version)."""
        notes = self.notes or NotesIn()
        given = "min_from_version_number" in self.model_fields_set
        return ReleaseFields(
            version_number=self.version_number,
            min_from_version_number=self.min_from_version_number if given else KEEP,
            build_id=self.build_id,
            hardware_revisions=self.hardware_revisions,
            what_changed=notes.what_changed,
            risk_summary=notes.risk_summary,
            downtime_minutes=notes.downtime_minutes,
            compatibility=notes.compatibility,
            change_requests=self.change_requests,
        )


class ReleaseIn(ReleasePatch):
    """A new draft release of a device model."""

    model: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)
    version_number: int = Field(ge=1)


class PasswordIn(BaseModel):
    """The caller's password again (approval, release), with an optional comment."""

    password: str = Field(min_length=1, max_length=1024)
    comment: str | None = Field(default=None, max_length=2000)


class SignatureIn(PasswordIn):
    """A review e-signature: "authored" or "reviewed"."""

    meaning: Meaning


class WithdrawIn(BaseModel):
    """Why the release is withdrawn."""

    reason: str = Field(min_length=1, max_length=2000)


class DelegationIn(BaseModel):
    """A device model's role: holders (QA/RA users with targets keys) and threshold.

    ``password`` unlocks the caller's top-level targets key; the role's first version needs
    ``threshold`` holders' signatures, so present holders give their passwords.
    """

    model: str = Field(min_length=1, max_length=64)
    holders: list[str] = Field(min_length=1, max_length=20)
    threshold: int = Field(default=1, ge=1)
    password: str = Field(min_length=1, max_length=1024)
    holder_passwords: dict[str, str] = Field(default_factory=dict, max_length=20)


class SignatureOut(BaseModel):
    """A signature as ``SignatureView.as_dict()`` renders it."""

    printed_name: str
    username: str
    meaning: str
    signed_at: str
    content_sha256: str
    valid: bool
    reason: str
    comment: str | None


class ReleaseOut(BaseModel):
    """A release record with its signatures (data and printable lines), as the CLI's JSON."""

    id: int
    model: str
    version: str
    release_id: str
    version_number: int
    min_from_version_number: int | None
    build_id: str
    hardware_revisions: list[str]
    state: str
    artifact: dict[str, Any] | None
    sbom: dict[str, Any] | None
    notes: dict[str, Any]
    change_requests: list[str]
    author: str
    created_at: str
    updated_at: str
    released_at: str | None
    withdrawn_at: str | None
    withdrawn_reason: str | None
    signed_target: dict[str, Any] | None
    signatures: list[SignatureOut]
    signature_lines: list[str]


class SigningKeyOut(BaseModel):
    """A user's targets key."""

    username: str
    key_id: str
    created: bool


class ModelRoleOut(BaseModel):
    """A device model's delegated role."""

    model: str
    role: str
    holders: list[str]
    key_ids: list[str]
    threshold: int
