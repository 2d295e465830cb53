"""Campaign planning: every status and its precedence, phases (canary, percentages, groups),
routing per device, windows and acceptance."""

from __future__ import annotations

import json
import random
from array import array
from collections import Counter
from datetime import timedelta

import pytest

from medfleet.rollouts.columns import NO_SITE, FleetBuilder, FleetColumns, relevant_tags
from medfleet.rollouts.errors import (
    InvalidPlanInputError,
    InvalidSelectionError,
    UnknownDeviceError,
)
from medfleet.rollouts.model import CampaignKind
from medfleet.rollouts.planning import (
    DeviceStatus,
    percent_phase,
    phase_bucket,
    plan_campaign,
)
from medfleet.rollouts.policy_parse import parse_policy
from medfleet.rollouts.selection import Selection, TestDevices, parse_selection
from tests.rollouts.planning_fixtures import (
    AVAILABLE,
    NOW,
    PERCENT,
    TARGET,
    Device,
    Opening,
    fleet_of,
    plan,
    rel,
    statuses,
)

D = DeviceStatus


def test_each_status_in_its_order_of_precedence() -> None:
    devices = [
        Device(1),  # ready, direct
        Device(2, version=100),  # ready, via 2.0.0 and 3.0.0
        Device(3, site=99),  # its site did not accept
        Device(4, model="IP-200"),  # wrong model
        Device(5, revision="C"),  # hardware revision not supported
        Device(6, version=500),  # up to date
        Device(7, version=None),  # unknown version, the target has a minimum
        Device(8, revision="B", version=50),  # 1.0.0 is not for B: no path
        Device(9, version=600, site=99),  # up to date beats acceptance
        Device(10, org=2),  # another hospital: not selected
        Device(11),  # busy in another campaign
        Device(12, org=2, model="IP-200", site=99),  # selection beats compatibility
    ]
    result = plan(
        devices,
        busy=frozenset({11}),
        selection=Selection(hospital_ids=frozenset({1})),
        accepted=frozenset({10}),
    )
    assert statuses(result) == [
        D.READY,
        D.READY,
        D.AWAITING_ACCEPTANCE,
        D.WRONG_MODEL,
        D.HARDWARE_NOT_SUPPORTED,
        D.UP_TO_DATE,
        D.UNKNOWN_VERSION,
        D.NO_PATH,
        D.UP_TO_DATE,
        D.NOT_SELECTED,
        D.BUSY,
        D.NOT_SELECTED,
    ]
    assert [r.release_id if r else None for r in map(result.step_release, range(12))] == [
        "IP-100-500",
        "IP-100-200",
        "IP-100-500",
        *[None] * 9,
    ]
    assert result.steps[0] == TARGET
    assert result.status_counts[D.READY] == 2
    assert sum(result.status_counts.values()) == 12
    assert sum(result.phase_counts) == 3
    assert result.messages[D.WRONG_MODEL] == (
        "the device is a IP-200; release IP-100-500 is for IP-100"
    )


def test_test_devices_are_the_canary_phase_and_mark_their_site() -> None:
    devices = [
        Device(1, test=True),
        Device(2),
        Device(3, site=20, test=True, version=600),
        Device(4, site=30, test=True),
    ]
    result = plan(devices, accepted=frozenset({10}))
    assert result.phase[0] == 0
    assert result.phase[1] > 0
    assert result.test_sites == {10, 30}  # site 20's test device is up to date
    assert result.phase[3] == 0
    assert result.status[3] == D.AWAITING_ACCEPTANCE
    assert result.phase_counts[0] == 2
    assert result.ready_counts[0] == 1


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (TestDevices.INCLUDE, [D.READY, D.READY]),
        (TestDevices.EXCLUDE, [D.NOT_SELECTED, D.READY]),
        (TestDevices.ONLY, [D.READY, D.NOT_SELECTED]),
    ],
)
def test_the_selection_chooses_test_devices(
    choice: TestDevices, expected: list[DeviceStatus]
) -> None:
    result = plan([Device(1, test=True), Device(2)], selection=Selection(test_devices=choice))
    assert statuses(result) == expected


