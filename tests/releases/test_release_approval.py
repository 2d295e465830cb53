"""Approval: every blocker, refusals that change nothing, separation of duties (both databases)."""

from __future__ import annotations

import pytest

from medfleet.accounts.errors import PermissionDeniedError
from medfleet.accounts.signatures import Meaning
from medfleet.changes import service as changes
from medfleet.changes.model import SafetyClass
from medfleet.db.engine import transaction
from medfleet.releases import approval, readiness, records
from medfleet.releases.errors import ReleaseNotAllowedError, ReleaseNotReadyError
from medfleet.releases.records import ReleaseFields
from tests.change_flow import ready_change
from tests.releases.test_release_support import (
    MODEL,
    Env,
    approve,
    change_request,
    counts,
    draft,
    env,
    ready_for_approval,
    sign,
    state,
    verify,
)

__all__ = ["env"]


def refused_codes(env: Env, who: object = None) -> list[str]:
    """Try to approve; assert nothing changed; return the blocker codes."""
    before = counts(env)
    with pytest.raises(ReleaseNotReadyError) as refused:
        approve(env, who=who)  # type: ignore[arg-type]
    assert counts(env) == before
    assert refused.value.missing == [b["message"] for b in refused.value.blockers]
    return [b["code"] for b in refused.value.blockers]


def test_a_ready_release_is_approved_by_the_approved_signature(env: Env) -> None:
    ready_for_approval(env)
    approve(env)
    assert state(env) == "approved"
    with transaction(env.rt.sessions) as session:
        release = records.get(session, env.world.qa, MODEL, "4.2.0")
        assert readiness.blockers(
            session,
            release,
            approver=env.world.qa,
            trusted_keys=env.rt.trusted_keys(),
            blobs=env.distribution.blobs,
        ) == [
            readiness.Blocker("state", "the release is approved; only a verified one is approved")
        ]


def test_draft_without_author_signature_lists_both(env: Env) -> None:
    draft(env)
    assert refused_codes(env) == ["state", "authored_signature"]
    assert state(env) == "draft"


def test_author_signature_invalidated_by_an_edit_blocks(env: Env) -> None:
    draft(env)
    sign(env, env.world.engineer, "4.2.0", Meaning.AUTHORED)
    with transaction(env.rt.sessions) as session:
        records.edit(
            session, env.rt.audit, env.world.engineer, MODEL, "4.2.0",
            ReleaseFields(compatibility="Revision B only."),
        )  # fmt: skip
    verify(env)
    before = counts(env)
    with pytest.raises(ReleaseNotReadyError, match="no longer valid"):
        approve(env)
    assert counts(env) == before


def test_a_reviewer_signature_is_not_the_authors(env: Env) -> None:
    draft(env)
    sign(env, env.world.qa, "4.2.0", Meaning.REVIEWED)
    verify(env)
    assert refused_codes(env) == ["authored_signature"]


def test_the_author_cannot_approve(env: Env) -> None:
    draft(env, author=env.world.qa)
    sign(env, env.world.qa, "4.2.0", Meaning.AUTHORED)
    verify(env)
    assert refused_codes(env) == ["separation_of_duties"]
    assert state(env) == "verified"


def test_missing_image_in_the_store_blocks(env: Env) -> None:
    ready_for_approval(env)
    with transaction(env.rt.sessions) as session:
        sha256 = records.get(session, env.world.qa, MODEL, "4.2.0").artifact_sha256
    assert sha256 is not None
    env.distribution.blobs.path_of(sha256).unlink()
    assert refused_codes(env) == ["artifact"]


def test_every_blocker_at_once(env: Env) -> None:
    draft(env, author=env.world.qa)
    with transaction(env.rt.sessions) as session:
        sha256 = records.get(session, env.world.qa, MODEL, "4.2.0").artifact_sha256
    assert sha256 is not None
    env.distribution.blobs.path_of(sha256).unlink()
    assert refused_codes(env) == ["state", "authored_signature", "separation_of_duties", "artifact"]


@pytest.mark.parametrize(("safety_class", "blocked"), [("A", False), ("B", True), ("C", True)])
def test_class_b_and_c_need_an_approver_independent_of_the_change_requests(
    env: Env, safety_class: str, blocked: bool
) -> None:
    # A change's class is the highest of its software items; QA authored one of the two.
    safety = SafetyClass(safety_class)
    own = change_request(env, env.world.qa, "QA's own change", safety)
    other = change_request(env, env.world.engineer, "Engineer's change", SafetyClass.A)
    draft(env, cr_keys=[own, other])
    sign(env, env.world.engineer, "4.2.0", Meaning.AUTHORED)
    verify(env)
    if blocked:
        assert refused_codes(env) == ["independent_approval"]
        with pytest.raises(ReleaseNotReadyError, match=f"safety class {safety_class}.*{own}"):
            approve(env)
        assert state(env) == "verified"
    else:
        approve(env)
        assert state(env) == "approved"


def test_an_approver_who_signed_a_change_request_as_author_is_not_independent(env: Env) -> None:
    key = change_request(env, env.world.engineer, safety=SafetyClass.C)
    with transaction(env.rt.sessions) as session:
        changes.sign(session, env.rt.audit, env.world.qa, key, Meaning.AUTHORED)
    draft(env, cr_keys=[key])
    sign(env, env.world.engineer, "4.2.0", Meaning.AUTHORED)
    verify(env)
    assert refused_codes(env) == ["independent_approval"]


def test_only_qa_ra_approves(env: Env) -> None:
    ready_for_approval(env)
    for who, error in (
        (env.world.engineer, ReleaseNotAllowedError),
        (env.world.admin, ReleaseNotAllowedError),
        (env.world.auditor, ReleaseNotAllowedError),
    ):
        with pytest.raises(error):
            approve(env, who=who)
    assert state(env) == "verified"


def test_review_signature_roles_come_from_e_signatures(env: Env) -> None:
    draft(env)
    with pytest.raises(PermissionDeniedError), transaction(env.rt.sessions) as session:
        approval.sign(session, env.rt.audit, env.world.auditor, MODEL, "4.2.0", Meaning.REVIEWED)


def test_a_change_request_of_another_device_model_blocks_approval(env: Env) -> None:
    other = ready_change(env.rt, env.world, env.world.engineer, "Syringe pump fix", model="SP-7")[0]
    draft(env, cr_keys=[other])
    sign(env, env.world.engineer, "4.2.0", Meaning.AUTHORED)
    verify(env)
    assert refused_codes(env) == ["change_model"]
    with pytest.raises(ReleaseNotReadyError, match=f"{other} changes SP-7, not IP-100"):
        approve(env)
    assert state(env) == "verified"
