"""Campaign policies: what parses, what is refused (and how the field is named), and that
``as_dict`` round-trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.errors import InvalidInput, category_of
from medfleet.rollouts.errors import InvalidPolicyError
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.policy import (
    AbortCriterion,
    ExponentialRate,
    FailureType,
    GroupSelector,
    Phase,
    Policy,
)
from medfleet.rollouts.policy_parse import parse_policy


def test_percent_phases_with_defaults() -> None:
    policy = parse_policy({"phases": [{"percent": 10}, {"percent": 90, "name": "rest"}]})
    assert policy.phases == (
        Phase("phase 1", 100.0, 0.0, percent=10.0),
        Phase("rest", 100.0, 0.0, percent=90.0),
    )
    assert policy.canary == Phase("canary")
    assert (policy.rate, policy.abort_criteria, policy.urgency) == (None, (), Urgency.ROUTINE)
    assert policy.phase_count == 3
    assert policy.phase(0) is policy.canary
    assert policy.phase(2).name == "rest"
    assert policy.is_last(2)
    assert not policy.is_last(1)
    assert policy.cumulative_basis_points() == (1000, 10_000)
    with pytest.raises(IndexError):
        policy.phase(3)


def test_cumulative_percentages_become_shares() -> None:
    policy = parse_policy(
        {
            "phases": [
                {"cumulative_percent": 1},
                {"cumulative_percent": 33.33},
                {"cumulative_percent": 100},
            ]
        }
    )
    assert [phase.percent for phase in policy.phases] == [1.0, 32.33, 66.67]
    assert policy.cumulative_basis_points() == (100, 3333, 10_000)


def test_a_full_policy_round_trips_through_json() -> None:
    data = {
        "phases": [
            {
                "name": "ICU pilots",
                "group": {"site_ids": [3, 1], "tags": ["pilot"]},
                "success_threshold": 95,
                "error_threshold": 5,
            },
            {"name": "hospital 9", "group": {"hospital_ids": [9], "device_ids": ["SN-1"]}},
            {"name": "everyone else", "group": {}},
        ],
        "canary": {"success_threshold": 100, "error_threshold": 0},
        "rate": {
            "base_per_minute": 10,
            "increment_factor": 2,
            "notify_threshold": 100,
            "maximum_per_minute": 500,
        },
        "abort_criteria": [
            {"failure_type": "failed", "threshold_percent": 10, "min_finished": 50},
            {"failure_type": "any", "threshold_percent": 20.5, "min_finished": 10},
        ],
        "urgency": "critical",
    }
    policy = parse_policy(data)
    assert policy.phases[0].group == GroupSelector(
        site_ids=frozenset({1, 3}), tags=frozenset({"pilot"})
    )
    assert policy.phases[2].group is not None
    assert policy.phases[2].group.is_rest
    assert policy.rate == ExponentialRate(10, 2.0, 100, None, 500)
    assert policy.abort_criteria[1] == AbortCriterion(FailureType.ANY, 20.5, 10)
    assert policy.urgency is Urgency.CRITICAL
    assert not policy.by_percent
    assert policy.group_tags() == {"pilot"}
    assert parse_policy(json.loads(json.dumps(policy.as_dict()))) == policy
    assert policy.checked() == policy


BAD_POLICIES: list[tuple[dict[str, Any], str, str]] = [
    ({}, "phases", "is required"),
    ({"phases": []}, "phases", "1 to 50 phases"),
    ({"phases": [{"percent": 50}]}, "phases", "add up to 100, got 50"),
    ({"phases": [{"percent": 60}, {"percent": 60}]}, "phases", "add up to 100, got 120"),
    ({"phases": [{"percent": 0}, {"percent": 100}]}, "phases[0].percent", "above 0"),
    ({"phases": [{"percent": 100.001}]}, "phases[0].percent", "at most 100"),
    (
        {"phases": [{"percent": 33.333}, {"percent": 66.667}]},
        "phases[0].percent",
        "at most 2 decimals",
    ),
    ({"phases": [{"percent": "50"}, {"percent": 50}]}, "phases[0].percent", "must be a number"),
    ({"phases": [{"percent": True}]}, "phases[0].percent", "must be a number"),
    (
        {"phases": [{"cumulative_percent": 50}, {"cumulative_percent": 40}]},
        "phases[1].cumulative_percent",
        "above the previous phase's 50",
    ),
    (
        {"phases": [{"percent": 50}, {"cumulative_percent": 100}]},
        "phases[1]",
        "all phases must be of one kind",
    ),
    ({"phases": [{"percent": 50}, {"group": {"site_ids": [1]}}]}, "phases[1]", "one kind"),
    ({"phases": [{"percent": 50, "group": {}}]}, "phases[0]", "exactly one of"),
    ({"phases": [{"name": "x"}]}, "phases[0]", "exactly one of"),
    (
        {"phases": [{"group": {}}, {"group": {"site_ids": [1]}}]},
        "phases[0].group",
        "only the last phase",
    ),
    ({"phases": [{"group": {"site_ids": [0]}}]}, "phases[0].group.site_ids[0]", "between 1 and"),
    ({"phases": [{"group": {"sites": [1]}}]}, "phases[0].group", "unknown field(s) 'sites'"),
    ({"phases": [{"group": {"tags": ["bad tag"]}}]}, "phases[0].group.tags[0]", "tag 'bad tag'"),
    (
        {"phases": [{"percent": 100, "success_threshold": 101}]},
        "phases[0].success_threshold",
        "at most 100",
    ),
    (
        {"phases": [{"percent": 100, "error_threshold": -1}]},
        "phases[0].error_threshold",
        "at least 0",
    ),
    (
        {"phases": [{"percent": 50, "name": "a"}, {"percent": 50, "name": "a"}]},
        "phases[1].name",
        "used twice",
    ),
    ({"phases": [{"percent": 100, "name": ""}]}, "phases[0].name", "1-64 printable"),
    ({"phases": [{"percent": 100}], "canary": {"success": 1}}, "canary", "unknown field"),
    ({"phases": [{"percent": 100}], "rate": {}}, "rate.base_per_minute", "is required"),
    (
        {"phases": [{"percent": 100}], "rate": {"base_per_minute": 0}},
        "rate.base_per_minute",
        "between 1 and",
    ),
    (
        {"phases": [{"percent": 100}], "rate": {"base_per_minute": 5, "increment_factor": 2}},
        "rate",
        "needs notify_threshold or success_threshold",
    ),
    (
        {
            "phases": [{"percent": 100}],
            "rate": {"base_per_minute": 5, "increment_factor": 6, "notify_threshold": 5},
        },
        "rate.increment_factor",
        "at most 5",
    ),
    (
        {
            "phases": [{"percent": 100}],
            "rate": {"base_per_minute": 5, "increment_factor": 1.55, "notify_threshold": 5},
        },
        "rate.increment_factor",
        "at most 1 decimals",
    ),
    (
        {
            "phases": [{"percent": 100}],
            "rate": {"base_per_minute": 5, "notify_threshold": 5, "success_threshold": 5},
        },
        "rate",
        "not both",
    ),
    (
        {"phases": [{"percent": 100}], "rate": {"base_per_minute": 50, "maximum_per_minute": 10}},
        "rate.maximum_per_minute",
        "between 50 and",
    ),
    (
        {
            "phases": [{"percent": 100}],
            "abort_criteria": [
                {"failure_type": "rejected", "threshold_percent": 5, "min_finished": 1}
            ],
        },
        "abort_criteria[0].failure_type",
        "must be one of failed, rolled_back, timed_out, any",
    ),
    (
        {
            "phases": [{"percent": 100}],
            "abort_criteria": [
                {"failure_type": "failed", "threshold_percent": 0, "min_finished": 1}
            ],
        },
        "abort_criteria[0].threshold_percent",
        "above 0",
    ),
    (
        {
            "phases": [{"percent": 100}],
            "abort_criteria": [
                {"failure_type": "failed", "threshold_percent": 5, "min_finished": 0}
            ],
        },
        "abort_criteria[0].min_finished",
        "between 1 and",
    ),
    (
        {
            "phases": [{"percent": 100}],
            "abort_criteria": [
                {"failure_type": "failed", "threshold_percent": 5, "min_finished": 1},
                {"failure_type": "failed", "threshold_percent": 9, "min_finished": 1},
            ],
        },
        "abort_criteria[1].failure_type",
        "has a criterion already",
    ),
    ({"phases": [{"percent": 100}], "urgency": "urgent"}, "urgency", "routine, critical"),
    ({"phases": [{"percent": 100}], "phase": []}, "", "unknown field(s) 'phase'"),
    ({"phases": {"percent": 100}}, "phases", "must be a list"),
    ({"phases": ["x"]}, "phases[0]", "must be an object"),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_POLICIES)
def test_bad_policies_are_refused_with_the_field(
    data: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidPolicyError) as caught:
        parse_policy(data)
    assert caught.value.field == field
    assert message in str(caught.value)
    assert category_of(caught.value) is InvalidInput
    assert caught.value.problem_members() == ({"field": field} if field else {})


def test_a_directly_built_policy_can_be_checked() -> None:
    broken = Policy((Phase("only", percent=40.0),))
    with pytest.raises(InvalidPolicyError, match="add up to 100"):
        broken.checked()


percents = st.integers(1, 10_000).map(lambda bp: bp / 100)
thresholds = st.integers(0, 10_000).map(lambda bp: bp / 100)
ids = st.lists(st.integers(1, 10**6), max_size=3)
names = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), max_size=3)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 6))
    if draw(st.booleans()):
        cuts = sorted(draw(st.sets(st.integers(1, 9_999), min_size=count - 1, max_size=count - 1)))
        bounds = [*cuts, 10_000]
        kinds: list[dict[str, object]] = [{"cumulative_percent": bound / 100} for bound in bounds]
    else:
        kinds = [
            {
                "group": {
                    "site_ids": [index + 1, *draw(ids)],
                    "hospital_ids": draw(ids),
                    "tags": draw(names),
                    "device_ids": draw(names),
                }
            }
            for index in range(count)
        ]
        if draw(st.booleans()):
            kinds[-1] = {"group": {}}
    phases = [
        {
            "name": f"p{index}",
            "success_threshold": draw(thresholds),
            "error_threshold": draw(thresholds),
            **kind,
        }
        for index, kind in enumerate(kinds)
    ]
    data: dict[str, Any] = {
        "phases": phases,
        "urgency": draw(st.sampled_from([u.value for u in Urgency])),
    }
    if draw(st.booleans()):
        base = draw(st.integers(1, 1000))
        factor = draw(st.integers(10, 50)) / 10
        data["rate"] = {
            "base_per_minute": base,
            "increment_factor": factor,
            "maximum_per_minute": draw(st.none() | st.integers(base, 10**6)),
        }
        if factor > 1 or draw(st.booleans()):
            key = draw(st.sampled_from(["notify_threshold", "success_threshold"]))
            data["rate"][key] = draw(st.integers(1, 10**6))
    kinds_abort = draw(st.lists(st.sampled_from(list(FailureType)), unique=True, max_size=4))
    data["abort_criteria"] = [
        {
            "failure_type": kind.value,
            "threshold_percent": draw(percents),
            "min_finished": draw(st.integers(1, 10**6)),
        }
        for kind in kinds_abort
    ]
    return data


@settings(deadline=None)
@given(policies())
def test_valid_policies_parse_and_round_trip(data: dict[str, Any]) -> None:
    policy = parse_policy(data)
    assert parse_policy(json.loads(json.dumps(policy.as_dict()))) == policy
    if policy.by_percent:
        assert policy.cumulative_basis_points()[-1] == 10_000
        assert all(phase.percent is not None and phase.percent > 0 for phase in policy.phases)
