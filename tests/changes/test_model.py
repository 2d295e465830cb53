"""The change-request state machine and safety classes (pure)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.changes.model import (
    TERMINAL,
    TRANSITIONS,
    ChangeState,
    SafetyClass,
    TransitionNotAllowed,
    check_transition,
    evidence_required,
    highest_class,
)


def test_the_happy_path_is_the_62304_order() -> None:
    path = [
        ChangeState.DRAFT,
        ChangeState.IMPACT_ANALYSIS,
        ChangeState.ASSESSMENT,
        ChangeState.IMPLEMENTATION,
        ChangeState.VERIFICATION,
        ChangeState.APPROVAL,
        ChangeState.RELEASED,
    ]
    for current, following in itertools.pairwise(path):
        check_transition(current, following)


def test_no_skipping_and_no_way_out_of_a_final_state() -> None:
    with pytest.raises(TransitionNotAllowed, match="allowed: impact_analysis, withdrawn"):
        check_transition(ChangeState.DRAFT, ChangeState.IMPLEMENTATION)
    for final in TERMINAL:
        assert TRANSITIONS[final] == frozenset()
    with pytest.raises(TransitionNotAllowed, match="none"):
        check_transition(ChangeState.RELEASED, ChangeState.DRAFT)


def test_rework_and_rejection_where_they_belong() -> None:
    check_transition(ChangeState.VERIFICATION, ChangeState.IMPLEMENTATION)
    check_transition(ChangeState.ASSESSMENT, ChangeState.REJECTED)
    with pytest.raises(TransitionNotAllowed):
        check_transition(ChangeState.IMPLEMENTATION, ChangeState.REJECTED)


@given(st.lists(st.sampled_from(list(ChangeState)), max_size=30))
def test_any_walk_only_takes_listed_steps_and_ends_frozen(targets: list[ChangeState]) -> None:
    state = ChangeState.DRAFT
    for target in targets:
        if target in TRANSITIONS[state]:
            check_transition(state, target)
            state = target
        else:
            with pytest.raises(TransitionNotAllowed):
                check_transition(state, target)
    if state in TERMINAL:
        assert not TRANSITIONS[state]
    # released is only ever reached from approval
    assert all(
        (ChangeState.RELEASED in TRANSITIONS[s]) == (s is ChangeState.APPROVAL) for s in ChangeState
    )


def test_safety_class_of_a_change_is_its_strictest_item() -> None:
    assert highest_class([SafetyClass.A, SafetyClass.C, SafetyClass.B]) is SafetyClass.C
    assert highest_class([]) is None
    assert not evidence_required(SafetyClass.A).independent_approval
    assert evidence_required(SafetyClass.B).independent_approval
    assert "system" in evidence_required(SafetyClass.C).test_levels