def test_selection_by_site_revision_version_and_tag() -> None:
    devices = [
        Device(1, tags=("icu",)),
        Device(2, tags=("er", "icu")),
        Device(3),
        Device(4, site=20, tags=("icu",)),
        Device(5, revision="B", tags=("icu",)),
        Device(6, version=200, tags=("icu",)),
    ]
    selection = parse_selection(
        {
            "site_ids": [10],
            "hardware_revisions": ["A"],
            "current_versions": ["3.0.0", 400],
            "tags": ["icu"],
        }
    )
    result = plan(devices, selection=selection, tag_names=("er", "icu"))
    assert statuses(result) == [D.READY, D.READY, *[D.NOT_SELECTED] * 4]


def test_a_tag_the_fleet_does_not_carry_selects_nothing() -> None:
    result = plan(
        [Device(1, tags=("icu",))], selection=Selection(tags=frozenset({"or"})), tag_names=("icu",)
    )
    assert statuses(result) == [D.NOT_SELECTED]


def test_an_unknown_version_name_in_the_selection_is_refused() -> None:
    with pytest.raises(InvalidSelectionError, match=r"version 9\.9\.9"):
        plan([Device(1)], selection=Selection(current_version_names=frozenset({"9.9.9"})))


GROUPS = parse_policy(
    {
        "phases": [
            {"name": "pilots", "group": {"device_ids": ["SN-5"], "tags": ["pilot"]}},
            {"name": "site 20", "group": {"site_ids": [20]}},
            {"name": "hospital 3", "group": {"hospital_ids": [3]}},
        ]
    }
)


def test_explicit_groups_take_the_first_match() -> None:
    devices = [
        Device(1, site=20, tags=("pilot",)),  # tag beats site
        Device(2, site=20),
        Device(3, org=3, site=30),
        Device(4, site=10),  # no group
        Device(5, site=30, org=3),  # named device beats hospital
        Device(6, site=20, test=True),  # test devices stay canary
    ]
    result = plan(
        devices,
        policy=GROUPS,
        device_pks_by_id={"SN-5": 5},
        tag_names=relevant_tags(Selection(), GROUPS),
    )
    assert list(result.phase) == [1, 2, 3, -1, 1, 0]
    assert statuses(result)[3] is D.NOT_IN_ANY_PHASE
    with_rest = parse_policy({"phases": [{"group": {"site_ids": [20]}}, {"group": {}}]})
    assert list(plan(devices, policy=with_rest).phase) == [1, 1, 2, 2, 2, 0]


def test_a_group_naming_an_unknown_device_is_refused() -> None:
    with pytest.raises(UnknownDeviceError) as caught:
        plan([Device(1)], policy=GROUPS, device_pks_by_id={})
    assert caught.value.problem_members() == {"device_ids": ["SN-5"]}


def test_percentages_are_stable_deterministic_and_spread_over_sites() -> None:
    rng = random.Random(5)  # noqa: S311 - test data
    devices = [Device(pk, site=rng.randrange(100), version=300) for pk in range(1, 40_001)]
    accepted = frozenset(range(100))
    first = plan(devices, accepted=accepted, campaign_key=42)
    again = plan(list(reversed(devices)), accepted=accepted, campaign_key=42)
    by_pk = {d.pk: p for d, p in zip(devices, first.phase, strict=True)}
    assert {d.pk: p for d, p in zip(reversed(devices), again.phase, strict=True)} == by_pk
    subset = devices[::7]  # other devices leaving the fleet changes nothing
    assert list(plan(subset, accepted=accepted, campaign_key=42).phase) == [
        by_pk[d.pk] for d in subset
    ]
    shares = Counter(first.phase)
    for phase, percent in ((1, 10), (2, 30), (3, 60)):
        assert abs(shares[phase] / len(devices) - percent / 100) < 0.01
        assert first.phase_counts[phase] == shares[phase]
    for site in range(100):  # every site gets its share of the first phase
        members = [p for d, p in zip(devices, first.phase, strict=True) if d.site == site]
        assert 0.03 < members.count(1) / len(members) < 0.2
    other = plan(devices, accepted=accepted, campaign_key=43)
    assert sum(a != b for a, b in zip(first.phase, other.phase, strict=True)) > 10_000
    for d, phase in zip(devices[:50], first.phase[:50], strict=True):
        assert percent_phase(phase_bucket(d.pk, 42), PERCENT) == phase


