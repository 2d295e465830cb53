"""Progress decisions (hawkBit group thresholds, AWS abort criteria) and the exponential
rate; hypothesis checks that no decision contradicts a threshold."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from medfleet.rollouts.errors import InvalidProgressError
from medfleet.rollouts.policy import ExponentialRate, FailureType, Policy
from medfleet.rollouts.policy_parse import parse_policy
from medfleet.rollouts.progress import (
    RATE_CEILING,
    Abort,
    Advance,
    Complete,
    Hold,
    Pause,
    PauseReason,
    PhaseStats,
    allowed_now,
    current_rate,
    evaluate,
    evaluate_campaign,
)

POLICY = parse_policy(
    {
        "phases": [
            {"percent": 10, "success_threshold": 90, "error_threshold": 5},
            {"percent": 90, "success_threshold": 100, "error_threshold": 10},
        ],
        "canary": {"success_threshold": 100, "error_threshold": 0},
        "abort_criteria": [
            {"failure_type": "rolled_back", "threshold_percent": 20, "min_finished": 50},
            {"failure_type": "any", "threshold_percent": 50, "min_finished": 10},
        ],
    }
)


def stats(
    total: int,
    succeeded: int = 0,
    failed: int = 0,
    *,
    rolled_back: int = 0,
    timed_out: int = 0,
    running: int = 0,
) -> PhaseStats:
    finished = succeeded + failed + rolled_back + timed_out
    return PhaseStats(total, finished + running, succeeded, failed, rolled_back, timed_out)


def test_phase_stats_derive_their_counts() -> None:
    s = stats(100, 50, 3, rolled_back=2, timed_out=1, running=10)
    assert (s.finished, s.failures, s.in_progress, s.waiting) == (56, 6, 10, 34)
    assert [s.failures_of(t) for t in FailureType] == [3, 2, 1, 6]
    assert PhaseStats.combined([s, stats(10, 10)]) == stats(
        110, 60, 3, rolled_back=2, timed_out=1, running=10
    )


@pytest.mark.parametrize(
    "counts",
    [(-1, 0, 0, 0, 0, 0), (10, 5, 6, 0, 0, 0), (10, 11, 0, 0, 0, 0), (10, 2, 1, 1, 1, 0)],
)
def test_impossible_counts_are_refused(counts: tuple[int, ...]) -> None:
    with pytest.raises(InvalidProgressError):
        PhaseStats(*counts)


def test_the_success_threshold_advances() -> None:
    assert isinstance(evaluate(POLICY, 1, stats(100, 89, running=11), stats(200, 89)), Hold)
    decision = evaluate(POLICY, 1, stats(100, 90, running=10), stats(200, 90))
    assert isinstance(decision, Advance)
    assert decision.next_phase == 2
    assert "90 of 100 devices succeeded (90 %)" in decision.message


def test_the_error_threshold_pauses_when_exceeded_not_when_reached() -> None:
    at = evaluate(POLICY, 1, stats(100, 40, 5, running=55), stats(200, 40, 5))
    assert isinstance(at, Hold)
    above = evaluate(POLICY, 1, stats(100, 40, 4, timed_out=2), stats(200, 40, 6))
    assert isinstance(above, Pause)
    assert above.reason is PauseReason.ERROR_THRESHOLD
    assert above.phase == 1
    assert "6 of 100 devices failed (6 %), above the error threshold of 5 %" in above.message


def test_a_canary_failure_pauses_by_default() -> None:
    decision = evaluate(POLICY, 0, stats(5, 4, 1), stats(500, 4, 1))
    assert isinstance(decision, Pause)


def test_acknowledged_failures_do_not_pause_again_but_new_ones_do() -> None:
    phase = stats(100, 40, 7, running=20)
    campaign = stats(300, 40, 7)
    assert isinstance(evaluate(POLICY, 1, phase, campaign, acknowledged_failures=7), Hold)
    more = stats(100, 40, 8, running=20)
    assert isinstance(evaluate(POLICY, 1, more, stats(300, 40, 8), acknowledged_failures=7), Pause)


def test_a_finished_phase_below_its_success_threshold_pauses_until_acknowledged() -> None:
    strict = parse_policy(
        {
            "phases": [
                {"percent": 50, "success_threshold": 100, "error_threshold": 10},
                {"percent": 50},
            ]
        }
    )
    assert isinstance(evaluate(strict, 1, stats(20, 18, 1), stats(40, 18, 1)), Hold)
    done = stats(20, 19, 1)  # 5 % failed: below the error threshold, but not 100 % success
    paused = evaluate(strict, 1, done, stats(40, 19, 1))
    assert isinstance(paused, Pause)
    assert paused.reason is PauseReason.SUCCESS_THRESHOLD_NOT_REACHED
    assert "finished with 95 % succeeded" in paused.message
    resumed = evaluate(strict, 1, done, stats(40, 19, 1), acknowledged_failures=1)
    assert isinstance(resumed, Advance)
    assert "failures were acknowledged" in resumed.message


def test_the_last_phase_completes_below_its_success_threshold() -> None:
    decision = evaluate(POLICY, 2, stats(100, 96, 4), stats(110, 106, 4))
    assert isinstance(decision, Complete)


def test_abort_criteria_wait_for_min_finished() -> None:
    campaign = stats(1000, 5, 4, running=100)  # 44 % failed, only 9 finished
    assert not isinstance(evaluate(POLICY, 2, stats(900), campaign), Abort)
    campaign = stats(1000, 5, 5, running=100)  # 50 % of 10 finished
    decision = evaluate(POLICY, 2, stats(900), campaign)
    assert isinstance(decision, Abort)
    assert decision.criterion.failure_type is FailureType.ANY
    assert decision.percent == 50
    assert "5 of 10 finished devices (50 %) ended any" in decision.message


def test_abort_counts_its_failure_type_only() -> None:
    campaign = stats(1000, 40, 0, rolled_back=10, timed_out=30)  # 80 finished
    decision = evaluate(POLICY, 2, stats(900), campaign)
    assert isinstance(decision, Abort)  # any: 40 of 80 = 50 %
    assert decision.criterion.failure_type is FailureType.ANY
    rolled = stats(1000, 60, 0, rolled_back=15, timed_out=0)  # rolled back 15/75 = 20 %
    decision = evaluate(POLICY, 2, stats(900), rolled)
    assert isinstance(decision, Abort)
    assert decision.criterion.failure_type is FailureType.ROLLED_BACK


def test_abort_beats_pause() -> None:
    campaign = stats(100, 0, 10)
    decision = evaluate(POLICY, 1, stats(10, 0, 10), campaign)
    assert isinstance(decision, Abort)


def test_complete_only_when_every_device_finished() -> None:
    assert isinstance(evaluate(POLICY, 2, stats(90, 90), stats(100, 99, running=1)), Hold)
    assert isinstance(evaluate(POLICY, 2, stats(90, 90), stats(100, 100)), Complete)


def test_empty_phases_advance_and_an_empty_campaign_completes() -> None:
    assert evaluate(POLICY, 0, stats(0), stats(10)) == Advance(
        1, "phase 0: 0 of 0 devices succeeded (0 %), reaching the success threshold of 100 %"
    )
    assert isinstance(evaluate(POLICY, 2, stats(0), stats(0)), Complete)


def test_campaign_counts_must_include_the_phase() -> None:
    with pytest.raises(InvalidProgressError):
        evaluate(POLICY, 1, stats(10), stats(5))
    with pytest.raises(IndexError):
        evaluate(POLICY, 3, stats(0), stats(0))


def test_evaluate_campaign_pauses_for_stragglers_of_earlier_phases() -> None:
    phases = [stats(5, 5), stats(100, 90, 6, running=4), stats(900, 100, running=50)]
    decision = evaluate_campaign(POLICY, 2, phases)
    assert isinstance(decision, Pause)
    assert decision.phase == 1
    assert isinstance(evaluate_campaign(POLICY, 2, phases, acknowledged=[0, 6]), Hold)
    with pytest.raises(InvalidProgressError, match="each of the 3 phases"):
        evaluate_campaign(POLICY, 1, phases[:2])


# --- properties ---------------------------------------------------------------------------


@st.composite
def phase_counts(draw: st.DrawFn, total: int | None = None) -> PhaseStats:
    size = draw(st.integers(0, 200)) if total is None else total
    parts: list[int] = []
    for _ in range(5):  # succeeded, failed, rolled back, timed out, running
        parts.append(draw(st.integers(0, size - sum(parts))))
    order = draw(st.permutations(range(5)))  # no part is always drawn first
    succeeded, failed, rolled_back, timed_out, _running = (parts[i] for i in order)
    return PhaseStats(size, sum(parts), succeeded, failed, rolled_back, timed_out)


thresholds = st.integers(0, 10_000).map(lambda bp: bp / 100)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    count = draw(st.integers(1, 4))
    cuts = sorted(draw(st.sets(st.integers(1, 99), min_size=count - 1, max_size=count - 1)))
    phases = [
        {
            "cumulative_percent": bound,
            "success_threshold": draw(thresholds),
            "error_threshold": draw(thresholds),
        }
        for bound in [*cuts, 100]
    ]
    criteria = [
        {
            "failure_type": kind.value,
            "threshold_percent": draw(st.integers(1, 10_000)) / 100,
            "min_finished": draw(st.integers(1, 300)),
        }
        for kind in draw(st.lists(st.sampled_from(list(FailureType)), unique=True, max_size=2))
    ]
    return parse_policy(
        {
            "phases": phases,
            "abort_criteria": criteria,
            "canary": {"success_threshold": draw(thresholds), "error_threshold": draw(thresholds)},
        }
    )


@settings(deadline=None)
@given(policies(), st.data())
def test_no_decision_contradicts_a_threshold(policy: Policy, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, policy.phase_count - 1))
    phase = data.draw(phase_counts())
    others = data.draw(phase_counts())
    campaign = phase + others
    acknowledged = data.draw(st.integers(0, phase.failures + 2))
    decision = evaluate(policy, index, phase, campaign, acknowledged_failures=acknowledged)
    error_share = 100 * phase.failures / phase.total if phase.total else 0.0
    error_exceeded = (
        error_share > policy.phase(index).error_threshold + 1e-9 and phase.failures > acknowledged
    )
    if isinstance(decision, Abort):
        assert campaign.finished >= decision.criterion.min_finished
        count = campaign.failures_of(decision.criterion.failure_type)
        assert 100 * count / campaign.finished >= decision.criterion.threshold_percent - 1e-9
        return
    for criterion in policy.abort_criteria:  # not aborted: no criterion was met
        if campaign.finished >= criterion.min_finished:
            count = campaign.failures_of(criterion.failure_type)
            assert 100 * count / campaign.finished < criterion.threshold_percent + 1e-9
    if isinstance(decision, Advance):
        assert not error_exceeded
        assert not policy.is_last(index)
        assert decision.next_phase == index + 1
        reached = (
            phase.total == 0
            or 100 * phase.succeeded / phase.total >= policy.phase(index).success_threshold - 1e-9
        )
        assert reached or (phase.finished == phase.total and acknowledged >= phase.failures)
    if isinstance(decision, Complete):
        assert policy.is_last(index)
        assert campaign.finished == campaign.total
        assert not error_exceeded
    if isinstance(decision, Pause) and decision.reason is PauseReason.ERROR_THRESHOLD:
        assert error_exceeded
    if isinstance(decision, Hold):
        assert not error_exceeded


@settings(deadline=None)
@given(policies(), st.data())
def test_more_successes_never_hold_back_an_advance(policy: Policy, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, policy.phase_count - 2)) if policy.phase_count > 1 else 0
    assume(not policy.is_last(index))
    phase = data.draw(phase_counts())
    assume(phase.waiting > 0)
    better = PhaseStats(
        phase.total,
        phase.assigned + 1,
        phase.succeeded + 1,
        phase.failed,
        phase.rolled_back,
        phase.timed_out,
    )
    if isinstance(evaluate(policy, index, phase, phase), Advance):
        # One more finished device may reach an abort criterion's minimum, nothing else.
        assert isinstance(evaluate(policy, index, better, better), Advance | Abort)


# --- exponential rate ---------------------------------------------------------------------


def test_the_rate_grows_per_notified_batch_and_is_capped() -> None:
    rate = ExponentialRate(10, 2.0, notify_threshold=100, maximum_per_minute=50)
    assert [current_rate(rate, n, 0) for n in (0, 99, 100, 250, 300, 10**9)] == [
        10,
        10,
        20,
        40,
        50,
        50,
    ]


def test_the_rate_can_follow_successes() -> None:
    rate = ExponentialRate(5, 1.5, success_threshold=10)
    assert [current_rate(rate, 10**6, s) for s in (0, 10, 20, 30)] == [5, 7, 11, 16]
    assert current_rate(rate, 0, 10**9) == RATE_CEILING


def test_a_constant_rate() -> None:
    rate = ExponentialRate(7)
    assert current_rate(rate, 10**6, 10**6) == 7


def test_allowed_now_counts_the_last_minute() -> None:
    rate = ExponentialRate(10, 2.0, notify_threshold=100)
    assert allowed_now(None, waiting=500, notified=0, succeeded=0, notified_last_minute=99) == 500
    assert allowed_now(rate, waiting=500, notified=0, succeeded=0, notified_last_minute=0) == 10
    assert allowed_now(rate, waiting=500, notified=120, succeeded=0, notified_last_minute=15) == 5
    assert allowed_now(rate, waiting=3, notified=120, succeeded=0, notified_last_minute=0) == 3
    assert allowed_now(rate, waiting=50, notified=50, succeeded=0, notified_last_minute=30) == 0
    assert allowed_now(rate, waiting=0, notified=0, succeeded=0, notified_last_minute=0) == 0


rates = st.builds(
    ExponentialRate,
    base_per_minute=st.integers(1, 1000),
    increment_factor=st.integers(10, 50).map(lambda f: f / 10),
    notify_threshold=st.integers(1, 1000),
    maximum_per_minute=st.none() | st.integers(1000, 10**6),
)


@settings(deadline=None)
@given(
    rates,
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(0, 10**4),
    st.integers(0, 10**5),
)
def test_allowed_now_stays_within_the_rate(
    rate: ExponentialRate, notified: int, more: int, last_minute: int, waiting: int
) -> None:
    now = current_rate(rate, notified, 0)
    assert rate.base_per_minute <= now <= (rate.maximum_per_minute or RATE_CEILING)
    assert current_rate(rate, notified + more, 0) >= now  # never slows down
    allowed = allowed_now(
        rate, waiting=waiting, notified=notified, succeeded=0, notified_last_minute=last_minute
    )
    assert 0 <= allowed <= waiting
    assert allowed + last_minute <= max(now, last_minute)
