"""Fixtures shared by the update tests: a simulated pair of repositories and an enrolled device.

``v1`` is published and installed on ``device``; ``v2`` is published but not assigned.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tuf.api.metadata import TargetFile

from tests.agent.simulator import MODEL, V1, V2, SimDevice, UptaneSimulator


@pytest.fixture
def sim() -> UptaneSimulator:
    return UptaneSimulator()


@pytest.fixture
def v1(sim: UptaneSimulator) -> TargetFile:
    return sim.publish_image(MODEL, V1, 100)


@pytest.fixture
def v2(sim: UptaneSimulator, v1: TargetFile) -> TargetFile:
    return sim.publish_image(MODEL, V2, 200)


@pytest.fixture
def device(sim: UptaneSimulator, v1: TargetFile, tmp_path: Path) -> SimDevice:
    return sim.enroll(tmp_path / "state", installed=v1)
