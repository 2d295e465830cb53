"""Hospital acceptance on a real database: the inbox, decisions per site, policies, isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.rollouts import acceptance, acceptance_policies, acceptance_views
from medfleet.rollouts.acceptance_errors import (
    AcceptanceNotAllowedError,
    AcceptanceNotFoundError,
    AcceptanceStateError,
    InvalidAcceptanceError,
)
from medfleet.rollouts.acceptance_model import Source, Urgency
from tests.releases.test_release_support import (
    Env,
    approve,
    env,
    publish,
    qa_holds_model,
    ready_for_approval,
)

__all__ = ["env"]


def _devices(env: Env, site: int, org: int, count: int, test: int = 0, prefix: str = "") -> None:
    with transaction(env.rt.sessions) as session:
        for n in range(count):
            enrollment.register_device(
                session, env.rt.audit, env.world.admin, org_id=org, model="IP-100",
                hardware_revision="B", serial=f"{prefix}{site}-{n}", site_id=site,
                is_test_device=n < test,
            )  # fmt: skip


@pytest.fixture
def released(env: Env) -> Env:
    """Release IP-100 4.2.0 is released; hospital A has 3 devices (1 test), B has 2."""
    ready_for_approval(env)
    approve(env)
    qa_holds_model(env)
    publish(env)
    _devices(env, env.world.site_a, env.world.hospital_a, 3, test=1, prefix="A")
    _devices(env, env.world.site_b, env.world.hospital_b, 2, prefix="B")
    return env


def _audit_count(env: Env) -> int:
    with transaction(env.rt.sessions) as session:
        return session.scalar(select(func.count()).select_from(AuditEventRow)) or 0


def test_a_hospital_sees_the_release_with_its_notes_and_only_its_own_sites(released: Env) -> None:
    with transaction(released.rt.sessions) as session:
        pending = acceptance_views.pending_releases(session, released.world.biomed_a)
        assert [entry.release.version for entry in pending] == ["4.2.0"]
        document = pending[0].as_dict()
    assert document["notes"]["expected_downtime_minutes"] == 12
    assert document["notes"]["risk_summary"]
    assert [
        (s["site_id"], s["test_devices"], s["production_devices"]) for s in document["sites"]
    ] == [(released.world.site_a, 1, 2)]


def test_the_manufacturer_sees_every_sites_stance(released: Env) -> None:
    with transaction(released.rt.sessions) as session:
        entry = acceptance_views.release_status(session, released.world.qa, "IP-100", "4.2.0")
    assert {site.site_id for site in entry.sites} == {released.world.site_a, released.world.site_b}


def test_approve_then_confirm_production(released: Env) -> None:
    world = released.world
    with transaction(released.rt.sessions) as session:
        acceptance.decide(
            session, released.rt.audit, world.biomed_a, model="IP-100", version="4.2.0",
            site_id=world.site_a, approve=True, comment="Read the notes; ICU agrees.",
        )  # fmt: skip
    with transaction(released.rt.sessions) as session:
        stances = acceptance_views.site_stances(session, 1, Urgency.ROUTINE, [world.site_a])
        assert stances[world.site_a].accepted
        assert not stances[world.site_a].production_confirmed
        acceptance.confirm_production(
            session, released.rt.audit, world.biomed_a, model="IP-100", version="4.2.0",
            site_id=world.site_a,
        )  # fmt: skip
    with transaction(released.rt.sessions) as session:
        pending = acceptance_views.pending_releases(session, world.biomed_a)
        stances = acceptance_views.site_stances(session, 1, Urgency.ROUTINE, [world.site_a])
    assert pending == []  # every concerned site decided
    assert stances[world.site_a].production_confirmed


def test_confirming_production_before_approving_is_refused(released: Env) -> None:
    world = released.world
    with (
        pytest.raises(AcceptanceStateError, match="approve it first"),
        transaction(released.rt.sessions) as session,
    ):
        acceptance.confirm_production(
            session, released.rt.audit, world.biomed_a, model="IP-100", version="4.2.0",
            site_id=world.site_a,
        )  # fmt: skip


def test_a_new_decision_clears_the_confirmation(released: Env) -> None:
    world = released.world
    for approve_it in (True, False):
        with transaction(released.rt.sessions) as session:
            acceptance.decide(
                session, released.rt.audit, world.biomed_a, model="IP-100", version="4.2.0",
                site_id=world.site_a, approve=approve_it,
            )  # fmt: skip
            if approve_it:
                acceptance.confirm_production(
                    session, released.rt.audit, world.biomed_a, model="IP-100",
                    version="4.2.0", site_id=world.site_a,
                )  # fmt: skip
    with transaction(released.rt.sessions) as session:
        stance = acceptance_views.site_stances(session, 1, Urgency.ROUTINE, [world.site_a])
    assert not stance[world.site_a].accepted
    assert not stance[world.site_a].production_confirmed


def test_another_hospitals_site_is_not_found_and_nothing_is_recorded(released: Env) -> None:
    before = _audit_count(released)
    with (
        pytest.raises(AcceptanceNotFoundError),
        transaction(released.rt.sessions) as session,
    ):
        acceptance.decide(
            session, released.rt.audit, released.world.biomed_a, model="IP-100",
            version="4.2.0", site_id=released.world.site_b, approve=True,
        )  # fmt: skip
    assert _audit_count(released) == before


def test_manufacturer_staff_cannot_decide_for_a_hospital(released: Env) -> None:
    with (
        pytest.raises(AcceptanceNotFoundError),
        transaction(released.rt.sessions) as session,
    ):
        acceptance.decide(
            session, released.rt.audit, released.world.qa, model="IP-100", version="4.2.0",
            site_id=released.world.site_a, approve=True,
        )  # fmt: skip


def test_an_unreleased_version_cannot_be_decided(released: Env) -> None:
    with (
        pytest.raises(AcceptanceNotFoundError, match=r"no released release IP-100 9\.9\.9"),
        transaction(released.rt.sessions) as session,
    ):
        acceptance.decide(
            session, released.rt.audit, released.world.biomed_a, model="IP-100",
            version="9.9.9", site_id=released.world.site_a, approve=True,
        )  # fmt: skip


def test_consent_with_a_decline_is_refused(released: Env) -> None:
    with (
        pytest.raises(InvalidAcceptanceError, match="needs an approval"),
        transaction(released.rt.sessions) as session,
    ):
        acceptance.decide(
            session, released.rt.audit, released.world.biomed_a, model="IP-100",
            version="4.2.0", site_id=released.world.site_a, approve=False,
            out_of_cycle_consent=True,
        )  # fmt: skip


def test_a_hospital_wide_policy_approves_for_its_urgency_only(released: Env) -> None:
    world = released.world
    with transaction(released.rt.sessions) as session:
        acceptance_policies.set_policy(
            session, released.rt.audit, world.admin_b, site_id=None, urgency=Urgency.CRITICAL,
            confirm_production=True, out_of_cycle=True,
        )  # fmt: skip
    with transaction(released.rt.sessions) as session:
        critical = acceptance_views.site_stances(session, 1, Urgency.CRITICAL, [world.site_b])
        routine = acceptance_views.site_stances(session, 1, Urgency.ROUTINE, [world.site_b])
        a_sees = acceptance_policies.list_policies(session, world.admin_a)
    assert critical[world.site_b].source is Source.POLICY
    assert critical[world.site_b].out_of_cycle_consent
    assert not routine[world.site_b].accepted
    assert a_sees == []


def test_policy_rules(released: Env) -> None:
    world = released.world
    with (
        pytest.raises(InvalidAcceptanceError, match="only critical"),
        transaction(released.rt.sessions) as session,
    ):
        acceptance_policies.set_policy(
            session, released.rt.audit, world.admin_a, site_id=world.site_a,
            urgency=Urgency.ROUTINE, out_of_cycle=True,
        )  # fmt: skip
    with (
        pytest.raises(AcceptanceNotAllowedError),
        transaction(released.rt.sessions) as session,
    ):
        acceptance_policies.set_policy(
            session, released.rt.audit, world.qa, site_id=None, urgency=Urgency.ROUTINE
        )
    with transaction(released.rt.sessions) as session:
        policy = acceptance_policies.set_policy(
            session, released.rt.audit, world.admin_b, site_id=world.site_b,
            urgency=Urgency.ROUTINE,
        )  # fmt: skip
        policy_id = policy.id
    with (
        pytest.raises(AcceptanceNotFoundError),
        transaction(released.rt.sessions) as session,
    ):
        acceptance_policies.remove_policy(session, released.rt.audit, world.admin_a, policy_id)
    with transaction(released.rt.sessions) as session:
        acceptance_policies.remove_policy(session, released.rt.audit, world.admin_b, policy_id)
        assert acceptance_policies.list_policies(session, world.admin_b) == []
