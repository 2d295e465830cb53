"""Hypothesis strategies: consistent histories of changes to one device's risk file and spec."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from medfleet.changes.assessment.facts import (
    ChangeFacts,
    ControlFact,
    RequirementFact,
    SituationFact,
)

SITUATIONS = ("HS-1", "HS-2", "HS-3")
CONTROLS = ("RC-1", "RC-2", "RC-3")
REQUIREMENTS = ("SRS-1", "SRS-2", "SRS-3")
levels = st.integers(min_value=1, max_value=5)


@st.composite
def _situation(draw: Any, key: str, exists: bool) -> SituationFact:
    action = draw(st.sampled_from(("modified", "removed") if exists else ("added",)))
    before = (draw(levels), draw(levels), draw(st.booleans())) if exists else (None,) * 3
    after = (
        (draw(levels), draw(levels), draw(st.booleans())) if action != "removed" else (None,) * 3
    )
    return SituationFact(
        key,
        action,
        before[0],
        after[0],
        before[1],
        after[1],
        draw(st.booleans()),
        before[2],
        after[2],
    )


@st.composite
def _control(draw: Any, key: str, exists: bool) -> ControlFact:
    action = draw(st.sampled_from(("modified", "removed") if exists else ("added",)))
    situations = tuple(draw(st.lists(st.sampled_from(SITUATIONS), min_size=1, max_size=2)))
    return ControlFact(key, action, situations, draw(st.booleans()), draw(st.booleans()))


@st.composite
def _requirement(draw: Any, key: str, exists: bool) -> RequirementFact:
    action = draw(st.sampled_from(("modified", "retired") if exists else ("added",)))
    kind = draw(st.sampled_from(("functional", "performance", "safety", "security", "usability")))
    return RequirementFact(key, action, kind)


@st.composite
def histories(
    draw: Any, min_size: int = 1, max_size: int = 5, *, reuse_keys: bool = True
) -> list[ChangeFacts]:
    """A sequence of changes, oldest first, each consistent with the ones before it.

    Without ``reuse_keys`` no removed item is added again (as in the risk file).
    """
    count = draw(st.integers(min_value=min_size, max_value=max_size))
    exists = {key: draw(st.booleans()) for key in SITUATIONS + CONTROLS + REQUIREMENTS}
    gone: set[str] = set()
    changes = []
    for number in range(count):
        items: dict[str, list[Any]] = {"s": [], "c": [], "r": []}
        for group, keys, make in (
            ("s", SITUATIONS, _situation),
            ("c", CONTROLS, _control),
            ("r", REQUIREMENTS, _requirement),
        ):
            for key in keys:
                if draw(st.booleans()) and (reuse_keys or key not in gone):
                    item = draw(make(key, exists[key]))
                    exists[key] = item.action not in ("removed", "retired")
                    if not exists[key]:
                        gone.add(key)
                    items[group].append(item)
        changes.append(
            ChangeFacts(
                f"CR-{number + 1}",
                f"change {number + 1}",
                draw(st.sampled_from(("minor", "major", "cybersecurity", "ai_model"))),
                draw(st.sampled_from(("A", "B", "C"))),
                "pump-X",
                tuple(items["s"]),
                tuple(items["c"]),
                tuple(items["r"]),
            )
        )
    return changes


def changes() -> st.SearchStrategy[ChangeFacts]:
    """A single change with arbitrary (valid) facts."""
    return histories(max_size=1).map(lambda history: history[0])
