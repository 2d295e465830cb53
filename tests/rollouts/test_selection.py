"""Target selections: what parses, what is refused (and how the field is named), version
names resolved through the model's releases, and that ``as_dict`` round-trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.rollouts.errors import InvalidSelectionError
from medfleet.rollouts.selection import Selection, TestDevices, parse_selection, tag_mask


def test_an_empty_selection_selects_everything() -> None:
    assert parse_selection({}) == Selection()
    assert not Selection().filters_versions


def test_a_selection_reads_every_criterion() -> None:
    selection = parse_selection(
        {
            "models": ["IP-100"],
            "hardware_revisions": ["B", " C "],
            "hospital_ids": [4],
            "site_ids": [5, 5],
            "current_versions": [410, "4.0.0"],
            "tags": ["icu"],
            "test_devices": "exclude",
        }
    )
    assert selection == Selection(
        models=frozenset({"IP-100"}),
        hardware_revisions=frozenset({"B", "C"}),
        hospital_ids=frozenset({4}),
        site_ids=frozenset({5}),
        current_versions=frozenset({410}),
        current_version_names=frozenset({"4.0.0"}),
        tags=frozenset({"icu"}),
        test_devices=TestDevices.EXCLUDE,
    )
    assert selection.resolved_versions({"4.0.0": 400, "4.1.0": 410}) == {400, 410}
    assert parse_selection(json.loads(json.dumps(selection.as_dict()))) == selection


def test_an_unknown_version_name_is_refused_when_resolved() -> None:
    selection = parse_selection({"current_versions": ["9.9"]})
    with pytest.raises(InvalidSelectionError, match=r"no release of this model has version 9\.9"):
        selection.resolved_versions({"4.0.0": 400})


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"site_ids": [1, "2"]}, "site_ids[1]", "must be an integer"),
        ({"site_ids": [1.5]}, "site_ids[0]", "must be an integer"),
        ({"hospital_ids": [True]}, "hospital_ids[0]", "must be an integer"),
        ({"hospital_ids": 3}, "hospital_ids", "must be a list"),
        ({"models": [""]}, "models[0]", "model ''"),
        ({"current_versions": [-1]}, "current_versions[0]", "between 0 and"),
        ({"current_versions": ["4 0"]}, "current_versions[0]", "version '4 0'"),
        ({"test_devices": "some"}, "test_devices", "include, exclude, only"),
        ({"sites": [1]}, "", "unknown field(s) 'sites'"),
    ],
)
def test_bad_selections_are_refused_with_the_field(
    data: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidSelectionError) as caught:
        parse_selection(data)
    assert caught.value.field == field
    assert message in str(caught.value)


def test_a_selection_must_be_an_object() -> None:
    with pytest.raises(InvalidSelectionError, match="must be an object, got list"):
        parse_selection([])  # type: ignore[arg-type]


@settings(deadline=None)
@given(
    st.builds(
        Selection,
        models=st.frozensets(st.from_regex(r"[A-Z]{2}-[0-9]{1,4}", fullmatch=True), max_size=3),
        hospital_ids=st.frozensets(st.integers(1, 10**9), max_size=4),
        site_ids=st.frozensets(st.integers(1, 10**9), max_size=4),
        current_versions=st.frozensets(st.integers(0, 2**63 - 1), max_size=4),
        current_version_names=st.frozensets(
            st.from_regex(r"[0-9]\.[0-9]\.[0-9]", fullmatch=True), max_size=3
        ),
        tags=st.frozensets(st.from_regex(r"[a-z]{1,6}", fullmatch=True), max_size=3),
        test_devices=st.sampled_from(list(TestDevices)),
    )
)
def test_selections_round_trip(selection: Selection) -> None:
    assert parse_selection(json.loads(json.dumps(selection.as_dict()))) == selection


def test_tag_masks_follow_the_names() -> None:
    assert tag_mask({"er", "or", "xray"}, ("icu", "er", "or")) == 0b110
    assert tag_mask(set(), ("icu",)) == 0
