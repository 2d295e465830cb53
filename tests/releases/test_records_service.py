"""Release records as services: drafts, edits, files, verification, isolation, on both databases."""

from __future__ import annotations

import pytest

from medfleet.accounts.errors import SignatureError
from medfleet.accounts.signatures import Meaning, signatures_for
from medfleet.db.engine import transaction
from medfleet.releases import approval, records
from medfleet.releases.errors import (
    DuplicateReleaseError,
    InvalidReleaseError,
    ReleaseNotAllowedError,
    ReleaseNotFoundError,
    ReleaseNotReadyError,
    ReleaseStateError,
)
from medfleet.releases.records import ReleaseFields
from tests.releases.test_release_support import (
    MODEL,
    Env,
    audit_actions,
    change_request,
    complete_fields,
    counts,
    draft,
    env,
    sign,
    state,
    verify,
)

__all__ = ["env"]


def test_create_records_every_field_and_an_audit_event(env: Env) -> None:
    key = change_request(env, env.world.engineer)
    with transaction(env.rt.sessions) as session:
        release = records.create(
            session, env.rt.audit, env.world.engineer, MODEL, "4.2.0", complete_fields([key])
        )
        assert (release.state, release.version_number, release.build_id) == (
            "draft",
            420,
            "build-420",
        )
        assert [c.key for c in release.change_requests] == [key]
        assert release.label == "release IP-100 4.2.0"
        assert release.release_id == "IP-100-4.2.0"
        release_id = str(release.id)
    assert audit_actions(env, "release", release_id) == ["release.created"]


def test_bad_input_is_refused_and_changes_nothing(env: Env) -> None:
    key = change_request(env, env.world.engineer)
    draft(env, cr_keys=[key])
    before = counts(env)
    cases = [
        (
            "4.3.0",
            ReleaseFields(version_number=430, change_requests=["CR-99"]),
            InvalidReleaseError,
        ),
        ("4.3.0", ReleaseFields(version_number=430, downtime_minutes=-5), InvalidReleaseError),
        ("4.3.0", ReleaseFields(version_number=420), DuplicateReleaseError),
        ("4.2.0", ReleaseFields(version_number=421), DuplicateReleaseError),
        ("4/3", ReleaseFields(version_number=431), InvalidReleaseError),
        ("4.3.0", ReleaseFields(), InvalidReleaseError),
    ]
    for version, fields, error in cases:
        with pytest.raises(error), transaction(env.rt.sessions) as session:
            records.create(session, env.rt.audit, env.world.engineer, MODEL, version, fields)
    assert counts(env) == before


def test_hospital_staff_see_nothing_and_auditors_only_read(env: Env) -> None:
    draft(env)
    with transaction(env.rt.sessions) as session:
        for hospital in (env.world.admin_a, env.world.biomed_b):
            assert records.list_all(session, hospital) == []
            with pytest.raises(ReleaseNotFoundError):
                records.get(session, hospital, MODEL, "4.2.0")
        assert records.get(session, env.world.auditor, MODEL, "4.2.0").version == "4.2.0"
    with pytest.raises(ReleaseNotFoundError), transaction(env.rt.sessions) as session:
        records.create(
            session, env.rt.audit, env.world.admin_a, MODEL, "9.0.0", complete_fields([])
        )
    with pytest.raises(ReleaseNotAllowedError), transaction(env.rt.sessions) as session:
        records.edit(
            session, env.rt.audit, env.world.auditor, MODEL, "4.2.0", ReleaseFields(build_id="x")
        )


def test_edit_invalidates_signatures_and_is_audited(env: Env) -> None:
    draft(env)
    sign(env, env.world.engineer, "4.2.0", Meaning.AUTHORED)
    with transaction(env.rt.sessions) as session:
        release = records.edit(
            session,
            env.rt.audit,
            env.world.engineer,
            MODEL,
            "4.2.0",
            ReleaseFields(risk_summary="HS-3 reduced; HS-9 new, acceptable."),
        )
        [view] = signatures_for(session, release, env.rt.trusted_keys())
        assert (view.valid, view.reason) == (False, "the record changed after it was signed")
        release_id = str(release.id)
    assert audit_actions(env, "release", release_id)[-1] == "release.edited"
    sign(env, env.world.engineer, "4.2.0", Meaning.AUTHORED)
    with pytest.raises(SignatureError), transaction(env.rt.sessions) as session:
        approval.sign(session, env.rt.audit, env.world.engineer, MODEL, "4.2.0", Meaning.AUTHORED)


