"""The child of ``bench/plan.py``: synthesise one fleet (untimed), then time planning on it.

Imported only by ``bench/plan.py --child``; see that file for what is measured.
"""

from __future__ import annotations

import gc
import json
import random
import resource
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from medfleet.rollouts import window_compile
from medfleet.rollouts.columns import FleetColumns
from medfleet.rollouts.compat import ReleaseInfo
from medfleet.rollouts.model import CampaignKind, Urgency
from medfleet.rollouts.planning import DeviceStatus, Plan, plan_campaign
from medfleet.rollouts.policy_parse import parse_policy
from medfleet.rollouts.selection import Selection
from medfleet.rollouts.startable import startable
from medfleet.rollouts.windows import Blackout, Opening, WindowRule, next_opening, parse_rule
from plan import ZONES, log

NOW = datetime(2026, 3, 2, 12, 17, tzinfo=UTC)
MODELS = ("IP-100", "IP-200", "VX-9")
REVISIONS = ("A", "B", "C")
TAGS = ("icu", "er", "or", "ward")
SITES_PER_HOSPITAL = 5
POLICY = {
    "phases": [
        {"name": "pilot", "percent": 1, "success_threshold": 98, "error_threshold": 1},
        {"name": "early", "percent": 9, "success_threshold": 95, "error_threshold": 2},
        {"name": "broad", "percent": 40, "success_threshold": 95, "error_threshold": 2},
        {"name": "rest", "percent": 50, "success_threshold": 95, "error_threshold": 2},
    ],
    "abort_criteria": [{"failure_type": "any", "threshold_percent": 10, "min_finished": 100}],
    "urgency": "routine",
}


def release(number: int, min_from: int | None = None, *, withdrawn: bool = False) -> ReleaseInfo:
    """A release of IP-100 for revisions A and B (C is never supported)."""
    version = f"{number // 100}.{number % 100 // 10}.0"
    return ReleaseInfo(
        f"IP-100-{version}", "IP-100", version, number, frozenset("AB"), min_from, withdrawn
    )


TARGET = release(600, min_from=400)
AVAILABLE = (
    release(100),
    release(200),
    release(300, min_from=100),
    release(400, min_from=200),
    release(450, withdrawn=True),
    release(500, min_from=300),
    TARGET,
)
# From 1.0.0: 3.0.0, 5.0.0, 6.0.0; from 2.0.0: 4.0.0, 6.0.0; from 3.0.0: 5.0.0, 6.0.0.
VERSIONS = (100, 200, 300, 400, 500, 600, -1)
VERSION_WEIGHTS = (10, 15, 20, 20, 25, 9.8, 0.2)


@dataclass
class Synthetic:
    """One synthetic fleet and everything the plan needs beside it."""

    fleet: FleetColumns
    rules: dict[int, list[WindowRule]]
    blackouts: dict[int, list[Blackout]]
    accepted: frozenset[int]
    confirmed: frozenset[int]
    busy: frozenset[int]


