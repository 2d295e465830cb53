"""Whether a release may be approved: every reason it may not, as a list of ``Blocker``.

``blockers`` never stops at the first problem, so the approver (and the 409 answer, and the
CLI) sees everything that is missing at once. An empty list is the only way to approval.

Sources of blockers: the state (verified), the author's valid "authored" signature, separation
of duties (the approver is not the author; for change requests of IEC 62304 class B or C, the
approver authored none of them), the image in the blob store, the version number above every
released one of the model, traceability gaps on the build within what the change requests
touch (``trace_blockers``), and the change requests' state, assessment and clearance
(``assessment_blockers``).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.accounts.signatures import Meaning, signatures_for
from medfleet.accounts.tables import ElectronicSignature
from medfleet.changes import assessment_status
from medfleet.changes.model import ChangeState
from medfleet.changes.scope import scope_of
from medfleet.changes.tables import ChangeRequest
from medfleet.errors import MedfleetError
from medfleet.releases.blobs import BlobStore
from medfleet.releases.model import (
    INDEPENDENT_APPROVAL_CLASSES,
    Blocker,
    ReleaseState,
    highest_class,
    normalise_safety_class,
)
from medfleet.releases.tables import Release
from medfleet.trace import coverage as trace
from medfleet.trace.model import TraceScope

__all__ = [
    "Blocker",
    "assessment_blockers",
    "blockers",
    "highest_released_number",
    "safety_class_of",
    "trace_blockers",
]


def safety_class_of(change: ChangeRequest) -> str | None:
    """The IEC 62304 safety class (``"A"``/``"B"``/``"C"``) of a change request, if known.

    ``change.safety_class`` is the highest class of the software items it touches (None until
    it names any).
    """
    return normalise_safety_class(getattr(change, "safety_class", None))


def trace_blockers(session: Session, release: Release) -> list[Blocker]:
    """Traceability gaps on the release's build, within what its change requests touch.

    For each included change request: every requirement it added or modified and every risk
    control its delta touches must have a passing test on ``release.build_id``, and every test
    of its regression set (the tests of what it touches plus the minimum for its safety class)
    must have passed on that build.
    """
    found: list[Blocker] = []
    for change in release.change_requests:
        try:
            scope = scope_of(session, change)
        except MedfleetError as error:
            found.append(Blocker("trace_gap", f"{change.key}: {error}"))
            continue
        regression = trace.regression_set(
            session, release.org_id, scope.requirements, scope.controls, scope.safety_class.value
        )
        traced = TraceScope(scope.requirements, scope.controls, frozenset(regression.keys))
        found += [
            Blocker("trace_gap", f"{change.key}: {gap.message}")
            for gap in trace.gaps(session, release.org_id, release.build_id, traced)
        ]
    return found


def assessment_blockers(
    session: Session, release: Release, trusted_keys: dict[str, Ed25519PublicKey]
) -> list[Blocker]:
    """Included change requests not ready to be released.

    Each must change the release's device model, be in ``approval`` (verified), have a current
    regulatory assessment approved by QA/RA, and, when that assessment says a submission is
    needed (new 510(k) likely, or a significant change under MDCG 2020-3), have its clearance
    recorded.
    """
    found: list[Blocker] = []
    for change in release.change_requests:
        if change.device_model != release.model:
            found.append(
                Blocker(
                    "change_model",
                    f"{change.key} changes {change.device_model or 'no device model yet'}, "
                    f"not {release.model}",
                )
            )
        if change.status is not ChangeState.APPROVAL:
            found.append(
                Blocker(
                    "change_state",
                    f"{change.key} is in {change.state}: it must have passed verification "
                    "(state approval) to be released",
                )
            )
        found += [
            Blocker("assessment", message)
            for message in assessment_status.assessment_missing(session, change, trusted_keys)
        ]
        if assessment_status.submission_pending(session, change):
            found.append(
                Blocker(
                    "clearance",
                    f"{change.key}: its assessment says a submission is needed; record the "
                    f"clearance first ('medfleet change clearance --change {change.key}')",
                )
            )
    return found


def highest_released_number(session: Session, release: Release) -> int | None:
    """The highest version number of the model signed into targets so far (other records)."""
    statement = select(func.max(Release.version_number)).where(
        Release.org_id == release.org_id,
        Release.model == release.model,
        Release.target_path.is_not(None),
    )
    if release.id is not None:
        statement = statement.where(Release.id != release.id)
    return session.scalar(statement)


def _authored_by(session: Session, record_id: str, user_ids: set[int]) -> set[int]:
    rows = session.scalars(
        select(ElectronicSignature.user_id).where(
            ElectronicSignature.record_type == "change_request",
            ElectronicSignature.record_id == record_id,
            ElectronicSignature.meaning == Meaning.AUTHORED.value,
        )
    )
    return user_ids | set(rows)


def _duties(session: Session, release: Release, approver: Principal) -> list[Blocker]:
    found = []
    if approver.user_id == release.author_id:
        found.append(
            Blocker(
                "separation_of_duties",
                f"{approver.full_name} authored {release.label}: another person must approve it",
            )
        )
    changes = list(release.change_requests)
    top = highest_class([safety_class_of(change) for change in changes])
    if top in INDEPENDENT_APPROVAL_CLASSES:
        own = [
            change.key
            for change in changes
            if approver.user_id in _authored_by(session, str(change.id), {change.author_id})
        ]
        if own:
            found.append(
                Blocker(
                    "independent_approval",
                    f"safety class {top} needs independent QA/RA approval: "
                    f"{approver.full_name} authored {', '.join(own)}",
                )
            )
    return found


def blockers(
    session: Session,
    release: Release,
    *,
    approver: Principal,
    trusted_keys: dict[str, Ed25519PublicKey],
    blobs: BlobStore,
) -> list[Blocker]:
    """Every reason ``approver`` may not approve ``release`` now; empty when they may."""
    found: list[Blocker] = []
    if release.release_state is not ReleaseState.VERIFIED:
        found.append(
            Blocker("state", f"the release is {release.state}; only a verified one is approved")
        )
    author = release.author.username
    authored = [
        view
        for view in signatures_for(session, release, trusted_keys)
        if view.meaning == Meaning.AUTHORED.value and view.username == author
    ]
    if not any(view.valid for view in authored):
        why = "is no longer valid (the release changed)" if authored else "is missing"
        found.append(
            Blocker("authored_signature", f"the author's 'authored' signature ({author}) {why}")
        )
    found += _duties(session, release, approver)
    if release.artifact_sha256 is None:
        found.append(Blocker("artifact", "no image artifact is attached"))
    elif not blobs.contains(release.artifact_sha256):
        found.append(
            Blocker("artifact", f"the image {release.artifact_sha256[:12]}… is not in the store")
        )
    highest = highest_released_number(session, release)
    if highest is not None and release.version_number <= highest:
        found.append(
            Blocker(
                "version_order",
                f"version number {release.version_number} is not above {highest}, "
                f"already released for {release.model}",
            )
        )
    found += trace_blockers(session, release)
    found += assessment_blockers(session, release, trusted_keys)
    return found
