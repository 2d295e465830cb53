"""Two workers on PostgreSQL never instruct one device twice.

Two campaigns were drafted over the same devices (a draft holds no device, so neither planner
saw the other) and both run. Two workers, each with its own runtime (engine, sessions, director
object), run a scheduler cycle at once: a ``threading.Barrier`` in the hook the scheduler calls
right after it locked a campaign row makes both hold a campaign (the second skips the one the
first holds) before either assigns, so both try to take the very same devices concurrently.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from medfleet.config import Settings
from medfleet.db.engine import transaction
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.scheduler import advance_campaigns
from medfleet.rollouts.tables import ActiveAssignment, CampaignDevice
from medfleet.runtime import Runtime
from tests.rollouts.campaign_support import Camp, camp

__all__ = ["camp"]

pytestmark = pytest.mark.parametrize(
    "settings", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
DEVICES = 30


@pytest.fixture
def second_worker(settings: Settings, runtime: Runtime) -> Iterator[Runtime]:
    """Another worker process's runtime on the same database and data directory."""
    other = Runtime(settings, clock=runtime.clock)
    try:
        yield other
    finally:
        other.close()


def test_two_workers_never_assign_a_device_twice(camp: Camp, second_worker: Runtime) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    devices = camp.devices(DEVICES, world.site_a)
    selection = {"test_devices": "exclude"}
    first = camp.create(selection=selection, urgency="critical", name="first")
    second = camp.create(selection=selection, urgency="critical", name="second")
    assert len(camp.statuses(first)) == len(camp.statuses(second)) == DEVICES
    camp.start(first)
    camp.start(second)

    barrier = threading.Barrier(2, timeout=60)
    summaries: dict[str, dict[str, Any]] = {}
    failures: list[BaseException] = []

    def work(name: str, runtime: Runtime) -> None:
        waited = False

        def overlap(_key: str) -> None:
            nonlocal waited
            if not waited:  # only the first campaign each worker locks
                waited = True
                barrier.wait()

        try:
            summaries[name] = advance_campaigns(runtime, on_locked=overlap)
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=work, args=("a", camp.rt)),
        threading.Thread(target=work, args=("b", second_worker)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)
    # both held a campaign at the same time: one of them skipped the other's locked row
    assert any(summary["skipped_locked"] for summary in summaries.values()), summaries

    # every device was taken by exactly one campaign ...
    with transaction(camp.rt.sessions) as session:
        taken = list(session.scalars(select(ActiveAssignment)))
        assigned = list(
            session.scalars(
                select(CampaignDevice.device_pk).where(CampaignDevice.status == "assigned")
            )
        )
    assert sorted(row.device_pk for row in taken) == sorted(d.pk for d in devices)
    assert Counter(assigned) == Counter({d.pk: 1 for d in devices})
    # ... as the audit trail says: one assignment and one director write per device ...
    listed = Counter(
        device
        for _action, payload in camp.events("campaign.devices_assigned")
        for group in payload["assignments"]
        for device in group["devices"]
    )
    assert listed == Counter({d.device_id: 1 for d in devices})
    written = Counter(
        device
        for _action, payload in camp.events("campaign.instructions_synced")
        for device in payload.get("instructed", [])
    )
    assert written == Counter({d.device_id: 1 for d in devices})
    # ... and as the director's own metadata says: enrolled (1), then one instruction (2)
    director = camp.rt.distribution.director
    versions = {
        d.device_id: director.device_dir(d.device_id).versions("targets")[-1] for d in devices
    }
    assert set(versions.values()) == {2}
    statuses = [camp.statuses(first), camp.statuses(second)]
    for device in devices:
        assert sorted(s[device.device_id] for s in statuses) == ["assigned", "waiting"]
