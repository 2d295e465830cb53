"""Facts: validation on construction, and ``combine`` (the cumulative change)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.audit.model import canonical_json
from medfleet.changes.assessment.errors import InvalidFactsError
from medfleet.changes.assessment.facts import ChangeFacts, SituationFact, combine

from .factories import (
    added_situation,
    change,
    control,
    modified_situation,
    removed_situation,
    requirement,
)
from .strategies import histories


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("HS-1", "added", 3, 3, None, 2, True, None, True), "no 'before'"),
        (("HS-1", "removed", 3, 3, 2, None, True, True, None), "no 'after'"),
        (("HS-1", "modified", 3, None, 2, 2, True, True, True), "needs its severity"),
        (("HS-1", "modified", 3, 6, 2, 2, True, True, True), "level 1..5"),
        (("HS-1", "modified", 0, 3, 2, 2, True, True, True), "level 1..5"),
        (("HS-1", "modified", True, 3, 2, 2, True, True, True), "level 1..5"),
        (("HS-1", "renamed", 3, 3, 2, 2, True, True, True), "action"),
        (("", "added", None, 3, None, 2, True, None, True), "non-empty key"),
    ],
)
def test_impossible_situations_are_refused(fields: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidFactsError, match=message):
        SituationFact(*fields)  # type: ignore[arg-type]


def test_a_change_lists_each_item_once_and_has_known_classes() -> None:
    with pytest.raises(InvalidFactsError, match="more than once"):
        change(requirements=(requirement("SRS-1"), requirement("SRS-1", "retired")))
    with pytest.raises(InvalidFactsError, match="change_class"):
        change(change_class="urgent")
    with pytest.raises(InvalidFactsError, match="kind"):
        requirement("SRS-1", kind="nice-to-have")


def test_facts_round_trip_through_json() -> None:
    facts = change(
        situations=(added_situation("HS-1", 4, significant=True),),
        controls=(control("RC-1", "added", "HS-1", significant=True),),
        requirements=(requirement("SRS-1", "added", "safety"),),
    )
    assert ChangeFacts.from_dict(facts.as_dict()) == facts
    canonical_json(facts.as_dict())  # JSON-ready, no exotic types
    with pytest.raises(InvalidFactsError, match="malformed"):
        ChangeFacts.from_dict({"key": "CR-1"})


def test_combine_keeps_the_earliest_before_and_the_latest_after() -> None:
    first = change(
        "CR-1", situations=(modified_situation("HS-1", (2, 3), (2, 4), significant=False),)
    )
    second = change(
        "CR-2", situations=(modified_situation("HS-1", (3, 4), (4, 1), significant=True),)
    )
    summed = combine([first, second])
    assert summed.key == "CR-1+CR-2"
    (situation,) = summed.situations
    assert (situation.severity_before, situation.severity_after) == (2, 4)
    assert (situation.probability_before, situation.probability_after) == (2, 1)
    assert situation.significant_harm is True


def test_combine_drops_what_was_added_then_removed_and_keeps_added_then_modified() -> None:
    first = change(
        "CR-1",
        situations=(
            added_situation("HS-1", 2, significant=False),
            added_situation("HS-2", 3, significant=False),
        ),
        requirements=(requirement("SRS-9", "added"),),
    )
    second = change(
        "CR-2",
        situations=(
            removed_situation("HS-1", 2, significant=False),
            modified_situation("HS-2", (3, 4), significant=True),
        ),
        requirements=(requirement("SRS-9", "retired"),),
    )
    summed = combine([first, second])
    assert [(s.key, s.action) for s in summed.situations] == [("HS-2", "added")]
    assert summed.situations[0].severity_before is None
    assert summed.situations[0].severity_after == 4
    assert summed.requirements == ()


def test_combine_of_removed_then_added_again_is_modified() -> None:
    first = change("CR-1", situations=(removed_situation("HS-1", 4, significant=True),))
    second = change("CR-2", situations=(added_situation("HS-1", 5, significant=True),))
    (situation,) = combine([first, second]).situations
    assert (situation.action, situation.severity_before, situation.severity_after) == (
        "modified",
        4,
        5,
    )


def test_combine_refuses_impossible_histories_and_mixed_device_models() -> None:
    first = change("CR-1", situations=(removed_situation("HS-1", 4, significant=True),))
    second = change("CR-2", situations=(modified_situation("HS-1", (4, 4), significant=True),))
    with pytest.raises(
        InvalidFactsError, match="HS-1: modified in CR-2 after it was removed in CR-1"
    ):
        combine([first, second])
    with pytest.raises(InvalidFactsError, match="different device models"):
        combine([change("CR-1"), change("CR-2", device_model="other")])
    with pytest.raises(InvalidFactsError, match="at least one"):
        combine([])


def test_a_sum_is_judged_by_the_latest_rating_of_each_item() -> None:
    first = change(
        "CR-1", controls=(control("RC-1", "added", "HS-1", significant=True, redundant=True),)
    )
    second = change("CR-2", controls=(control("RC-1", "modified", "HS-2", significant=False),))
    (summed,) = combine([first, second]).controls
    assert (summed.action, summed.redundant, summed.significant_harm) == ("added", False, False)
    assert summed.situations == ("HS-2",)


@given(histories(min_size=2, max_size=6, reuse_keys=False), st.data())
def test_combine_is_associative(history: list[ChangeFacts], data: st.DataObject) -> None:
    """Summing a sequence equals summing its two parts' sums, wherever it is split."""
    cut = data.draw(st.integers(min_value=1, max_value=len(history) - 1))
    whole = combine(history)
    parts = combine([combine(history[:cut]), combine(history[cut:])])
    assert parts.as_dict() == whole.as_dict()


def _shape(facts: ChangeFacts) -> list[tuple[object, ...]]:
    """What a sum must agree on even when keys are reused: actions and before/after values."""
    situations: list[tuple[object, ...]] = [
        (s.key, s.action, s.severity_before, s.severity_after, s.probability_before, *rest)
        for s in facts.situations
        for rest in [(s.probability_after, s.mitigated_before, s.mitigated_after)]
    ]
    return situations + [(i.key, i.action) for i in facts.controls + facts.requirements]


@given(histories(min_size=2, max_size=6), st.data())
def test_combine_keeps_actions_and_values_when_removed_keys_come_back(
    history: list[ChangeFacts], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(min_value=1, max_value=len(history) - 1))
    parts = combine([combine(history[:cut]), combine(history[cut:])])
    assert _shape(parts) == _shape(combine(history))


@given(histories(max_size=1))
def test_combine_of_one_change_is_that_change(history: list[ChangeFacts]) -> None:
    (only,) = history
    summed = combine(history)
    assert sorted(s.as_dict()["key"] for s in summed.situations) == sorted(
        s.key for s in only.situations
    )
    assert set(summed.controls) == set(only.controls)
    assert set(summed.requirements) == set(only.requirements)
