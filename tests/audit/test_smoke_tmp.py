from medfleet.audit.service import verify
from medfleet.db.engine import transaction
from tests.builders import build_world


def test_world_verifies(runtime):
    build_world(runtime)
    with transaction(runtime.sessions) as s:
        result = verify(s, runtime.trusted_keys())
    assert result.ok, result
    assert result.events_checked > 10