def test_percent_phase_needs_percentages() -> None:
    with pytest.raises(InvalidPlanInputError):
        percent_phase(5, GROUPS)


def test_rollback_returns_devices_that_ran_the_target_before() -> None:
    back_to = rel(400, revisions="AB")
    devices = [
        Device(1, version=500, previous=400),
        Device(2, version=500, previous=300),
        Device(3, version=400, previous=300),
        Device(4, version=500),
    ]
    result = plan(devices, kind=CampaignKind.ROLLBACK, target=back_to, with_previous=True)
    assert statuses(result) == [D.READY, D.NOT_PREVIOUS_RELEASE, D.NOT_ABOVE_TARGET, D.READY]
    assert result.steps == (back_to,)


def test_windows_matter_to_routine_campaigns_and_not_to_consenting_sites() -> None:
    devices = [Device(1, site=10), Device(2, site=20), Device(3, site=30)]
    openings = {10: Opening(NOW, NOW + timedelta(hours=2)), 20: None}
    routine = plan(devices, site_openings=openings)
    assert statuses(routine) == [D.READY, D.AWAITING_WINDOW, D.AWAITING_WINDOW]
    critical = parse_policy({"phases": [{"percent": 100}], "urgency": "critical"})
    urgent = plan(
        devices, policy=critical, site_openings=openings, out_of_cycle_sites=frozenset({20})
    )
    assert statuses(urgent) == [D.READY, D.READY, D.AWAITING_WINDOW]
    assert statuses(plan(devices)) == [D.READY] * 3  # windows not judged


def test_plan_rows_and_summary() -> None:
    devices = [
        Device(pk, site=10 if pk % 2 else 99, version=100 if pk % 3 else 300) for pk in range(1, 21)
    ]
    single = parse_policy({"phases": [{"percent": 100}]})
    result = plan(devices, policy=single)
    assert result.rows(1) == [i for i, d in enumerate(devices) if d.site == 10]
    assert result.rows(1, {D.AWAITING_ACCEPTANCE}) == [
        i for i, d in enumerate(devices) if d.site == 99
    ]
    summary = result.summary()
    json.dumps(summary)
    assert summary["statuses"] == {"ready": 10, "awaiting_acceptance": 10}
    assert summary["steps"] == [
        {"release_id": "IP-100-500", "devices": 6},
        {"release_id": "IP-100-200", "devices": 14},
    ]
    assert len(result) == 20


def test_uneven_columns_and_bad_indices_are_refused() -> None:
    good = fleet_of([Device(1), Device(2)])
    with pytest.raises(InvalidPlanInputError, match=r"different: site_id \(1\)"):
        FleetColumns(
            good.device_pk,
            good.org_id,
            array("q", [1]),
            good.model,
            good.hardware_revision,
            good.version,
            good.is_test,
            good.tags,
            good.model_names,
            good.revision_names,
        )
    bad = FleetColumns(
        good.device_pk,
        good.org_id,
        good.site_id,
        array("h", [0, 5]),
        good.hardware_revision,
        good.version,
        good.is_test,
        good.tags,
        good.model_names,
        good.revision_names,
    )
    with pytest.raises(InvalidPlanInputError, match="model index 5"):
        plan_campaign(
            bad,
            campaign_key=1,
            kind=CampaignKind.UPDATE,
            selection=Selection(),
            policy=PERCENT,
            target=TARGET,
            available=AVAILABLE,
            accepted_sites=frozenset(),
        )
    with pytest.raises(InvalidPlanInputError, match="at most 64 tag names"):
        FleetBuilder([f"t{i}" for i in range(65)]).build()


def test_a_device_without_a_site_awaits_acceptance() -> None:
    builder = FleetBuilder()
    builder.add(
        1, org_id=1, site_id=None, model="IP-100", hardware_revision="A", version_number=300
    )
    fleet = builder.build()
    assert list(fleet.site_id) == [NO_SITE]
    result = plan_campaign(
        fleet,
        campaign_key=1,
        kind=CampaignKind.UPDATE,
        selection=Selection(),
        policy=PERCENT,
        target=TARGET,
        available=AVAILABLE,
        accepted_sites=frozenset({10}),
    )
    assert statuses(result) == [D.AWAITING_ACCEPTANCE]
