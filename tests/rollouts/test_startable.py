"""Which waiting devices start now: windows (with the download lead), out-of-cycle consent,
held sites and the rate limit spread over sites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.rollouts.errors import InvalidPlanInputError
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.startable import (
    InstallWindow,
    SiteBatch,
    WaitReason,
    fill_quotas,
    startable,
)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
H = timedelta(hours=1)


@dataclass(frozen=True)
class Opening:
    start: datetime
    end: datetime


OPEN = Opening(NOW - H, NOW + 3 * H)  # open now
SOON = Opening(NOW + 2 * H, NOW + 4 * H)  # opens within the 12 h lead
LATER = Opening(NOW + 30 * H, NOW + 32 * H)  # beyond the lead
CLOSING = Opening(NOW - 3 * H, NOW + 10 * timedelta(minutes=1))


def test_open_and_soon_windows_start_with_their_window() -> None:
    decision = startable(
        [1, 2, 3, 4, 5],
        [10, 20, 30, 40, 10],
        phase_index=1,
        now=NOW,
        windows={10: OPEN, 20: SOON, 30: LATER, 40: None},
        urgency=Urgency.ROUTINE,
    )
    assert decision.batches == (
        SiteBatch(10, InstallWindow(OPEN.start, OPEN.end), (1, 5)),
        SiteBatch(20, InstallWindow(SOON.start, SOON.end), (2,)),
    )
    assert decision.count == 3
    assert decision.devices() == [1, 5, 2]
    assert decision.waiting[WaitReason.WINDOW_LATER] == 1
    assert decision.waiting[WaitReason.NO_WINDOW] == 1
    assert decision.next_check == LATER.start - timedelta(hours=12)
    assert InstallWindow(OPEN.start, OPEN.end).as_dict() == {
        "start": "2026-03-02T11:00:00+00:00",
        "end": "2026-03-02T15:00:00+00:00",
    }


def test_a_shorter_lead_waits_for_the_window_to_come_closer() -> None:
    decision = startable(
        [1],
        [20],
        phase_index=1,
        now=NOW,
        windows={20: SOON},
        urgency=Urgency.ROUTINE,
        download_lead=H,
    )
    assert decision.count == 0
    assert decision.next_check == SOON.start - H


def test_a_window_closing_too_soon_waits_for_the_next() -> None:
    decision = startable(
        [1, 2],
        [10, 20],
        phase_index=1,
        now=NOW,
        windows={10: CLOSING, 20: OPEN},
        urgency=Urgency.ROUTINE,
        min_window=timedelta(minutes=30),
    )
    assert decision.devices() == [2]
    assert decision.waiting[WaitReason.WINDOW_TOO_SHORT] == 1
    assert decision.next_check == CLOSING.end


def test_a_past_opening_counts_as_no_window() -> None:
    past = Opening(NOW - 3 * H, NOW - H)
    decision = startable(
        [1], [10], phase_index=1, now=NOW, windows={10: past}, urgency=Urgency.ROUTINE
    )
    assert decision.waiting[WaitReason.NO_WINDOW] == 1


def test_critical_campaigns_go_out_of_cycle_only_where_the_site_consented() -> None:
    windows = {10: LATER, 20: LATER}
    critical = startable(
        [1, 2],
        [10, 20],
        phase_index=1,
        now=NOW,
        windows=windows,
        urgency=Urgency.CRITICAL,
        out_of_cycle_sites=frozenset({10}),
    )
    assert critical.batches == (SiteBatch(10, None, (1,)),)
    assert critical.waiting[WaitReason.WINDOW_LATER] == 1
    routine = startable(
        [1, 2],
        [10, 20],
        phase_index=1,
        now=NOW,
        windows=windows,
        urgency=Urgency.ROUTINE,
        out_of_cycle_sites=frozenset({10}),
    )
    assert routine.count == 0


def test_held_sites_hold_production_devices_not_test_devices() -> None:
    windows = {10: OPEN, 20: OPEN}
    production = startable(
        [1, 2],
        [10, 20],
        phase_index=2,
        now=NOW,
        windows=windows,
        urgency=Urgency.ROUTINE,
        held_sites=frozenset({10}),
    )
    assert production.devices() == [2]
    assert production.waiting[WaitReason.SITE_HELD] == 1
    canary = startable(
        [1, 2],
        [10, 20],
        phase_index=0,
        now=NOW,
        windows=windows,
        urgency=Urgency.ROUTINE,
        held_sites=frozenset({10}),
    )
    assert canary.count == 2


def test_a_rate_limit_spreads_over_sites_closing_windows_first() -> None:
    early = Opening(NOW - H, NOW + H)
    devices = [*range(100, 110), *range(200, 203), 300]
    sites = [10] * 10 + [20] * 3 + [30]
    decision = startable(
        devices,
        sites,
        phase_index=1,
        now=NOW,
        windows={10: OPEN, 20: early, 30: OPEN},
        urgency=Urgency.ROUTINE,
        limit=6,
    )
    # Level 2 for everyone (site 30 has only one), the spare one to the earliest closing.
    assert [(b.site_id, b.devices) for b in decision.batches] == [
        (20, (200, 201, 202)),
        (10, (100, 101)),
        (30, (300,)),
    ]
    assert decision.waiting[WaitReason.RATE_LIMIT] == 8
    assert (
        startable(
            devices,
            sites,
            phase_index=1,
            now=NOW,
            windows={10: OPEN},
            urgency=Urgency.ROUTINE,
            limit=0,
        ).count
        == 0
    )


@pytest.mark.parametrize(
    ("devices", "sites", "now", "limit", "message"),
    [
        ([1, 2], [10], NOW, None, "must be parallel"),
        ([1], [10], NOW.replace(tzinfo=None), None, "now must be timezone-aware"),
        ([1], [10], NOW, -1, "limit must not be negative"),
    ],
)
def test_bad_input_is_refused(
    devices: list[int], sites: list[int], now: datetime, limit: int | None, message: str
) -> None:
    with pytest.raises(InvalidPlanInputError, match=message):
        startable(
            devices, sites, phase_index=1, now=now, windows={}, urgency=Urgency.ROUTINE, limit=limit
        )


@settings(deadline=None)
@given(st.lists(st.integers(0, 50), max_size=30), st.integers(0, 400))
def test_quotas_are_as_even_as_possible(counts: list[int], limit: int) -> None:
    quotas = fill_quotas(counts, limit)
    assert sum(quotas) == min(limit, sum(counts))
    assert all(0 <= q <= c for q, c in zip(quotas, counts, strict=True))
    short = [q for q, c in zip(quotas, counts, strict=True) if q < c]
    if short:  # a site left short got at most one less than any other site
        assert max(quotas) - min(short) <= 1
