"""Campaign planning, property-based: the fast column pass of ``plan_campaign`` agrees with
a slow device-by-device reference built from ``compat.route`` and the selection's rules."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.rollouts.compat import Ineligible, ReleaseInfo, route, route_rollback
from medfleet.rollouts.model import CampaignKind
from medfleet.rollouts.planning import DeviceStatus, percent_phase, phase_bucket, plan_campaign
from medfleet.rollouts.selection import Selection, TestDevices
from tests.rollouts.planning_fixtures import (
    AVAILABLE,
    MODEL,
    NOW,
    PERCENT,
    TARGET,
    Device,
    Opening,
    fleet_of,
    rel,
    statuses,
)

D = DeviceStatus

devices_strategy = st.lists(
    st.builds(
        Device,
        pk=st.integers(1, 10**9),
        org=st.integers(1, 3),
        site=st.integers(10, 14),
        model=st.sampled_from([MODEL, MODEL, "IP-200"]),
        revision=st.sampled_from("ABC"),
        version=st.none() | st.sampled_from([50, 100, 120, 200, 300, 400, 500, 600]),
        test=st.booleans(),
        tags=st.lists(st.sampled_from(["icu", "er", "or"]), max_size=2).map(tuple),
        previous=st.none() | st.sampled_from([100, 300, 400]),
    ),
    max_size=40,
    unique_by=lambda d: d.pk,
)


def reference(
    d: Device,
    *,
    kind: CampaignKind,
    target: ReleaseInfo,
    selection: Selection,
    accepted: frozenset[int],
    busy: frozenset[int],
    openings: dict[int, object],
    key: int,
) -> tuple[DeviceStatus, int]:
    versions = selection.resolved_versions({r.version: r.version_number for r in AVAILABLE})
    if (
        (selection.hospital_ids and d.org not in selection.hospital_ids)
        or (selection.site_ids and d.site not in selection.site_ids)
        or (selection.test_devices is TestDevices.EXCLUDE and d.test)
        or (selection.test_devices is TestDevices.ONLY and not d.test)
        or (selection.tags and not selection.tags & set(d.tags))
        or (selection.models and d.model not in selection.models)
        or (selection.hardware_revisions and d.revision not in selection.hardware_revisions)
        or (
            selection.filters_versions
            and (d.version if d.version is not None else -1) not in versions
        )
    ):
        return D.NOT_SELECTED, -1
    if kind is CampaignKind.ROLLBACK:
        result = route_rollback(
            d.version, d.revision, target, model=d.model, previous_version_number=d.previous
        )
    else:
        result = route(d.version, d.revision, target, AVAILABLE, model=d.model)
    if isinstance(result, Ineligible):
        return DeviceStatus[result.reason.name], -1
    if d.pk in busy:
        return D.BUSY, -1
    phase = 0 if d.test else percent_phase(phase_bucket(d.pk, key), PERCENT)
    if d.site not in accepted:
        return D.AWAITING_ACCEPTANCE, phase
    if openings.get(d.site) is None:
        return D.AWAITING_WINDOW, phase
    return D.READY, phase


@settings(max_examples=150, deadline=None)
@given(
    devices=devices_strategy,
    kind=st.sampled_from(list(CampaignKind)),
    selection=st.builds(
        Selection,
        hospital_ids=st.frozensets(st.integers(1, 3), max_size=2),
        site_ids=st.frozensets(st.integers(10, 14), max_size=3),
        hardware_revisions=st.frozensets(st.sampled_from("ABC"), max_size=2),
        current_versions=st.frozensets(st.sampled_from([100, 300, 600]), max_size=2),
        tags=st.frozensets(st.sampled_from(["icu", "or", "xray"]), max_size=2),
        test_devices=st.sampled_from(list(TestDevices)),
    ),
    accepted=st.frozensets(st.integers(10, 14)),
    busy_share=st.integers(0, 3),
    key=st.integers(1, 1000),
)
def test_the_column_pass_matches_the_reference(
    devices: list[Device],
    kind: CampaignKind,
    selection: Selection,
    accepted: frozenset[int],
    busy_share: int,
    key: int,
) -> None:
    target = TARGET if kind is CampaignKind.UPDATE else rel(300)
    busy = frozenset(d.pk for d in devices if busy_share and d.pk % 4 < busy_share)
    openings: dict[int, object] = {
        10: Opening(NOW, NOW + timedelta(hours=1)),
        11: None,
        12: Opening(NOW, NOW + timedelta(hours=1)),
    }
    result = plan_campaign(
        fleet_of(devices, ("er", "icu", "or", "xray"), with_previous=True),
        campaign_key=key,
        kind=kind,
        selection=selection,
        policy=PERCENT,
        target=target,
        available=AVAILABLE,
        accepted_sites=accepted,
        busy=busy,
        site_openings=openings,  # type: ignore[arg-type]
    )
    expected = [
        reference(
            d,
            kind=kind,
            target=target,
            selection=selection,
            accepted=accepted,
            busy=busy,
            openings=openings,
            key=key,
        )
        for d in devices
    ]
    assert list(zip(statuses(result), result.phase, strict=True)) == expected
    for row, (status, _) in enumerate(expected):
        release = result.step_release(row)
        assert (release is not None) is status.in_campaign
    counts = Counter(status for status, _ in expected)
    assert {s: n for s, n in result.status_counts.items() if n} == dict(counts)
    in_campaign = [phase for status, phase in expected if status.in_campaign]
    assert list(result.phase_counts) == [in_campaign.count(p) for p in range(4)]
