"""Pure rules of release records: the state machine, field checks, notes, blockers.

No I/O here. ``next_state`` is the only way a record's state changes; ``RELEASE_EDITABLE`` says
where its content may still change (draft only). A release goes draft → verified → approved →
released → withdrawn; a verified release can be reopened to draft, and a verified or approved
one can be withdrawn without ever being released.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from medfleet.releases.errors import InvalidReleaseError, ReleaseStateError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,31}")
_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
MAX_RELEASE_ID = 64  # the install record's release_id column
MAX_VERSION_NUMBER = 2**63 - 1
MAX_BUILD_ID = 200
MAX_NOTES_TEXT = 20_000
MAX_DOWNTIME_MINUTES = 7 * 24 * 60
SBOM_FORMATS = ("cyclonedx-json", "cyclonedx-xml", "spdx-json", "spdx-tag-value")
SAFETY_CLASSES = ("A", "B", "C")
INDEPENDENT_APPROVAL_CLASSES = frozenset({"B", "C"})


class ReleaseState(enum.StrEnum):
    """Where a release record stands."""

    DRAFT = "draft"
    VERIFIED = "verified"
    APPROVED = "approved"
    RELEASED = "released"
    WITHDRAWN = "withdrawn"


class ReleaseAction(enum.StrEnum):
    """What moves a release record from one state to the next."""

    VERIFY = "verify"
    REOPEN = "reopen"
    APPROVE = "approve"
    RELEASE = "release"
    WITHDRAW = "withdraw"


S, A = ReleaseState, ReleaseAction
TRANSITIONS: dict[tuple[ReleaseState, ReleaseAction], ReleaseState] = {
    (S.DRAFT, A.VERIFY): S.VERIFIED,
    (S.VERIFIED, A.REOPEN): S.DRAFT,
    (S.VERIFIED, A.APPROVE): S.APPROVED,
    (S.VERIFIED, A.WITHDRAW): S.WITHDRAWN,
    (S.APPROVED, A.RELEASE): S.RELEASED,
    (S.APPROVED, A.WITHDRAW): S.WITHDRAWN,
    (S.RELEASED, A.WITHDRAW): S.WITHDRAWN,
}
"""Every allowed transition; anything else is refused."""

RELEASE_EDITABLE = frozenset({ReleaseState.DRAFT})
"""States in which the content (and so what signatures vouch for) may change."""


def next_state(state: ReleaseState, action: ReleaseAction) -> ReleaseState:
    """The state ``action`` leads to from ``state``.

    Raises:
        ReleaseStateError: the action is not allowed in this state (naming what is).
    """
    target = TRANSITIONS.get((state, action))
    if target is None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s is state)
        hint = f"; allowed: {', '.join(allowed)}" if allowed else "; nothing more can happen"
        raise ReleaseStateError(f"cannot {action.value} a {state.value} release{hint}")
    return target


def check_editable(state: ReleaseState) -> None:
    """Refuse a content change outside draft.

    Raises:
        ReleaseStateError: the release is not a draft.
    """
    if state not in RELEASE_EDITABLE:
        raise ReleaseStateError(
            f"a {state.value} release cannot be changed; only drafts can "
            "(reopen a verified release first)"
        )


def release_id(model: str, version: str) -> str:
    """The stable release id in image metadata and install records, e.g. ``IP-100-4.2.0``."""
    return f"{model}-{version}"


def check_model(model: str) -> str:
    """A device model name usable in TUF paths.

    Raises:
        InvalidReleaseError: not 1-64 letters, digits, '.', '_' or '-'.
    """
    if not _NAME.fullmatch(model):
        raise InvalidReleaseError(
            f"device model {model!r} must be 1-64 letters, digits, '.', '_' or '-'"
        )
    return model


def check_version(model: str, version: str) -> str:
    """A version string such as ``4.2.0``; with the model it must fit a release id.

    Raises:
        InvalidReleaseError: not 1-32 letters, digits, '.', '_', '+' or '-', or too long.
    """
    if not _VERSION.fullmatch(version):
        raise InvalidReleaseError(
            f"version {version!r} must be 1-32 letters, digits, '.', '_', '+' or '-'"
        )
    if len(release_id(model, version)) > MAX_RELEASE_ID:
        raise InvalidReleaseError(
            f"model and version together must stay under {MAX_RELEASE_ID} characters"
        )
    return version


def check_numbers(version_number: int, min_from: int | None) -> None:
    """Version number at least 1; a minimum from-version, if any, below it.

    Raises:
        InvalidReleaseError: naming the offending number.
    """
    if not 1 <= version_number <= MAX_VERSION_NUMBER:
        raise InvalidReleaseError(f"version number {version_number} must be at least 1")
    if min_from is not None and not 0 <= min_from < version_number:
        raise InvalidReleaseError(
            f"min_from_version_number {min_from} must be between 0 and below "
            f"the version number {version_number}"
        )


def check_revisions(revisions: list[str] | tuple[str, ...]) -> list[str]:
    """Hardware revisions, stripped, without duplicates, in the order given.

    Raises:
        InvalidReleaseError: a revision is not a safe name.
    """
    cleaned: list[str] = []
    for revision in (r.strip() for r in revisions):
        if not _NAME.fullmatch(revision):
            raise InvalidReleaseError(f"hardware revision {revision!r} is not a valid name")
        if revision not in cleaned:
            cleaned.append(revision)
    return cleaned


def check_build_id(build_id: str) -> str:
    """A build id, stripped (may be empty in a draft).

    Raises:
        InvalidReleaseError: longer than ``MAX_BUILD_ID``.
    """
    build_id = build_id.strip()
    if len(build_id) > MAX_BUILD_ID:
        raise InvalidReleaseError(f"build id is longer than {MAX_BUILD_ID} characters")
    return build_id


def check_filename(filename: str) -> str:
    """An artifact file name as published: ``<model>/<filename>`` in the image repository.

    Raises:
        InvalidReleaseError: not 1-200 letters, digits, '.', '_', '+' or '-'.
    """
    if not _FILENAME.fullmatch(filename):
        raise InvalidReleaseError(
            f"file name {filename!r} must be 1-200 letters, digits, '.', '_', '+' or '-' "
            "and start with a letter or digit"
        )
    return filename


def check_sbom_format(name: str) -> str:
    """One of ``SBOM_FORMATS``.

    Raises:
        InvalidReleaseError: an unknown format.
    """
    if name not in SBOM_FORMATS:
        raise InvalidReleaseError(
            f"unknown SBOM format {name!r} (known: {', '.join(SBOM_FORMATS)})"
        )
    return name


@dataclass(frozen=True)
class ReleaseNotes:
    """What hospitals read before accepting an update; all four parts are needed to verify."""

    what_changed: str = ""
    risk_summary: str = ""
    downtime_minutes: int | None = None
    compatibility: str = ""

    def checked(self) -> ReleaseNotes:
        """These notes, stripped.

        Raises:
            InvalidReleaseError: a text is too long, or downtime is negative or above a week.
        """
        texts = (self.what_changed, self.risk_summary, self.compatibility)
        if any(len(text) > MAX_NOTES_TEXT for text in texts):
            raise InvalidReleaseError(f"a release note is longer than {MAX_NOTES_TEXT} characters")
        minutes = self.downtime_minutes
        if minutes is not None and not 0 <= minutes <= MAX_DOWNTIME_MINUTES:
            raise InvalidReleaseError(
                f"expected downtime {minutes} must be between 0 and {MAX_DOWNTIME_MINUTES} minutes"
            )
        return ReleaseNotes(
            self.what_changed.strip(),
            self.risk_summary.strip(),
            minutes,
            self.compatibility.strip(),
        )

    def missing(self) -> list[str]:
        """The parts still empty, in the order hospitals read them."""
        gaps = []
        if not self.what_changed.strip():
            gaps.append("release notes: what changed and why")
        if not self.risk_summary.strip():
            gaps.append("release notes: risk summary")
        if self.downtime_minutes is None:
            gaps.append("release notes: expected downtime minutes")
        if not self.compatibility.strip():
            gaps.append("release notes: compatibility")
        return gaps


@dataclass(frozen=True)
class Blocker:
    """One reason a release cannot be approved: a stable code and a sentence for people."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"code": self.code, "message": self.message}


def normalise_safety_class(value: object) -> str | None:
    """``"A"``, ``"B"`` or ``"C"`` from an enum, ``"class_b"``, ``"B"`` ...; None if unknown."""
    text = str(getattr(value, "value", value) or "").strip().upper()
    text = text.removeprefix("CLASS").strip(" _-")
    return text if text in SAFETY_CLASSES else None


def highest_class(classes: list[str | None]) -> str | None:
    """The highest IEC 62304 class among ``classes`` (None when none is known)."""
    known = [c for c in classes if c in SAFETY_CLASSES]
    return max(known) if known else None