def rss_mb() -> float:
    """The resident set size now, in MB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def site_windows(
    sites: int, rng: random.Random
) -> tuple[dict[int, list[WindowRule]], dict[int, list[Blackout]]]:
    """A daily or weekly window per site; ~10 % blacked out for the next days."""
    days = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
    rules: dict[int, list[WindowRule]] = {}
    blackouts: dict[int, list[Blackout]] = {}
    for site in range(1, sites + 1):
        zone = ZONES[site % len(ZONES)]
        start = datetime(2025, 9, 1, rng.randrange(0, 5), rng.choice((0, 15, 30, 45)))
        weekly = f"FREQ=WEEKLY;BYDAY={rng.choice(days)}"
        rrule = "FREQ=DAILY" if rng.random() < 0.5 else weekly
        duration = timedelta(minutes=rng.choice((120, 180, 240)))
        rules[site] = [parse_rule(zone, start, rrule, duration)]
        if rng.random() < 0.1:
            freeze_end = NOW + timedelta(days=rng.randrange(1, 10))
            blackouts[site] = [Blackout(NOW - timedelta(days=2), freeze_end, "freeze")]
        else:
            blackouts[site] = []
    return rules, blackouts


def synthesise(devices: int, sites: int, seed: int) -> Synthetic:
    """A seeded fleet of ``devices`` devices in ``sites`` sites (unevenly sized)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    weights = [rng.lognormvariate(0, 0.8) for _ in range(sites)]
    site_of = rng.choices(range(1, sites + 1), weights, k=devices)
    fleet = FleetColumns(
        device_pk=array("q", range(1_000_001, 1_000_001 + devices)),
        org_id=array("q", ((site - 1) // SITES_PER_HOSPITAL + 1 for site in site_of)),
        site_id=array("q", site_of),
        model=array("h", rng.choices((0, 1, 2), (80, 15, 5), k=devices)),
        hardware_revision=array("h", rng.choices((0, 1, 2), (55, 40, 5), k=devices)),
        version=array("q", rng.choices(VERSIONS, VERSION_WEIGHTS, k=devices)),
        is_test=bytes(rng.choices((0, 1), (99, 1), k=devices)),
        tags=array("Q", rng.choices((0, 1, 2, 4, 8, 3), (50, 10, 10, 10, 15, 5), k=devices)),
        model_names=MODELS,
        revision_names=REVISIONS,
        tag_names=TAGS,
    )
    del site_of
    rules, blackouts = site_windows(sites, rng)
    accepted = frozenset(s for s in range(1, sites + 1) if rng.random() >= 0.08)
    confirmed = frozenset(s for s in accepted if rng.random() < 0.7)
    busy = frozenset(rng.sample(range(1_000_001, 1_000_001 + devices), devices // 200))
    return Synthetic(fleet, rules, blackouts, accepted, confirmed, busy)


Round = tuple[float, float, float, float, Plan, dict[str, Any]]


def time_round(data: Synthetic) -> Round:
    """One timed round: every site's next opening, the plan, phase 1's startable devices."""
    window_compile.compile_rule.cache_clear()
    cpu_started = time.process_time()
    started = time.perf_counter()
    openings: dict[int, Opening | None] = {
        site: next_opening(rules, data.blackouts[site], NOW) for site, rules in data.rules.items()
    }
    windows_s = time.perf_counter() - started
    policy = parse_policy(POLICY)
    started = time.perf_counter()
    plan = plan_campaign(
        data.fleet,
        campaign_key=4711,
        kind=CampaignKind.UPDATE,
        selection=Selection(),
        policy=policy,
        target=TARGET,
        available=AVAILABLE,
        accepted_sites=data.accepted,
        busy=data.busy,
        site_openings=openings,
    )
    plan_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    started = time.perf_counter()
    rows = plan.rows(1)
    pks: Sequence[int] = [data.fleet.device_pk[row] for row in rows]
    sites = [data.fleet.site_id[row] for row in rows]
    decision = startable(
        pks,
        sites,
        phase_index=1,
        now=NOW,
        windows=openings,
        urgency=Urgency.ROUTINE,
        held_sites=plan.test_sites - data.confirmed,
    )
    startable_s = time.perf_counter() - started
    start_summary = {
        "candidates": len(rows),
        "now": decision.count,
        "sites_now": len(decision.batches),
        "waiting": {reason.value: n for reason, n in decision.waiting.items() if n},
    }
    return windows_s, plan_s, cpu_s, startable_s, plan, start_summary


class Measurements:
    """The rounds one child ran; the parent gets each round's figures, the plan's decisions
    (the same every round) once at the end."""

    def __init__(self, devices: int) -> None:
        self.devices = devices
        self.last: Round | None = None

    def run(self, data: Synthetic) -> dict[str, float]:
        """One timed round; its figures (one JSON line for the parent)."""
        self.last = None
        gc.collect()
        self.last = result = time_round(data)
        return {
            "seconds": round(result[0] + result[1], 3),
            "windows_s": round(result[0], 3),
            "plan_s": round(result[1], 3),
            "cpu_s": round(result[2], 3),
            "startable_s": round(result[3], 3),
        }

    def summary(self, input_mb: float) -> dict[str, Any]:
        """What the plan decided, and the resident size before any round."""
        assert self.last is not None, "no round was run"
        plan, start_summary = self.last[4], self.last[5]
        counts = {status.code: n for status, n in plan.status_counts.items() if n}
        return {
            "devices": self.devices,
            "input_mb": input_mb,
            "plan": {
                "in_campaign": sum(plan.phase_counts),
                "phase_counts": list(plan.phase_counts),
                "ready_counts": list(plan.ready_counts),
                "statuses": counts,
                "via_intermediate": sum(1 for step in plan.step if step > 0),
                "steps": [release.release_id for release in plan.steps],
                "test_sites": len(plan.test_sites),
                "ready": plan.status_counts[DeviceStatus.READY],
            },
            "startable": start_summary,
        }


def serve(devices: int, sites: int, seed: int) -> None:
    """Synthesise, say ``ready``, then obey the parent: ``round`` runs one timed round and
    answers its figures, ``done`` answers the summary and ends. One JSON line per answer."""
    started = time.perf_counter()
    data = synthesise(devices, sites, seed)
    gc.collect()
    input_mb = rss_mb()
    log(
        f"{devices:,} devices synthesised in {time.perf_counter() - started:.1f} s "
        f"(resident {input_mb} MB)"
    )
    measurements = Measurements(devices)
    print(json.dumps({"ready": devices}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "round":
            print(json.dumps(measurements.run(data)), flush=True)
        elif command == "done":
            print(json.dumps(measurements.summary(input_mb)), flush=True)
            return
        else:
            raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    sys.exit("run bench/plan.py, which starts this as its child")