def test_verify_lists_everything_missing_and_changes_nothing(env: Env) -> None:
    with transaction(env.rt.sessions) as session:
        records.create(
            session, env.rt.audit, env.world.engineer, MODEL, "4.2.0",
            ReleaseFields(version_number=420, what_changed="faster alarm"),
        )  # fmt: skip
    before = counts(env)
    with pytest.raises(ReleaseNotReadyError) as refused:
        verify(env)
    assert [b["code"] for b in refused.value.blockers] == [
        "artifact",
        "notes",
        "notes",
        "notes",
        "change_requests",
        "build_id",
        "hardware_revisions",
    ]
    assert "release notes: risk summary" in refused.value.missing
    assert counts(env) == before
    assert state(env) == "draft"


def test_verify_then_edits_are_refused_until_reopened(env: Env) -> None:
    draft(env)
    verify(env)
    assert state(env) == "verified"
    with (
        pytest.raises(ReleaseStateError, match="only drafts"),
        transaction(env.rt.sessions) as session,
    ):
        records.edit(
            session, env.rt.audit, env.world.engineer, MODEL, "4.2.0", ReleaseFields(build_id="b2")
        )
    with transaction(env.rt.sessions) as session:
        approval.reopen(session, env.rt.audit, env.world.engineer, MODEL, "4.2.0")
        records.edit(
            session, env.rt.audit, env.world.engineer, MODEL, "4.2.0", ReleaseFields(build_id="b2")
        )
    assert state(env) == "draft"


def test_only_review_meanings_are_signed_directly(env: Env) -> None:
    draft(env)
    with (
        pytest.raises(InvalidReleaseError, match="approving"),
        transaction(env.rt.sessions) as session,
    ):
        approval.sign(session, env.rt.audit, env.world.qa, MODEL, "4.2.0", Meaning.APPROVED)


def test_withdraw_needs_a_reason_and_the_role(env: Env) -> None:
    draft(env)
    verify(env)
    with pytest.raises(ReleaseNotAllowedError), transaction(env.rt.sessions) as session:
        approval.withdraw(session, env.rt.audit, env.world.engineer, MODEL, "4.2.0", "bad build")
    with (
        pytest.raises(InvalidReleaseError, match="reason"),
        transaction(env.rt.sessions) as session,
    ):
        approval.withdraw(session, env.rt.audit, env.world.qa, MODEL, "4.2.0", "  ")
    with transaction(env.rt.sessions) as session:
        release = approval.withdraw(
            session, env.rt.audit, env.world.admin, MODEL, "4.2.0", "bad build"
        )
        assert (release.state, release.withdrawn_reason) == ("withdrawn", "bad build")
    with pytest.raises(ReleaseStateError), transaction(env.rt.sessions) as session:
        approval.withdraw(session, env.rt.audit, env.world.qa, MODEL, "4.2.0", "again")


def test_sbom_is_attached_by_reference(env: Env) -> None:
    draft(env)
    blob = env.distribution.blobs.put_bytes(b'{"bomFormat": "CycloneDX"}')
    with (
        pytest.raises(InvalidReleaseError, match="SBOM format"),
        transaction(env.rt.sessions) as session,
    ):
        records.attach_sbom(
            session, env.rt.audit, env.distribution.blobs, env.world.engineer,
            MODEL, "4.2.0", "xlsx", blob,
        )  # fmt: skip
    with transaction(env.rt.sessions) as session:
        release = records.attach_sbom(
            session, env.rt.audit, env.distribution.blobs, env.world.engineer,
            MODEL, "4.2.0", "cyclonedx-json", blob,
        )  # fmt: skip
        assert release.canonical_content()["sbom"] == {
            "sha256": blob.sha256,
            "format": "cyclonedx-json",
        }
