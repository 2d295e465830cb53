"""Patch-deadline arithmetic (pure): FDA's 30/60 days for uncontrolled risk, the routine cycle
for controlled risk, and how a deadline stands at any instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.vulns.deadlines import (
    DAY,
    DeadlineKind,
    DeadlineState,
    PatchTerms,
    Risk,
    compute_deadlines,
    deadline_status,
    parse_risk,
    patch_terms,
)
from medfleet.vulns.errors import InvalidAssessmentError

AWARE = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
FIX = DeadlineKind.FIX

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
offsets = st.timedeltas(min_value=-timedelta(days=400), max_value=timedelta(days=400))


@st.composite
def terms(draw: st.DrawFn) -> PatchTerms:
    fix = draw(st.integers(1, 60))
    return patch_terms(draw(st.integers(1, 730)), draw(st.integers(1, min(fix, 30))), fix)


def test_uncontrolled_risk_has_fdas_30_and_60_days() -> None:
    deadlines = compute_deadlines(Risk.UNCONTROLLED, AWARE, PatchTerms())
    assert deadlines.inform_due_at == datetime(2026, 2, 14, 9, 0, tzinfo=UTC)
    assert deadlines.fix_due_at == datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def test_controlled_risk_is_fixed_within_one_routine_cycle_and_needs_no_notice() -> None:
    deadlines = compute_deadlines(Risk.CONTROLLED, AWARE, patch_terms(120))
    assert deadlines.inform_due_at is None
    assert deadlines.fix_due_at == AWARE + timedelta(days=120)
    assert compute_deadlines(Risk.CONTROLLED, AWARE, PatchTerms()).fix_due_at == AWARE + 90 * DAY


def test_a_naive_awareness_time_is_refused() -> None:
    with pytest.raises(InvalidAssessmentError, match="time zone"):
        compute_deadlines(Risk.UNCONTROLLED, AWARE.replace(tzinfo=None), PatchTerms())


@pytest.mark.parametrize("text", ["Uncontrolled", " controlled "])
def test_risk_names(text: str) -> None:
    assert parse_risk(text).value == text.strip().lower()


def test_an_unknown_risk_is_refused() -> None:
    with pytest.raises(InvalidAssessmentError, match="controlled, uncontrolled"):
        parse_risk("acceptable")


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ((0, 30, 60), "routine cycle"),
        ((731, 30, 60), "routine cycle"),
        ((90, 31, 60), "inform deadline .* 1 to 30"),
        ((90, 30, 61), "fix deadline .* 1 to 60"),
        ((90, 0, 60), "inform deadline"),
        ((90, 30, 20), "no later than the fix"),
    ],
)
def test_patch_terms_never_looser_than_fda(days: tuple[int, int, int], message: str) -> None:
    with pytest.raises(InvalidAssessmentError, match=message):
        patch_terms(*days)


def test_statuses_at_the_edges() -> None:
    due = AWARE + 60 * DAY
    assert deadline_status(FIX, due, None, due - 2 * DAY).days_left == 2
    at_due = deadline_status(FIX, due, None, due)
    assert (at_due.state, at_due.days_left) == (DeadlineState.PENDING, 0)
    an_hour_late = deadline_status(FIX, due, None, due + timedelta(hours=1))
    assert (an_hour_late.state, an_hour_late.days_overdue) == (DeadlineState.OVERDUE, 1)
    assert deadline_status(FIX, due, None, due + 3 * DAY).days_overdue == 3
    on_time = deadline_status(FIX, due, due - DAY, due + 5 * DAY)
    assert (on_time.state, on_time.met_at, on_time.late) == (DeadlineState.MET, due - DAY, False)
    late = deadline_status(FIX, due, due + DAY, due + 5 * DAY)
    assert (late.state, late.late) == (DeadlineState.MET, True)
    # done later than the instant asked about: not met yet at that instant
    assert deadline_status(FIX, due, due + DAY, due + timedelta(hours=2)).state == "overdue"


def test_status_document() -> None:
    status = deadline_status(DeadlineKind.INFORM, AWARE + 30 * DAY, None, AWARE + 31 * DAY)
    assert status.as_dict() == {
        "kind": "inform",
        "due_at": "2026-02-14T09:00:00+00:00",
        "state": "overdue",
        "met_at": None,
        "late": False,
        "days_left": None,
        "days_overdue": 1,
    }


@given(risk=st.sampled_from(Risk), aware=moments, policy=terms())
def test_deadlines_fall_after_awareness_and_inform_before_fix(
    risk: Risk, aware: datetime, policy: PatchTerms
) -> None:
    deadlines = compute_deadlines(risk, aware, policy)
    assert deadlines.fix_due_at > aware
    if risk is Risk.UNCONTROLLED:
        assert deadlines.inform_due_at is not None
        assert aware < deadlines.inform_due_at <= deadlines.fix_due_at
        assert deadlines.fix_due_at - aware <= 60 * DAY
    else:
        assert deadlines.inform_due_at is None
        assert deadlines.fix_due_at - aware == policy.routine_cycle_days * DAY


@given(risk=st.sampled_from(Risk), aware=moments, earlier=offsets, policy=terms())
def test_earlier_awareness_never_moves_a_deadline_later(
    risk: Risk, aware: datetime, earlier: timedelta, policy: PatchTerms
) -> None:
    before = compute_deadlines(risk, aware, policy)
    after = compute_deadlines(risk, aware - abs(earlier), policy)
    assert after.fix_due_at <= before.fix_due_at
    if before.inform_due_at is not None:
        assert after.inform_due_at is not None
        assert after.inform_due_at <= before.inform_due_at


@given(
    due=moments,
    now_offset=offsets,
    done_offset=st.none() | offsets,
)
def test_overdue_exactly_when_past_and_not_done(
    due: datetime, now_offset: timedelta, done_offset: timedelta | None
) -> None:
    now = due + now_offset
    done = None if done_offset is None else due + done_offset
    status = deadline_status(FIX, due, done, now)
    done_by_now = done is not None and done <= now
    assert (status.state is DeadlineState.MET) == done_by_now
    assert (status.state is DeadlineState.OVERDUE) == (not done_by_now and now > due)
    if status.state is DeadlineState.MET:
        assert status.met_at == done
        assert status.late == (done is not None and done > due)
    elif status.state is DeadlineState.PENDING:
        assert status.days_left is not None
        assert now + status.days_left * DAY <= due < now + (status.days_left + 1) * DAY
    else:
        assert status.days_overdue is not None
        assert status.days_overdue >= 1
        assert due + (status.days_overdue - 1) * DAY < now <= due + status.days_overdue * DAY
