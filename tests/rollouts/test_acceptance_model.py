"""How a site stands towards a release: explicit decisions win, a site's policy beats its
hospital's, out-of-cycle consent counts only for critical campaigns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.rollouts.acceptance_model import (
    NO_STANCE,
    AutoApproval,
    Decision,
    SiteDecision,
    Source,
    Urgency,
    stance,
)

SITE, OTHER = 7, 8
NOW = datetime(2026, 3, 1, tzinfo=UTC)
ROUTINE, CRITICAL = Urgency.ROUTINE, Urgency.CRITICAL


def test_nothing_decided_and_no_policy_is_not_accepted() -> None:
    assert stance(SITE, ROUTINE, None, []) == NO_STANCE


def test_an_approval_without_confirmation_holds_production_devices() -> None:
    approved = SiteDecision(Decision.APPROVED, None, out_of_cycle_consent=False)
    result = stance(SITE, ROUTINE, approved, [])
    assert (result.accepted, result.production_confirmed, result.source) == (
        True,
        False,
        Source.DECISION,
    )


def test_a_confirmed_approval_lets_production_follow() -> None:
    confirmed = SiteDecision(Decision.APPROVED, NOW, out_of_cycle_consent=False)
    assert stance(SITE, ROUTINE, confirmed, []).production_confirmed


def test_a_decline_beats_an_auto_approval_policy() -> None:
    declined = SiteDecision(Decision.DECLINED, None, out_of_cycle_consent=False)
    policy = AutoApproval(None, ROUTINE, confirm_production=True, out_of_cycle=False)
    result = stance(SITE, ROUTINE, declined, [policy])
    assert not result.accepted
    assert not result.production_confirmed


def test_a_policy_applies_only_to_its_urgency() -> None:
    critical_only = AutoApproval(None, CRITICAL, confirm_production=False, out_of_cycle=True)
    assert stance(SITE, ROUTINE, None, [critical_only]) == NO_STANCE
    result = stance(SITE, CRITICAL, None, [critical_only])
    assert (result.accepted, result.out_of_cycle_consent, result.source) == (
        True,
        True,
        Source.POLICY,
    )


def test_a_sites_own_policy_beats_the_hospital_wide_one() -> None:
    hospital = AutoApproval(None, ROUTINE, confirm_production=True, out_of_cycle=False)
    own = AutoApproval(SITE, ROUTINE, confirm_production=False, out_of_cycle=False)
    assert not stance(SITE, ROUTINE, None, [hospital, own]).production_confirmed
    assert stance(OTHER, ROUTINE, None, [hospital, own]).production_confirmed


def test_another_sites_policy_does_not_apply() -> None:
    other = AutoApproval(OTHER, ROUTINE, confirm_production=True, out_of_cycle=False)
    assert stance(SITE, ROUTINE, None, [other]) == NO_STANCE


@pytest.mark.parametrize("decided", [True, False])
def test_out_of_cycle_consent_never_counts_for_routine_campaigns(decided: bool) -> None:
    decision = SiteDecision(Decision.APPROVED, NOW, out_of_cycle_consent=True)
    policy = AutoApproval(None, ROUTINE, confirm_production=True, out_of_cycle=True)
    result = stance(SITE, ROUTINE, decision if decided else None, [policy])
    assert result.accepted
    assert not result.out_of_cycle_consent


policies = st.lists(
    st.builds(
        AutoApproval,
        st.sampled_from([None, SITE, OTHER]),
        st.sampled_from(list(Urgency)),
        st.booleans(),
        st.booleans(),
    ),
    max_size=4,
)
decisions = st.none() | st.builds(
    SiteDecision, st.sampled_from(list(Decision)), st.sampled_from([None, NOW]), st.booleans()
)


@given(st.sampled_from(list(Urgency)), decisions, policies)
def test_nothing_is_confirmed_or_consented_without_acceptance(
    urgency: Urgency, decision: SiteDecision | None, rules: list[AutoApproval]
) -> None:
    result = stance(SITE, urgency, decision, rules)
    if not result.accepted:
        assert not result.production_confirmed
        assert not result.out_of_cycle_consent
    if decision is not None and decision.decision is Decision.DECLINED:
        assert not result.accepted
