"""The pure rules of release records: the state machine (hypothesis) and the field checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from medfleet.releases.errors import InvalidReleaseError, ReleaseStateError
from medfleet.releases.model import (
    TRANSITIONS,
    ReleaseAction,
    ReleaseNotes,
    ReleaseState,
    check_editable,
    check_filename,
    check_numbers,
    check_revisions,
    check_sbom_format,
    check_version,
    highest_class,
    next_state,
    normalise_safety_class,
)

S, A = ReleaseState, ReleaseAction
# The lifecycle as the issue states it, written out independently of TRANSITIONS.
EXPECTED = {
    (S.DRAFT, A.VERIFY): S.VERIFIED,
    (S.VERIFIED, A.REOPEN): S.DRAFT,
    (S.VERIFIED, A.APPROVE): S.APPROVED,
    (S.APPROVED, A.RELEASE): S.RELEASED,
    (S.RELEASED, A.WITHDRAW): S.WITHDRAWN,
    (S.APPROVED, A.WITHDRAW): S.WITHDRAWN,
    (S.VERIFIED, A.WITHDRAW): S.WITHDRAWN,
}


def test_transitions_are_exactly_the_lifecycle() -> None:
    assert TRANSITIONS == EXPECTED


@given(st.sampled_from(list(S)), st.sampled_from(list(A)))
def test_every_pair_is_allowed_or_refused_as_the_lifecycle_says(
    state: ReleaseState, action: ReleaseAction
) -> None:
    if (state, action) in EXPECTED:
        assert next_state(state, action) is EXPECTED[state, action]
    else:
        with pytest.raises(ReleaseStateError, match=f"cannot {action.value}"):
            next_state(state, action)


class ReleaseLifecycle(RuleBasedStateMachine):
    """Random action sequences: history-based invariants that hold for every path."""

    def __init__(self) -> None:
        super().__init__()
        self.state = ReleaseState.DRAFT
        self.history: list[ReleaseState] = [self.state]

    @rule(action=st.sampled_from(list(A)))
    def act(self, action: ReleaseAction) -> None:
        try:
            after = next_state(self.state, action)
        except ReleaseStateError:
            assert (self.state, action) not in EXPECTED
            return
        self.state = after
        self.history.append(after)

    @invariant()
    def released_only_after_approval_after_verification(self) -> None:
        for before, after in zip(self.history, self.history[1:], strict=False):
            if after is S.RELEASED:
                assert before is S.APPROVED
            if after is S.APPROVED:
                assert before is S.VERIFIED
            if after is S.VERIFIED:
                assert before is S.DRAFT

    @invariant()
    def withdrawn_is_final(self) -> None:
        if S.WITHDRAWN in self.history:
            assert self.history[-1] is S.WITHDRAWN
            assert self.history.count(S.WITHDRAWN) == 1

    @invariant()
    def only_drafts_are_editable(self) -> None:
        if self.state is S.DRAFT:
            check_editable(self.state)
        else:
            with pytest.raises(ReleaseStateError):
                check_editable(self.state)


TestReleaseLifecycle = ReleaseLifecycle.TestCase


@pytest.mark.parametrize(
    ("version", "ok"),
    [("4.2.0", True), ("4.2.0-rc.1+b7", True), ("", False), ("../x", False), ("4 2", False)],
)
def test_version_strings(version: str, ok: bool) -> None:
    if ok:
        assert check_version("IP-100", version) == version
    else:
        with pytest.raises(InvalidReleaseError, match="version"):
            check_version("IP-100", version)


def test_model_and_version_must_fit_a_release_id() -> None:
    with pytest.raises(InvalidReleaseError, match="together"):
        check_version("M" * 40, "1." * 15 + "0")


def test_numbers() -> None:
    check_numbers(420, 400)
    check_numbers(420, None)
    with pytest.raises(InvalidReleaseError, match="at least 1"):
        check_numbers(0, None)
    with pytest.raises(InvalidReleaseError, match="min_from_version_number 420"):
        check_numbers(420, 420)


def test_revisions_files_and_sbom_formats() -> None:
    assert check_revisions([" B", "C", "B"]) == ["B", "C"]
    with pytest.raises(InvalidReleaseError, match="hardware revision"):
        check_revisions(["B/1"])
    assert check_filename("ip100-4.2.0.img") == "ip100-4.2.0.img"
    with pytest.raises(InvalidReleaseError, match="file name"):
        check_filename("../../etc/passwd")
    assert check_sbom_format("cyclonedx-json") == "cyclonedx-json"
    with pytest.raises(InvalidReleaseError, match="known: cyclonedx-json"):
        check_sbom_format("excel")


def test_notes_name_every_missing_part_and_bound_downtime() -> None:
    assert len(ReleaseNotes().missing()) == 4
    assert ReleaseNotes("why", "risk", 0, "compat").missing() == []
    assert ReleaseNotes("why", " ", 5, "compat").missing() == ["release notes: risk summary"]
    with pytest.raises(InvalidReleaseError, match="downtime"):
        ReleaseNotes(downtime_minutes=-1).checked()


@given(st.lists(st.sampled_from(["A", "B", "C", None])))
def test_highest_class(classes: list[str | None]) -> None:
    known = [c for c in classes if c]
    assert highest_class(classes) == (max(known) if known else None)


def test_safety_class_spellings() -> None:
    assert normalise_safety_class("b") == "B"
    assert normalise_safety_class("class_c") == "C"
    assert normalise_safety_class(None) is None
    assert normalise_safety_class("D") is None
