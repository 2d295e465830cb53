"""Hospital notices: issued per hospital, revised only on change, scoped, acknowledged, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.vulns import notices
from medfleet.vulns.errors import (
    NoticeNeedsAssessmentError,
    NoticeNotFoundError,
    NoticeSupersededError,
    VulnsPermissionError,
)
from medfleet.vulns.notices import NoticeIssue, NoticeView
from medfleet.vulns.tables import HospitalNotice, VulnAssessment
from tests.vulns.support_exposure import HEARTBLEED, HEARTBLEED_ALIAS, Scene, principal_named, scene

__all__ = ["scene"]
A, B = "St. Anna Hospital", "Bayview Medical Center"


def issue(scene: Scene, username: str = "eng", vuln: str = HEARTBLEED) -> NoticeIssue:
    with transaction(scene.rt.sessions) as session:
        principal = principal_named(scene.world, username)
        return notices.issue_notices(session, scene.rt.audit, principal, vuln, scene.rt.clock.now())


def listed(scene: Scene, username: str) -> list[NoticeView]:
    with transaction(scene.rt.sessions) as session:
        return notices.list_notices(session, principal_named(scene.world, username))


def show(scene: Scene, username: str, notice_id: int) -> NoticeView:
    with transaction(scene.rt.sessions) as session:
        return notices.get_notice(session, principal_named(scene.world, username), notice_id)


def ack(scene: Scene, username: str, notice_id: int) -> NoticeView:
    with transaction(scene.rt.sessions) as session:
        principal = principal_named(scene.world, username)
        return notices.acknowledge(
            session, scene.rt.audit, principal, notice_id, scene.rt.clock.now()
        )


def informed_at(scene: Scene) -> object:
    with transaction(scene.rt.sessions) as session:
        return session.scalar(select(VulnAssessment.customers_informed_at))


def actions(scene: Scene, prefix: str = "vulns.") -> list[tuple[str, int | None]]:
    with transaction(scene.rt.sessions) as session:
        rows = session.execute(
            select(AuditEventRow.action, AuditEventRow.org_id)
            .where(AuditEventRow.action.startswith(prefix))
            .order_by(AuditEventRow.seq)
        )
        return [(action, org) for action, org in rows]


def notice_count(scene: Scene) -> int:
    with transaction(scene.rt.sessions) as session:
        return session.scalar(select(func.count(HospitalNotice.id))) or 0


def by_hospital(views: tuple[NoticeView, ...] | list[NoticeView]) -> dict[str, NoticeView]:
    return {view.hospital: view for view in views}


def test_issuing_without_an_assessment_is_refused(scene: Scene) -> None:
    with pytest.raises(NoticeNeedsAssessmentError, match="assess"):
        issue(scene)
    assert notice_count(scene) == 0
    assert actions(scene) == []


@pytest.mark.parametrize("username", ["biomed.a", "admin.a", "aud"])
def test_only_manufacturer_engineers_qa_and_admins_issue(scene: Scene, username: str) -> None:
    scene.assess()
    with pytest.raises(VulnsPermissionError):
        issue(scene, username)
    assert notice_count(scene) == 0


def test_one_notice_per_affected_hospital_with_its_devices_controls_and_fix(scene: Scene) -> None:
    scene.assess()
    done = issue(scene, "qa", HEARTBLEED_ALIAS)
    assert done.vulnerability_key == HEARTBLEED
    assert done.unchanged == ()
    issued = by_hospital(done.issued)
    assert set(issued) == {A, B}
    content = issued[A].notice.content
    assert [d["serial"] for d in content["devices"]] == ["A-3", "A-6", "A-1", "A-2", "A-5"]
    a1 = next(d for d in content["devices"] if d["serial"] == "A-1")
    assert a1 == {
        "device_id": scene.devices["A-1"],
        "serial": "A-1",
        "model": "IP-100",
        "installed_version": "4.0.0",
        "site_id": scene.sites["Main Campus"],
        "site": "Main Campus",
        "department": "ICU",
        "is_test_device": False,
    }
    assert content["vulnerability"]["key"] == HEARTBLEED
    assert content["vulnerability"]["aliases"] == [HEARTBLEED, HEARTBLEED_ALIAS]
    assert content["vulnerability"]["severity"] == "high"
    assert content["compensating_controls"] == "Block TCP 443 to the pumps at the firewall."
    assert content["planned_fix"] == "Update to IP-100 4.2.0."
    assert content["fixed_releases"] == [
        {"model": "IP-100", "release_id": "IP-100-4.2.0", "version": "4.2.0"},
        {"model": "VM-7", "release_id": None, "version": None},
    ]
    b_content = issued[B].notice.content
    assert [d["serial"] for d in b_content["devices"]] == ["BAY-1", "BAY-2"]
    assert [f["model"] for f in b_content["fixed_releases"]] == ["IP-100"]
    assert "A-1" not in str(b_content)
    assert {view.notice.revision for view in done.issued} == {1}
    assert informed_at(scene) == scene.rt.clock.now()
    world = scene.world
    assert sorted(actions(scene), key=str) == sorted(
        [
            ("vulns.notice_issued", world.hospital_a),
            ("vulns.notice_issued", world.hospital_b),
            ("vulns.customers_informed", world.admin.org_id),
        ],
        key=str,
    )


def test_the_assessments_fixed_release_is_in_the_notice(scene: Scene) -> None:
    scene.assess(fixed_release_pk=scene.releases["IP-100-4.2.0"])
    assert issue(scene).issued[0].notice.content["fixed_release"] == "IP-100-4.2.0"


def test_reissuing_is_idempotent_and_revises_only_what_changed(
    scene: Scene, clock: FrozenClock
) -> None:
    scene.assess()
    first = by_hospital(issue(scene).issued)
    first_informed = informed_at(scene)
    clock.advance(timedelta(days=3))

    again = issue(scene)
    assert again.issued == ()
    assert {v.notice.id for v in again.unchanged} == {v.notice.id for v in first.values()}
    assert notice_count(scene) == 2

    scene.set_version("BAY-2", "4.2.0")
    revised = issue(scene)
    assert [(v.hospital, v.notice.revision) for v in revised.issued] == [(B, 2)]
    assert [v.hospital for v in revised.unchanged] == [A]
    assert [d["serial"] for d in revised.issued[0].notice.content["devices"]] == ["BAY-1"]
    assert informed_at(scene) == first_informed

    scene.set_version("BAY-1", "4.2.0")
    cleared = issue(scene)
    assert [(v.hospital, v.notice.revision) for v in cleared.issued] == [(B, 3)]
    assert cleared.issued[0].notice.content["devices"] == []
    assert issue(scene).issued == ()
    assert [a for a, _ in actions(scene)].count("vulns.notice_issued") == 4


def test_nothing_is_issued_when_no_hospital_is_exposed(scene: Scene) -> None:
    for serial in ("A-1", "A-2", "A-3", "A-5", "BAY-1", "BAY-2"):
        scene.set_version(serial, "4.2.0")
    scene.set_version("A-6", None)
    scene.assess()
    done = issue(scene)
    assert (done.issued, done.unchanged) == ((), ())
    assert informed_at(scene) is None


def test_hospitals_list_and_read_only_their_own_notices(scene: Scene) -> None:
    scene.assess()
    issued = by_hospital(issue(scene).issued)
    a_id, b_id = issued[A].notice.id, issued[B].notice.id
    assert [v.notice.id for v in listed(scene, "biomed.a")] == [a_id]
    assert [v.notice.id for v in listed(scene, "admin.b")] == [b_id]
    assert {v.notice.id for v in listed(scene, "aud")} == {a_id, b_id}
    assert show(scene, "biomed.a", a_id).hospital == A
    with pytest.raises(NoticeNotFoundError):
        show(scene, "biomed.a", b_id)
    with pytest.raises(NoticeNotFoundError):
        show(scene, "biomed.a", b_id + 100)
    assert show(scene, "eng", b_id).issued_by == "eng"


def test_a_hospital_acknowledges_its_notice_once(scene: Scene, clock: FrozenClock) -> None:
    scene.assess()
    issued = by_hospital(issue(scene).issued)
    a_id, b_id = issued[A].notice.id, issued[B].notice.id
    with pytest.raises(NoticeNotFoundError):
        ack(scene, "biomed.a", b_id)
    with pytest.raises(VulnsPermissionError):
        ack(scene, "eng", a_id)
    done = ack(scene, "biomed.a", a_id)
    assert (done.acknowledged_by, done.notice.acknowledged_at) == ("biomed.a", scene.rt.clock.now())
    clock.advance(timedelta(hours=1))
    again = ack(scene, "admin.a", a_id)
    assert (again.acknowledged_by, again.notice.acknowledged_at) == (
        "biomed.a",
        done.notice.acknowledged_at,
    )
    state = {v.hospital: v.acknowledged_by for v in listed(scene, "eng")}
    assert state == {A: "biomed.a", B: None}
    assert actions(scene, "vulns.notice_acknowledged") == [
        ("vulns.notice_acknowledged", scene.world.hospital_a)
    ]


def test_a_superseded_revision_cannot_be_acknowledged(scene: Scene) -> None:
    scene.assess()
    old = by_hospital(issue(scene).issued)[B].notice.id
    scene.set_version("BAY-2", "4.2.0")
    new = issue(scene).issued[0].notice.id
    with pytest.raises(NoticeSupersededError):
        ack(scene, "biomed.b", old)
    views = {v.notice.id: v.current for v in listed(scene, "biomed.b")}
    assert views == {old: False, new: True}
    assert ack(scene, "biomed.b", new).acknowledged_by == "biomed.b"
