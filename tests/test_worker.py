"""The worker keeps signed metadata from expiring, moves campaigns on and checks patch
deadlines; one failing job does not stop the others; ``medfleet serve --with-worker`` runs it
in a thread."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from medfleet import worker
from medfleet.cli.app import app
from medfleet.cli.serve import background_worker
from medfleet.clock import FrozenClock
from medfleet.rollouts.model import Urgency
from medfleet.runtime import Runtime
from medfleet.signing.distribution import REFRESH_INTERVAL, REFRESH_MARGIN, Distribution
from medfleet.signing.errors import RepositoryNotFoundError
from medfleet.signing.tuf_api import Timestamp
from medfleet.signing.tufrepo import TIMESTAMP
from tests.rollouts.campaign_support import Camp, camp

__all__ = ["camp"]

DEVICE = "dev-0001"
JOBS = ["refresh-repositories", "advance-campaigns", "check-deadlines"]


def refresh_result(runtime: Runtime) -> worker.JobResult:
    """The refresh job's result of one full cycle (every job ran, in order)."""
    results = worker.run_cycle(runtime)
    assert [r.name for r in results] == JOBS
    assert all(r.ok for r in results), results
    return results[0]


def director_timestamp(distribution: Distribution, device_id: str) -> Timestamp:
    timestamp: Timestamp = (
        distribution.director.device_dir(device_id).read("timestamp.json", Timestamp).signed
    )
    return timestamp


def test_nothing_is_resigned_while_everything_is_fresh(
    runtime: Runtime, distribution: Distribution
) -> None:
    distribution.director.enroll(DEVICE)
    result = refresh_result(runtime)
    assert result.summary["image_resigned"] == []
    assert result.summary["director_resigned_devices"] == 0


def test_director_timestamps_are_renewed_before_they_expire(
    runtime: Runtime, distribution: Distribution, clock: FrozenClock
) -> None:
    distribution.director.enroll(DEVICE)
    before = director_timestamp(distribution, DEVICE)
    # A worker running every REFRESH_INTERVAL sees the one-hour timestamp inside the margin
    # well before it expires.
    clock.advance(timedelta(hours=1) - REFRESH_MARGIN + timedelta(seconds=1))
    result = refresh_result(runtime)
    assert result.summary["director_resigned_devices"] == 1
    after = director_timestamp(distribution, DEVICE)
    assert after.version == before.version + 1
    assert after.expires - clock.now() > REFRESH_MARGIN + REFRESH_INTERVAL


def test_the_image_repository_snapshot_and_timestamp_are_renewed(
    runtime: Runtime, distribution: Distribution, clock: FrozenClock
) -> None:
    clock.advance(timedelta(days=7))  # past the image snapshot's lifetime
    result = refresh_result(runtime)
    assert set(result.summary["image_resigned"]) == {"snapshot", TIMESTAMP}  # type: ignore[arg-type]
    chain = distribution.image.chain()
    assert chain.timestamp.signed.expires > clock.now() + REFRESH_MARGIN


def test_a_failing_job_is_reported_and_the_others_still_run(runtime: Runtime) -> None:
    ran: list[str] = []

    def failing(_: Runtime) -> dict[str, object]:
        raise RepositoryNotFoundError("no repositories here")

    def fine(_: Runtime) -> dict[str, object]:
        ran.append("fine")
        return {"done": 1}

    results = worker.run_cycle(runtime, [worker.Job("a", failing), worker.Job("b", fine)])
    assert [(r.name, r.ok, r.error) for r in results] == [
        ("a", False, "no repositories here"),
        ("b", True, None),
    ]
    assert ran == ["fine"]


def test_run_forever_stops_when_asked(runtime: Runtime, distribution: Distribution) -> None:
    stop = threading.Event()
    seen: list[list[worker.JobResult]] = []

    def after_cycle(results: list[worker.JobResult]) -> None:
        seen.append(results)
        if len(seen) == 2:
            stop.set()

    # the first wait times out at once (interval 0); the second cycle sets the stop event
    cycles = worker.run_forever(runtime, stop, interval=timedelta(0), on_cycle=after_cycle)
    assert cycles == 2
    assert all(r.ok for results in seen for r in results)


def test_worker_once_on_a_fresh_deployment(tmp_path: Path) -> None:
    env = {
        "MEDFLEET_ARGON2_TIME_COST": "1",
        "MEDFLEET_ARGON2_MEMORY_KIB": "64",
        "MEDFLEET_ADMIN_PASSWORD": "admin password",
        "MEDFLEET_ROOT_PASSWORD_1": "root password",
    }
    runner = CliRunner()
    init = runner.invoke(app, ["init", "--data-dir", str(tmp_path), "--json"], env=env)
    assert init.exit_code == 0, init.stdout
    once = runner.invoke(app, ["worker", "--once", "--json", "--data-dir", str(tmp_path)])
    assert once.exit_code == 0, once.stdout
    document = json.loads(once.stdout)
    assert document["ok"] is True
    assert [job["job"] for job in document["jobs"]] == JOBS
    assert document["jobs"][1]["worked"] == []  # no campaign yet
    assert document["jobs"][2]["alerts"] == []  # no assessment yet


def test_worker_once_without_init_fails_clearly(tmp_path: Path) -> None:
    once = CliRunner().invoke(app, ["worker", "--once", "--json", "--data-dir", str(tmp_path)])
    assert once.exit_code == 1
    document = json.loads(once.stdout)
    assert document["ok"] is False
    assert "medfleet init" in document["jobs"][0]["error"]
    # the scheduler and the deadline check find no database tables: a database error fails
    # only its own job
    for job in document["jobs"][1:]:
        assert job["ok"] is False
        assert job["error"].startswith("database error: ")


def test_the_worker_moves_campaigns_on(camp: Camp) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    device = camp.device(world.site_a)
    key = camp.create(urgency="critical", selection={"test_devices": "exclude"})
    camp.start(key)
    results = worker.run_cycle(camp.rt)
    advanced = results[1]
    assert (advanced.name, advanced.ok) == ("advance-campaigns", True)
    assert advanced.summary["worked"] == [key]
    assert camp.statuses(key) == {device.device_id: "assigned"}
    instruction = camp.instruction(device)
    assert instruction is not None
    assert instruction.version_number == 420


def test_serve_with_worker_runs_cycles_in_a_thread_until_it_stops(camp: Camp) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    device = camp.device(world.site_a)
    key = camp.create(urgency="critical", selection={"test_devices": "exclude"})
    camp.start(key)
    cycled = threading.Event()
    seen: list[list[worker.JobResult]] = []

    def after_cycle(results: list[worker.JobResult]) -> None:
        seen.append(results)
        cycled.set()

    with background_worker(camp.rt, timedelta(hours=1), after_cycle) as thread:
        assert cycled.wait(timeout=120), "the worker thread ran no cycle"
        assert thread.is_alive()  # waiting for its next cycle, an hour away
    assert not thread.is_alive()  # leaving the block stopped it without waiting an hour
    assert len(seen) == 1
    assert [r.ok for r in seen[0]] == [True, True, True]
    assert camp.statuses(key) == {device.device_id: "assigned"}


def test_serve_offers_the_worker_option() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--with-worker" in result.stdout
    assert "--worker-interval" in result.stdout
