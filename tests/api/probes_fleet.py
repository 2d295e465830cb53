"""Tenant-isolation probes for the fleet routes (merged into ``test_isolation.PROBES``).

Every route of the domain needs a probe here (filled in with the routes).
"""

from __future__ import annotations

from tests.api.helpers import TestClient
from tests.api.isolation_support import Probes
from tests.builders import World

SECRETS: tuple[str, ...] = ()

PROBES: Probes = {}


def create_objects(client: TestClient, world: World) -> None:
    """Objects of the manufacturer or hospital B that hospital A must not reach (none yet)."""
