"""Releasing into a real image repository, the keys it needs, and the audit trail of a release."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from medfleet.accounts import service as accounts
from medfleet.accounts.model import Principal, Role
from medfleet.accounts.service import NewUser, principal_of
from medfleet.accounts.signatures import Meaning, signatures_for
from medfleet.agent.contract import ImageInfo
from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.releases import approval, publishing, records
from medfleet.releases.errors import (
    InvalidReleaseError,
    ReleaseSigningRefusedError,
    SigningKeyMissingError,
    VersionOrderError,
)
from medfleet.signing.errors import ModelExistsError, UnknownModelError
from medfleet.signing.image_repo import model_role_name
from tests.api.helpers import audit_events
from tests.builders import PASSWORD
from tests.releases.test_release_support import (
    MODEL,
    Env,
    approve,
    audit_actions,
    change_request,
    counts,
    draft,
    env,
    firmware,
    publish,
    qa_holds_model,
    ready_for_approval,
    sign,
    state,
    verify,
)

__all__ = ["env"]


def approved(env: Env, version: str = "4.2.0", number: int = 420) -> None:
    ready_for_approval(env, version, number)
    approve(env, version)


def other_qa(env: Env) -> Principal:
    with transaction(env.rt.sessions) as session:
        user = accounts.create_user(
            session, env.rt.audit, env.rt.passwords, env.world.admin, env.world.admin.org_id,
            NewUser("qa2", "Quincy Second", PASSWORD, frozenset({Role.QA_RA})),
        )  # fmt: skip
        return principal_of(user)


def test_publish_signs_the_image_into_targets_and_records_it(env: Env) -> None:
    cr = change_request(env, env.world.engineer)
    draft(env, cr_keys=[cr])
    sign(env, env.world.engineer, "4.2.0", Meaning.AUTHORED)
    verify(env)
    approve(env)
    qa_holds_model(env)
    publish(env)

    with transaction(env.rt.sessions) as session:
        release = records.get(session, env.world.auditor, MODEL, "4.2.0")
        assert release.state == "released"
        assert release.target_path == f"{MODEL}/ip100-4.2.0.img"
        assert release.target_sha256 == hashlib.sha256(firmware(420)).hexdigest()
        assert release.target_length == len(firmware(420))
        views = signatures_for(session, release, env.rt.trusted_keys())
        assert [(v.meaning, v.username, v.valid) for v in views] == [
            ("authored", "eng", True),
            ("approved", "qa", True),
            ("released", "qa", True),
        ]
        release_id = str(release.id)
        released = session.scalar(
            select(AuditEventRow.doc).where(AuditEventRow.action == "release.released")
        )
    listed = env.distribution.image.image_target(f"{MODEL}/ip100-4.2.0.img")
    assert listed is not None
    assert listed.hashes["sha256"] == hashlib.sha256(firmware(420)).hexdigest()
    info = ImageInfo.from_custom(listed.custom)
    assert (info.release_id, info.version, info.version_number) == ("IP-100-4.2.0", "4.2.0", 420)
    assert info.hardware_revisions == ("B",)

    steps = audit_actions(env, "change_request", "1")
    assert [a for i, a in enumerate(steps) if i == 0 or steps[i - 1] != a] == [
        "change_request.created",
        "change_request.moved",  # impact analysis
        "change_request.classified",
        "assessment.answered",
        "assessment.recorded",
        "change_request.moved",  # assessment ... approval, then released by the release
        "risk.delta_applied",
    ]
    moves = [e["payload"]["to"] for e in audit_events(env.rt, "change_request.moved")]
    assert moves[-1] == "released"
    trail = [
        (e["object_type"], e["action"])
        for e in audit_events(env.rt)
        if e["object_type"] in ("change_request", "regulatory_assessment", "release")
        or e["action"].startswith(("trace.", "verification"))
    ]
    assert trail.index(("regulatory_assessment", "esignature.applied")) < trail.index(
        ("release", "release.approved")
    )
    assert trail[-4:] == [  # in one transaction: the signature, the CR, its risk file, TUF
        ("release", "esignature.applied"),
        ("change_request", "change_request.moved"),
        ("change_request", "risk.delta_applied"),
        ("release", "release.released"),
    ]
    assert audit_actions(env, "release", release_id) == [
        "release.created",
        "release.artifact_attached",
        "esignature.applied",
        "release.verified",
        "esignature.applied",
        "release.approved",
        "esignature.applied",
        "release.released",
    ]
    assert released is not None
    details = json.loads(released)["payload"]
    assert details["target_path"] == f"{MODEL}/ip100-4.2.0.img"
    assert details["sha256"] == hashlib.sha256(firmware(420)).hexdigest()
    assert details["deltas"] == []


def test_the_next_release_gets_a_delta_and_the_order_is_kept(env: Env) -> None:
    approved(env)
    qa_holds_model(env)
    publish(env)
    approved(env, "4.3.0", 430)
    publish(env, "4.3.0")
    with transaction(env.rt.sessions) as session:
        release = records.get(session, env.world.qa, MODEL, "4.3.0")
        [delta] = release.target_deltas or []
        assert delta["from_version"] == "4.2.0"
        assert env.distribution.image.image_target(delta["path"]) is not None
    with pytest.raises(VersionOrderError, match="430"), transaction(env.rt.sessions) as session:
        records.create(
            session, env.rt.audit, env.world.engineer, MODEL, "4.2.5",
            records.ReleaseFields(version_number=425),
        )  # fmt: skip


def _refused_publish(env: Env, error: type[Exception], who: Principal | None = None) -> None:
    before = counts(env)
    role_before = env.distribution.image.chain().snapshot.signed.version
    with pytest.raises(error), transaction(env.rt.sessions) as session:
        publishing.publish(
            session, env.rt.audit, env.distribution, who or env.world.qa, PASSWORD, MODEL, "4.2.0"
        )
    assert counts(env) == before
    assert state(env) == "approved"
    assert env.distribution.image.chain().snapshot.signed.version == role_before


def test_publish_without_a_model_role_changes_nothing(env: Env) -> None:
    approved(env)
    with transaction(env.rt.sessions) as session:
        publishing.create_signing_key(
            session, env.rt.audit, env.distribution.keys, env.world.qa, PASSWORD
        )
    _refused_publish(env, UnknownModelError)


def test_publish_without_a_targets_key_changes_nothing(env: Env) -> None:
    approved(env)
    _refused_publish(env, SigningKeyMissingError)


def test_publish_by_a_qa_whose_key_does_not_hold_the_model_changes_nothing(env: Env) -> None:
    approved(env)
    qa_holds_model(env)
    second = other_qa(env)
    with transaction(env.rt.sessions) as session:
        publishing.create_signing_key(
            session, env.rt.audit, env.distribution.keys, second, PASSWORD
        )
    _refused_publish(env, ReleaseSigningRefusedError, second)
    assert env.distribution.image.model_targets(MODEL) == {}


def test_withdrawing_a_released_release_keeps_the_target(env: Env) -> None:
    approved(env)
    qa_holds_model(env)
    publish(env)
    with transaction(env.rt.sessions) as session:
        approval.withdraw(session, env.rt.audit, env.world.qa, MODEL, "4.2.0", "field issue")
        release_id = str(records.get(session, env.world.qa, MODEL, "4.2.0").id)
    assert state(env) == "withdrawn"
    assert audit_actions(env, "release", release_id)[-1] == "release.withdrawn"
    assert env.distribution.image.image_target(f"{MODEL}/ip100-4.2.0.img") is not None


def test_signing_key_is_created_once_and_audited(env: Env) -> None:
    for created in (True, False):
        with transaction(env.rt.sessions) as session:
            key = publishing.create_signing_key(
                session, env.rt.audit, env.distribution.keys, env.world.qa, PASSWORD
            )
        assert key.created is created
    assert (
        audit_actions(env, "user", str(env.world.qa.user_id)).count("release.signing_key_created")
        == 1
    )
    assert env.distribution.keys.unlock_user_key("qa", PASSWORD).public_key.keyid == key.key_id


def test_delegation_checks_holders_and_keys_before_writing(env: Env) -> None:
    def delegate(who: Principal, holders: list[str], threshold: int = 1) -> None:
        with transaction(env.rt.sessions) as session:
            publishing.delegate_model(
                session, env.rt.audit, env.distribution, who, PASSWORD, MODEL, holders,
                threshold, dict.fromkeys(holders, PASSWORD),
            )  # fmt: skip

    with pytest.raises(SigningKeyMissingError, match="holder qa"):
        delegate(env.world.admin, ["qa"])
    with pytest.raises(InvalidReleaseError, match="qa_ra"):
        delegate(env.world.admin, ["eng"])
    with pytest.raises(InvalidReleaseError, match="threshold"):
        delegate(env.world.admin, ["qa"], 2)
    with transaction(env.rt.sessions) as session:
        publishing.create_signing_key(
            session, env.rt.audit, env.distribution.keys, env.world.qa, PASSWORD
        )
    with pytest.raises(ReleaseSigningRefusedError, match="top-level targets key"):
        delegate(env.world.qa, ["qa"])
    assert env.distribution.image.models() == []
    assert audit_actions(env, "model_role", MODEL) == []
    delegate(env.world.admin, ["qa"])
    assert env.distribution.image.models() == [MODEL]
    assert audit_actions(env, "model_role", MODEL) == ["release.model_delegated"]
    with pytest.raises(ModelExistsError):
        delegate(env.world.admin, ["qa"])
    assert audit_actions(env, "model_role", MODEL) == ["release.model_delegated"]
    role = env.distribution.image.chain()
    assert role.targets_version(model_role_name(MODEL)) == 1
