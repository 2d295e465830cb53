"""Fixtures for the signing tests (helpers live in ``tests.signing.helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfleet.clock import FrozenClock
from tests.builders import clock_at_real_time
from tests.signing.helpers import Signing, make_signing


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock starting at the real time (the TUF client checks expiry against it)."""
    return clock_at_real_time()


@pytest.fixture
def signing(tmp_path: Path, clock: FrozenClock) -> Signing:
    """Demo-style signing: one root holder, admin holds targets, QA signs model IP-100."""
    return make_signing(tmp_path, clock)
