"""The background worker: periodic jobs that keep the deployment healthy without anyone asking.

Three jobs run, in this order:

* ``refresh-repositories`` re-signs the online metadata of both update repositories before it
  expires (the director's per-device timestamps live one hour, so the worker runs every ten
  minutes by default and renews anything that expires within forty);
* ``advance-campaigns`` runs one campaign scheduler cycle
  (``medfleet.rollouts.scheduler.advance_campaigns``): starts due campaigns, reads install
  results, moves phases on, pauses, aborts or completes campaigns and gives due devices their
  director instructions;
* ``check-deadlines`` runs the vulnerability patch-deadline check
  (``medfleet.vulns.deadline_alerts.check_deadlines``): notes fixes whose campaign started and
  alerts every passed, unmet inform or fix deadline once.

Every job is idempotent, so two workers (on PostgreSQL they split the campaigns between them
with row locks, and a unique constraint lets only one of them raise a deadline alert), or a
worker restarted mid-cycle, do no harm; a job that fails (a medfleet error, an I/O error or a
database error) is reported and the others still run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from medfleet.errors import MedfleetError
from medfleet.rollouts.scheduler import advance_campaigns
from medfleet.runtime import Runtime
from medfleet.signing.distribution import REFRESH_INTERVAL
from medfleet.vulns.deadline_alerts import deadline_job

LOG = logging.getLogger(__name__)

JobRun = Callable[[Runtime], Mapping[str, object]]


@dataclass(frozen=True, slots=True)
class Job:
    """A named, idempotent unit of periodic work returning a JSON-ready summary."""

    name: str
    run: JobRun


@dataclass(frozen=True, slots=True)
class JobResult:
    """How one job went in one cycle: its summary, or the error that stopped it."""

    name: str
    ok: bool
    summary: Mapping[str, object]
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"job": self.name, "ok": self.ok, "error": self.error, **self.summary}


def refresh_repositories(runtime: Runtime) -> Mapping[str, object]:
    """Re-sign expiring online metadata; warn when a role needs an offline key holder."""
    refreshed = runtime.distribution.refresh()
    for role in refreshed.needs_offline:
        LOG.warning("%s expires soon and needs its offline key holders to re-sign it", role)
    return refreshed.as_dict()


def advance(runtime: Runtime) -> Mapping[str, object]:
    """One campaign scheduler cycle (``rollouts.scheduler.advance_campaigns``)."""
    return advance_campaigns(runtime)


DEFAULT_JOBS: tuple[Job, ...] = (
    Job("refresh-repositories", refresh_repositories),
    Job("advance-campaigns", advance),
    Job("check-deadlines", deadline_job),
)


def run_cycle(runtime: Runtime, jobs: Sequence[Job] = DEFAULT_JOBS) -> list[JobResult]:
    """Run every job once, in order; a medfleet, I/O or database error fails only its own job."""
    results = []
    for job in jobs:
        try:
            summary = job.run(runtime)
        except (MedfleetError, OSError, SQLAlchemyError) as error:
            message = str(error)
            if isinstance(error, SQLAlchemyError):  # the first line, without the SQL
                message = f"database error: {message.strip().splitlines()[0]}"
            LOG.error("job %s failed: %s", job.name, message)
            results.append(JobResult(job.name, False, {}, message))
        else:
            results.append(JobResult(job.name, True, dict(summary)))
    return results


def run_forever(
    runtime: Runtime,
    stop: threading.Event,
    *,
    interval: timedelta = REFRESH_INTERVAL,
    jobs: Sequence[Job] = DEFAULT_JOBS,
    on_cycle: Callable[[list[JobResult]], None] | None = None,
) -> int:
    """Run cycles every ``interval`` until ``stop`` is set; return how many cycles ran."""
    cycles = 0
    while not stop.is_set():
        results = run_cycle(runtime, jobs)
        cycles += 1
        if on_cycle is not None:
            on_cycle(results)
        stop.wait(interval.total_seconds())
    return cycles
