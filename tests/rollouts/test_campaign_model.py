"""The pure rules of running campaigns: counts per phase, settling decisions, held sites,
statuses of uninstructed devices, time-outs, keys and routing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from medfleet.rollouts.campaign_model import (
    OUT_OF_CYCLE_TIMEOUT,
    RESULT_GRACE,
    DeviceStatus,
    Router,
    acknowledge,
    campaign_key,
    held_sites,
    is_timed_out,
    parse_key,
    phase_stats,
    settle,
    unassigned_status,
)
from medfleet.rollouts.compat import Ineligible, IneligibleReason, ReleaseInfo, Step
from medfleet.rollouts.model import CampaignKind
from medfleet.rollouts.progress import Advance, Complete, Hold, PhaseStats

S = DeviceStatus
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def counts(*entries: tuple[int, DeviceStatus, int]) -> dict[tuple[int, str], int]:
    return {(phase, status.value): n for phase, status, n in entries}


def test_phase_stats_count_who_takes_part() -> None:
    stats = phase_stats(
        counts(
            (0, S.SUCCEEDED, 2),
            (1, S.WAITING, 3),
            (1, S.HELD, 1),
            (1, S.AWAITING_ACCEPTANCE, 4),
            (1, S.ASSIGNED, 2),
            (1, S.FAILED, 1),
            (1, S.ROLLED_BACK, 1),
            (1, S.TIMED_OUT, 1),
            (1, S.CANCELLED, 5),
            (7, S.WAITING, 9),  # a phase the policy does not have: ignored
        ),
        3,
    )
    assert stats[0] == PhaseStats(total=2, assigned=2, succeeded=2)
    assert stats[1] == PhaseStats(
        total=9, assigned=5, succeeded=0, failed=1, rolled_back=1, timed_out=1
    )
    assert stats[2] == PhaseStats(0)
    assert acknowledge(stats, 1) == [0, 3, 0]


@given(st.dictionaries(st.tuples(st.integers(0, 3), st.sampled_from(DeviceStatus)),
                       st.integers(0, 50)))  # fmt: skip
def test_phase_stats_are_always_consistent(raw: dict[tuple[int, DeviceStatus], int]) -> None:
    table = {(phase, status.value): n for (phase, status), n in raw.items()}
    stats = phase_stats(table, 4)  # PhaseStats refuses inconsistent counts itself
    assert sum(s.total for s in stats) == sum(
        n for (_p, status), n in table.items() if status not in ("awaiting_acceptance", "cancelled")
    )


def test_settle_holds_an_empty_phase_whose_devices_await_acceptance() -> None:
    advance = Advance(1, "phase 0 passed")
    waiting = counts((0, S.AWAITING_ACCEPTANCE, 2), (1, S.WAITING, 5))
    assert isinstance(settle(advance, current_phase=0, counts=waiting), Hold)
    nobody = counts((1, S.WAITING, 5))  # no test devices at all: nothing to wait for
    assert settle(advance, current_phase=0, counts=nobody) is advance
    some = counts((0, S.AWAITING_ACCEPTANCE, 2), (0, S.SUCCEEDED, 1))
    assert settle(advance, current_phase=0, counts=some) is advance


def test_settle_does_not_complete_while_devices_are_unfinished() -> None:
    done = Complete("all finished")
    assert settle(done, current_phase=1, counts=counts((1, S.SUCCEEDED, 3))) is done
    for status in (S.AWAITING_ACCEPTANCE, S.HELD, S.WAITING, S.ASSIGNED):
        table = counts((1, S.SUCCEEDED, 3), (0, status, 1))
        assert isinstance(settle(done, current_phase=1, counts=table), Hold), status


def test_a_site_is_held_until_its_test_devices_succeeded_and_it_confirmed() -> None:
    tests = [(10, "succeeded"), (10, "succeeded"), (20, "succeeded"), (20, "failed"),
             (30, "assigned"), (40, "succeeded"), (40, "cancelled"), (None, "waiting")]  # fmt: skip
    assert held_sites(tests, confirmed_sites={10, 20, 30}) == {20, 30, 40}
    assert held_sites(tests, confirmed_sites={10, 20, 30, 40}) == {20, 30}
    assert held_sites([], confirmed_sites=set()) == frozenset()


def test_uninstructed_devices_wait_are_held_or_await_acceptance() -> None:
    def status(phase: int, site: int | None) -> DeviceStatus:
        return unassigned_status(phase, site, accepted={1, 2}, held={2})

    assert status(1, 1) is S.WAITING
    assert status(1, 2) is S.HELD
    assert status(0, 2) is S.WAITING  # test devices are never held
    assert status(0, 3) is S.AWAITING_ACCEPTANCE
    assert status(1, None) is S.AWAITING_ACCEPTANCE


def test_time_outs() -> None:
    closed = NOW - RESULT_GRACE
    assert is_timed_out(NOW - timedelta(days=1), closed, NOW)
    assert not is_timed_out(NOW - timedelta(days=1), closed + timedelta(seconds=1), NOW)
    assert is_timed_out(NOW - OUT_OF_CYCLE_TIMEOUT, None, NOW)
    assert not is_timed_out(NOW - OUT_OF_CYCLE_TIMEOUT + timedelta(seconds=1), None, NOW)


def test_keys() -> None:
    assert campaign_key(7) == "CMP-7"
    assert [parse_key(k) for k in ("CMP-7", " cmp-7", "7")] == [7, 7, 7]
    assert [parse_key(k) for k in ("CMP-0", "CMP-", "CR-7", "CMP-1e3", "9" * 10)] == [None] * 5


def release(version: str, number: int, minimum: int | None = None) -> ReleaseInfo:
    return ReleaseInfo(f"IP-100-{version}", "IP-100", version, number, frozenset({"B"}), minimum)


def test_the_router_routes_updates_through_hops_and_rollbacks_back() -> None:
    r41, r42, r43 = release("4.1.0", 410), release("4.2.0", 420), release("4.3.0", 430, 420)
    update = Router(CampaignKind.UPDATE, r43, (r41, r42, r43))
    step = update.next_step("IP-100", "B", 410)
    assert isinstance(step, Step)
    assert step.release == r42
    assert (update.arrived(430), update.arrived(440), update.arrived(420)) == (True, True, False)
    refused = update.next_step("IP-100", "A", 420)
    assert isinstance(refused, Ineligible)
    assert refused.reason is IneligibleReason.HARDWARE_NOT_SUPPORTED
    back = Router(CampaignKind.ROLLBACK, r41)
    assert (back.arrived(410), back.arrived(420), back.arrived(None)) == (True, False, False)
    returned = back.next_step("IP-100", "B", 420)
    assert isinstance(returned, Step)
    assert returned.release == r41
