"""Exposure's device counts: counted beside the rest of the query on PostgreSQL, and narrowed
exactly to the releases VEX leaves affected, whichever way the narrowing goes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import Session

import medfleet.vulns.exposure as exposure_module
from medfleet.db.engine import transaction
from medfleet.db.side_read import SideRead
from medfleet.vulns.exposure_devices import (
    CandidateCounts,
    DeviceCounts,
    SiteCount,
    count_candidates,
    device_counts,
    exact_counts,
)
from tests.vulns.support_exposure import Scene, principal_named, scene
from tests.vulns.test_exposure import exposure, release_counts

__all__ = ["scene"]


def test_the_count_runs_beside_the_query_on_postgresql(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[SideRead[Any]] = []
    start = exposure_module.start_side_read

    def spy(session: Session, read: Callable[[Connection], Any]) -> SideRead[Any]:
        started.append(start(session, read))
        return started[-1]

    monkeypatch.setattr(exposure_module, "start_side_read", spy)
    found = exposure(scene, "eng")
    assert found.device_count == 7
    [side] = started
    assert side.beside is (scene.rt.settings.database_url.startswith("postgresql"))


def test_vex_ruling_out_most_exposed_devices_counts_the_rest_afresh(scene: Scene) -> None:
    """4.1.0 runs on 4 of the 7 exposed devices: counting the other 3 is the cheaper way."""
    scene.rule_out("IP-100-4.1.0")
    found = exposure(scene, "eng")
    assert release_counts(found) == {"IP-100-4.0.0": 2, "VM-7-1.0.0": 1}
    per_hospital = {h.name: (h.device_count, h.test_device_count) for h in found.hospitals}
    assert per_hospital == {"Bayview Medical Center": (1, 0), "St. Anna Hospital": (2, 0)}
    sites = {(h.name, s.name): s.device_count for h in found.hospitals for s in h.sites}
    assert sites == {
        ("Bayview Medical Center", "North"): 1,
        ("St. Anna Hospital", "East Wing"): 1,
        ("St. Anna Hospital", "Main Campus"): 1,
    }
    assert (found.device_count, found.test_device_count) == (3, 0)


VULNERABLE = ("IP-100-4.0.0", "IP-100-4.1.0", "VM-7-1.0.0")


def _counts(scene: Scene, connection: Connection, *release_ids: str) -> DeviceCounts:
    eng = principal_named(scene.world, "eng")
    return device_counts(connection, eng, {scene.releases[r] for r in release_ids})


@pytest.mark.parametrize(
    ("candidates", "affected"),
    [
        (VULNERABLE, VULNERABLE),
        (VULNERABLE, ("IP-100-4.1.0", "VM-7-1.0.0")),
        (VULNERABLE, ("IP-100-4.0.0",)),
        (VULNERABLE, ()),
        (("IP-100-4.1.0",), ("IP-100-4.0.0", "IP-100-4.1.0")),
    ],
    ids=["same", "fewer-ruled-out", "most-ruled-out", "all-ruled-out", "newer-finding"],
)  # fmt: skip
def test_exact_counts_are_the_affected_releases_own(
    scene: Scene, candidates: tuple[str, ...], affected: tuple[str, ...]
) -> None:
    eng = principal_named(scene.world, "eng")
    with transaction(scene.rt.sessions) as session:
        connection = session.connection()
        counted = CandidateCounts(
            frozenset(scene.releases[r] for r in candidates),
            _counts(scene, connection, *candidates),
        )
        pks = {scene.releases[r] for r in affected}
        assert exact_counts(connection, eng, pks, counted) == _counts(scene, connection, *affected)


def test_candidates_are_the_releases_with_an_active_finding(scene: Scene) -> None:
    eng, hospital = principal_named(scene.world, "eng"), principal_named(scene.world, "admin.b")
    with transaction(scene.rt.sessions) as session:
        connection = session.connection()
        for principal in (eng, hospital):
            counted = count_candidates(connection, principal, scene.vulnerability_id)
            assert counted.release_pks == {scene.releases[r] for r in VULNERABLE}
        assert sum(counted.counts.per_release.values()) == 2  # Bayview's own devices only


def test_counts_without_some_releases_drop_the_emptied_sites() -> None:
    north, none = SiteCount("Bayview", "North", 3, 1), SiteCount("Bayview", None, 1, 0)
    counts = DeviceCounts({1: 3, 2: 1, 3: 1}, {(10, 100): north, (10, None): none})
    removed = DeviceCounts({2: 1, 3: 1}, {(10, None): none, (10, 100): north._replace(devices=1)})
    assert counts.without(removed) == DeviceCounts(
        {1: 3}, {(10, 100): SiteCount("Bayview", "North", 2, 0)}
    )
    assert counts.without(counts) == DeviceCounts({}, {})
