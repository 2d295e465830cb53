"""Campaign states and transitions: draft → scheduled → running ⇄ paused → completed, abort
from every non-final state, anything else refused with what is allowed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from medfleet.errors import Conflict, category_of
from medfleet.rollouts.errors import CampaignStateError
from medfleet.rollouts.model import (
    ACTIVE_STATES,
    EDITABLE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    CampaignAction,
    CampaignState,
    allowed_actions,
    check_editable,
    next_state,
)

S, A = CampaignState, CampaignAction

# The diagram, written out independently of TRANSITIONS.
EXPECTED = {
    S.DRAFT: {A.SCHEDULE: S.SCHEDULED, A.ABORT: S.ABORTED},
    S.SCHEDULED: {A.START: S.RUNNING, A.ABORT: S.ABORTED},
    S.RUNNING: {A.PAUSE: S.PAUSED, A.COMPLETE: S.COMPLETED, A.ABORT: S.ABORTED},
    S.PAUSED: {A.RESUME: S.RUNNING, A.ABORT: S.ABORTED},
    S.COMPLETED: {},
    S.ABORTED: {},
}


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_pair_follows_the_diagram(state: CampaignState, action: CampaignAction) -> None:
    expected = EXPECTED[state].get(action)
    if expected is None:
        with pytest.raises(CampaignStateError):
            next_state(state, action)
    else:
        assert next_state(state, action) is expected


def test_the_table_has_nothing_beyond_the_diagram() -> None:
    flattened = {(s, a): t for s, moves in EXPECTED.items() for a, t in moves.items()}
    assert flattened == TRANSITIONS


def test_a_refusal_names_the_allowed_actions_and_is_a_conflict() -> None:
    with pytest.raises(CampaignStateError) as caught:
        next_state(S.PAUSED, A.PAUSE)
    assert str(caught.value) == "cannot pause a paused campaign; allowed: resume, abort"
    assert category_of(caught.value) is Conflict


def test_a_final_state_says_so() -> None:
    with pytest.raises(CampaignStateError, match="completed campaign; it is final"):
        next_state(S.COMPLETED, A.ABORT)
    assert allowed_actions(S.ABORTED) == []


def test_abort_is_allowed_from_every_state_that_is_not_final() -> None:
    for state in S:
        assert (A.ABORT in allowed_actions(state)) is (state not in TERMINAL_STATES)


def test_state_sets() -> None:
    assert {S.SCHEDULED, S.RUNNING, S.PAUSED} == ACTIVE_STATES
    assert {S.DRAFT} == EDITABLE_STATES
    check_editable(S.DRAFT)
    for state in set(S) - {S.DRAFT}:
        with pytest.raises(CampaignStateError, match=f"a {state.value} campaign cannot"):
            check_editable(state)


@settings(deadline=None)
@given(st.lists(st.sampled_from(list(A)), max_size=30))
def test_completed_is_only_reached_through_running(actions: list[CampaignAction]) -> None:
    state, seen = S.DRAFT, [S.DRAFT]
    for action in actions:
        try:
            state = next_state(state, action)
        except CampaignStateError:
            continue
        seen.append(state)
    if S.COMPLETED in seen:
        index = seen.index(S.COMPLETED)
        assert seen[index - 1] is S.RUNNING
        assert S.SCHEDULED in seen[:index]


class CampaignMachine(RuleBasedStateMachine):
    """Random action sequences: a refused action changes nothing, final states stay final."""

    def __init__(self) -> None:
        super().__init__()
        self.state = S.DRAFT
        self.finished = False

    @rule(action=st.sampled_from(list(A)))
    def act(self, action: CampaignAction) -> None:
        before = self.state
        expected = EXPECTED[before].get(action)
        try:
            self.state = next_state(before, action)
        except CampaignStateError:
            assert expected is None
            assert self.state is before
            return
        assert self.state is expected
        assert not self.finished, "a final state was left"
        self.finished = self.state in TERMINAL_STATES

    @invariant()
    def final_means_no_actions(self) -> None:
        assert (allowed_actions(self.state) == []) is (self.state in TERMINAL_STATES)


TestCampaignMachine = CampaignMachine.TestCase
TestCampaignMachine.settings = settings(deadline=None)
