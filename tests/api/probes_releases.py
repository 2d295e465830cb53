"""Tenant-isolation probes for the releases routes (merged into ``test_isolation.PROBES``).

Every route of the domain needs a probe here: hospital A's admin and biomed call it against the
manufacturer's (or hospital B's) objects and must be refused or see nothing.
"""

from __future__ import annotations

from tests.api.helpers import TestClient
from tests.api.isolation_support import Probes
from tests.builders import World

SECRETS: tuple[str, ...] = ()

PROBES: Probes = {}


def create_objects(client: TestClient, world: World) -> None:
    """Create the manufacturer objects the probes aim at (none yet)."""
