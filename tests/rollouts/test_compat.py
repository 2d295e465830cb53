"""Upgrade routing: direct installs, intermediates and chains, every way to be ineligible,
and the rollback rule; hypothesis checks the guarantees against a brute-force search."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.rollouts.compat import (
    Ineligible,
    IneligibleReason,
    ReleaseInfo,
    Step,
    release_info,
    route,
    route_rollback,
)

MODEL = "IP-100"


def rel(
    number: int,
    min_from: int | None = None,
    revisions: str = "AB",
    *,
    withdrawn: bool = False,
    model: str = MODEL,
) -> ReleaseInfo:
    return ReleaseInfo(
        release_id=f"{model}-{number}",
        model=model,
        version=str(number),
        version_number=number,
        hardware_revisions=frozenset(revisions),
        min_from_version_number=min_from,
        withdrawn=withdrawn,
    )


def ids(result: Step | Ineligible) -> list[int]:
    assert isinstance(result, Step), result
    return [release.version_number for release in result.path]


def reason(result: Step | Ineligible) -> IneligibleReason:
    assert isinstance(result, Ineligible), result
    return result.reason


def test_a_target_without_minimum_installs_directly() -> None:
    target = rel(500)
    result = route(100, "A", target, [rel(100), target], model=MODEL)
    assert isinstance(result, Step)
    assert result.release == target
    assert result.final
    assert result.hops == 1


def test_a_minimum_from_version_routes_through_the_highest_reachable_intermediate() -> None:
    target = rel(500, min_from=300)
    available = [rel(100), rel(200), rel(300, min_from=100), rel(400, min_from=350), target]
    # 400 is not reachable from 100 (needs 350); 300 is, and it satisfies 500's minimum.
    assert ids(route(100, "A", target, available, model=MODEL)) == [300, 500]
    result = route(100, "A", target, available, model=MODEL)
    assert isinstance(result, Step)
    assert not result.final


def test_a_chain_of_several_hops() -> None:
    target = rel(500, min_from=400)
    available = [rel(200, min_from=100), rel(300, min_from=200), rel(400, min_from=300), target]
    assert ids(route(100, "A", target, available, model=MODEL)) == [200, 300, 400, 500]
    assert ids(route(300, "A", target, available, model=MODEL)) == [400, 500]
    assert ids(route(400, "A", target, available, model=MODEL)) == [500]


def test_withdrawn_and_incompatible_intermediates_are_skipped() -> None:
    target = rel(500, min_from=300)
    available = [
        rel(450, withdrawn=True),
        rel(420, revisions="C"),
        rel(410, model="IP-200"),
        rel(350),
        target,
    ]
    assert ids(route(100, "A", target, available, model=MODEL)) == [350, 500]


def test_no_intermediate_above_the_target_or_at_the_installed_version() -> None:
    target = rel(500, min_from=300)
    available = [rel(600), rel(100), target]
    assert reason(route(100, "A", target, available, model=MODEL)) is IneligibleReason.NO_PATH


@pytest.mark.parametrize(
    ("installed", "revision", "target", "model", "expected"),
    [
        (100, "A", rel(500), "IP-200", IneligibleReason.WRONG_MODEL),
        (100, "A", rel(500, withdrawn=True), MODEL, IneligibleReason.TARGET_WITHDRAWN),
        (100, "C", rel(500), MODEL, IneligibleReason.HARDWARE_NOT_SUPPORTED),
        (500, "A", rel(500), MODEL, IneligibleReason.UP_TO_DATE),
        (700, "A", rel(500), MODEL, IneligibleReason.UP_TO_DATE),
        (100, "A", rel(500, min_from=300), MODEL, IneligibleReason.NO_PATH),
        (None, "A", rel(500, min_from=300), MODEL, IneligibleReason.UNKNOWN_VERSION),
    ],
)
def test_ineligible(
    installed: int | None,
    revision: str,
    target: ReleaseInfo,
    model: str,
    expected: IneligibleReason,
) -> None:
    result = route(installed, revision, target, [target], model=model)
    assert reason(result) is expected
    assert isinstance(result, Ineligible)
    assert result.message


def test_messages_say_what_is_wrong() -> None:
    hw = route(1, "C", rel(500), [], model=MODEL)
    assert isinstance(hw, Ineligible)
    assert hw.message == (
        "release IP-100-500 does not run on hardware revision C (supported: A, B)"
    )
    path = route(100, "A", rel(500, min_from=300), [], model=MODEL)
    assert isinstance(path, Ineligible)
    assert "needs at least version 300" in path.message
    assert "from version 100" in path.message


def test_an_unknown_installed_version_gets_no_intermediate() -> None:
    # An intermediate might be a downgrade: only a target without a minimum installs.
    target = rel(500, min_from=300)
    result = route(None, "A", target, [rel(200), rel(300), target], model=MODEL)
    assert reason(result) is IneligibleReason.UNKNOWN_VERSION
    assert isinstance(result, Ineligible)
    assert "must report its version first" in result.message
    assert ids(route(None, "A", rel(500), [], model=MODEL)) == [500]


# --- rollback -----------------------------------------------------------------------------


def test_rollback_to_the_previous_release() -> None:
    target = rel(400, min_from=350)  # minimum from-versions do not apply going back
    result = route_rollback(500, "A", target, model=MODEL, previous_version_number=400)
    assert isinstance(result, Step)
    assert result.release == target
    assert result.final
    assert ids(route_rollback(500, "A", target, model=MODEL)) == [400]


@pytest.mark.parametrize(
    ("installed", "revision", "target", "previous", "expected"),
    [
        (500, "A", rel(400, withdrawn=True), 400, IneligibleReason.TARGET_WITHDRAWN),
        (500, "C", rel(400), 400, IneligibleReason.HARDWARE_NOT_SUPPORTED),
        (400, "A", rel(400), None, IneligibleReason.NOT_ABOVE_TARGET),
        (300, "A", rel(400), None, IneligibleReason.NOT_ABOVE_TARGET),
        (None, "A", rel(400), None, IneligibleReason.UNKNOWN_VERSION),
        (500, "A", rel(400), 300, IneligibleReason.NOT_PREVIOUS_RELEASE),
        (500, "A", rel(400, model="IP-200"), 400, IneligibleReason.WRONG_MODEL),
    ],
)
def test_rollback_refusals(
    installed: int | None,
    revision: str,
    target: ReleaseInfo,
    previous: int | None,
    expected: IneligibleReason,
) -> None:
    result = route_rollback(
        installed, revision, target, model=MODEL, previous_version_number=previous
    )
    assert reason(result) is expected


@dataclass
class Record:
    id: int
    model: str
    version: str
    version_number: int
    min_from_version_number: int | None
    hardware_revisions: list[str]
    state: str


def test_release_info_from_a_record() -> None:
    record = Record(7, MODEL, "4.2.0", 420, 400, ["B", "A"], "released")
    info = release_info(record)
    assert info == ReleaseInfo(
        "IP-100-4.2.0", MODEL, "4.2.0", 420, frozenset("AB"), 400, withdrawn=False, pk=7
    )
    assert release_info(replace(record, state="withdrawn")).withdrawn


# --- properties ---------------------------------------------------------------------------

REVISIONS = "ABC"


@st.composite
def catalogues(draw: st.DrawFn) -> tuple[list[ReleaseInfo], ReleaseInfo]:
    numbers = sorted(draw(st.sets(st.integers(1, 40), min_size=1, max_size=12)))
    releases = [
        rel(
            number,
            min_from=draw(st.none() | st.integers(0, number - 1)),
            revisions="".join(draw(st.sets(st.sampled_from(REVISIONS), min_size=1))),
            withdrawn=draw(st.booleans().map(lambda b: b and draw(st.booleans()))),
            model=draw(st.sampled_from([MODEL, MODEL, MODEL, "IP-200"])),
        )
        for number in numbers
    ]
    target = draw(st.sampled_from(releases))
    return releases, target


def shortest_path(
    installed: int | None, revision: str, target: ReleaseInfo, available: list[ReleaseInfo]
) -> list[int] | None:
    """Breadth-first search over every usable release (the specification, slowly)."""
    usable = [
        r
        for r in [*available, target]
        if r.model == MODEL
        and not r.withdrawn
        and revision in r.hardware_revisions
        and r.version_number <= target.version_number
    ]
    if installed is None and not target.accepts_from(None):
        return None  # an unknown version gets no intermediate
    frontier: list[tuple[int | None, list[int]]] = [(installed, [])]
    seen: set[int | None] = {installed}
    while frontier:
        following: list[tuple[int | None, list[int]]] = []
        for current, path in frontier:
            for release in usable:
                above = current is None or release.version_number > current
                if above and release.accepts_from(current):
                    if release.version_number == target.version_number:
                        return [*path, release.version_number]
                    if release.version_number not in seen:
                        seen.add(release.version_number)
                        following.append((release.version_number, [*path, release.version_number]))
        frontier = following
    return None


@settings(max_examples=250, deadline=None)
@given(catalogues(), st.none() | st.integers(0, 45), st.sampled_from(REVISIONS))
def test_route_keeps_its_guarantees(
    catalogue: tuple[list[ReleaseInfo], ReleaseInfo], installed: int | None, revision: str
) -> None:
    available, target = catalogue
    result = route(installed, revision, target, available, model=MODEL)
    if isinstance(result, Ineligible):
        usable_target = (
            target.model == MODEL and not target.withdrawn and revision in target.hardware_revisions
        )
        above = installed is not None and installed >= target.version_number
        if usable_target and not above:
            assert shortest_path(installed, revision, target, available) is None
        return
    # Every step is installable, never withdrawn, and the path climbs to the target.
    current = installed
    for release in result.path:
        assert not release.withdrawn
        assert release.model == MODEL
        assert release.supports(revision)
        assert release.accepts_from(current)
        assert current is None or release.version_number > current
        current = release.version_number
    assert result.path[-1] == target
    assert result.release == result.path[0]
    # Greedy is optimal: as few hops as the brute-force search finds.
    best = shortest_path(installed, revision, target, available)
    assert best is not None
    assert len(result.path) == len(best)


@settings(max_examples=150, deadline=None)
@given(catalogues(), st.none() | st.integers(0, 45), st.sampled_from(REVISIONS))
def test_following_the_steps_reaches_the_target(
    catalogue: tuple[list[ReleaseInfo], ReleaseInfo], installed: int | None, revision: str
) -> None:
    available, target = catalogue
    current = installed
    for _ in range(len(available) + 1):
        result = route(current, revision, target, available, model=MODEL)
        if isinstance(result, Ineligible):
            assert current == installed, "a path stopped half-way"
            return
        current = result.release.version_number
        if result.final:
            assert current == target.version_number
            final = route(current, revision, target, available, model=MODEL)
            assert reason(final) is IneligibleReason.UP_TO_DATE
            return
    pytest.fail("the steps did not end")


@settings(deadline=None)
@given(catalogues(), st.integers(0, 45), st.none() | st.integers(0, 45), st.sampled_from(REVISIONS))
def test_rollback_never_goes_to_a_withdrawn_or_incompatible_release(
    catalogue: tuple[list[ReleaseInfo], ReleaseInfo],
    installed: int,
    previous: int | None,
    revision: str,
) -> None:
    _, target = catalogue
    result = route_rollback(
        installed, revision, target, model=MODEL, previous_version_number=previous
    )
    if isinstance(result, Step):
        assert result.release == target
        assert not target.withdrawn
        assert target.supports(revision)
        assert target.version_number < installed
        assert previous in (None, target.version_number)
