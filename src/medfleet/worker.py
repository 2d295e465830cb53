"""The background worker: periodic jobs that keep the deployment healthy without anyone asking.

Today one job runs: re-signing the online metadata of both update repositories before it expires
(the director's per-device timestamps live one hour, so the worker runs every ten minutes and
renews anything that expires within forty). Later issues add jobs (advancing campaigns) to
``DEFAULT_JOBS``. Every job is idempotent, so two workers, or a worker restarted mid-cycle, do
no harm; a job that fails is reported and the others still run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from medfleet.errors import MedfleetError
from medfleet.runtime import Runtime
from medfleet.signing.distribution import REFRESH_INTERVAL

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


DEFAULT_JOBS: tuple[Job, ...] = (Job("refresh-repositories", refresh_repositories),)


def run_cycle(runtime: Runtime, jobs: Sequence[Job] = DEFAULT_JOBS) -> list[JobResult]:
    """Run every job once, in order; a medfleet error or I/O error fails only its own job."""
    results = []
    for job in jobs:
        try:
            summary = job.run(runtime)
        except (MedfleetError, OSError) as error:
            LOG.error("job %s failed: %s", job.name, error)
            results.append(JobResult(job.name, False, {}, str(error)))
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
