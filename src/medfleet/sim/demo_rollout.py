"""The rollout side of ``medfleet demo``: releases, hospital acceptance, the fleet, the policy.

The manufacturer registers the device model and releases 4.1.0 (the image the fleet leaves the
factory with) and then 4.2.0; the hospitals set nightly maintenance windows (01:00 local, four
hours) and accept 4.2.0 — St. Anna with a standing auto-approval that also confirms production,
Bayview per site, confirming production once its test devices run 4.2.0. A fleet operator
registers ``FleetPlan.devices`` virtual devices over HTTP (real agents on file-backed A/B slots,
``medfleet.sim.fleet``), two test devices per site among them, and starts a routine campaign:
the canary phase (test devices of every site), then one phase per site — Munich, Boston,
Seattle — each advancing at 90 % success and pausing above 10 % failures.

Faults: some Munich devices are in clinical use when their window opens (they defer and
install once released), some lose power mid-install (they recover), and a faulty batch of
Boston devices fails its self-test on 4.2.0: the agents roll back, the Boston phase passes its
error threshold and the campaign pauses, so Seattle never starts. The scenario clock
(``SimClock``) jumps from one maintenance window to the next; the scheduler
(``advance_campaigns``, the worker's job) runs between device rounds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from medfleet.accounts.auth import authenticate
from medfleet.accounts.model import Principal
from medfleet.db.engine import transaction
from medfleet.fleet import catalog
from medfleet.rollouts import (
    acceptance,
    acceptance_policies,
    window_service,
)
from medfleet.rollouts.acceptance_model import Urgency
from medfleet.runtime import Runtime
from medfleet.sim.demo_people import DEMO_PASSWORD, People, Step
from medfleet.sim.device import DeviceSpec
from medfleet.sim.faults import ClinicalUse, FaultProfile, PowerLoss
from medfleet.sim.release_flow import (
    Manufacturer,
    Released,
    ReleaseSpec,
    controlled_release,
    prepare_release_signing,
)

MODEL = "IP-100"
OLD, NEW = "4.1.0", "4.2.0"
WHO = Manufacturer("admin", "eng.erik", "qa.quinn", DEMO_PASSWORD)
SITES = ("Munich Campus", "Boston Main", "Seattle Clinic")
SHARE = {"Munich Campus": 0.4, "Boston Main": 0.4, "Seattle Clinic": 0.2}
FAULTY_LOT_SHARE = 0.15  # of Boston's production devices

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FleetPlan:
    """How many devices, and how many of them misbehave in which way."""

    devices: int = 200
    test_per_site: int = 2
    clinical_in_munich: int = 3
    power_losses: int = 3


@dataclass
class RolloutResult:
    """What the rollout did, for the summary."""

    releases: list[dict[str, Any]] = field(default_factory=list)
    campaign: dict[str, Any] = field(default_factory=dict)
    devices: int = 0
    on_new: int = 0
    rolled_back: int = 0
    in_between: int = 0
    on_old_untouched: int = 0
    paused_phases: list[str] = field(default_factory=list)
    rounds: int = 0
    simulated_hours: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)


def firmware(version: str, size: int = 96_000) -> bytes:
    """A deterministic image; two versions differ in a few places (so deltas stay small)."""
    body = bytearray(hashlib.shake_256(b"IP-100 firmware").digest(size))
    stamp = f"IP-100 firmware {version}".encode()
    for offset in range(0, size, size // 4):
        body[offset : offset + len(stamp)] = stamp
    return bytes(body)


def _spec(version: str, number: int, min_from: int | None, problem: str, title: str) -> ReleaseSpec:
    return ReleaseSpec(
        model=MODEL,
        version=version,
        version_number=number,
        hardware_revisions=("A", "B"),
        image=firmware(version),
        problem=problem,
        change_title=title,
        what_changed=title,
        risk_summary="No new hazards; the occlusion alarm's residual risk is reduced.",
        downtime_minutes=5,
        compatibility="Hardware revisions A and B; from 4.1.0 on.",
        min_from_version_number=min_from,
    )


def release_both(rt: Runtime, admin: Principal, result: RolloutResult, step: Step) -> Released:
    """The device model in the catalogue, then 4.1.0 and 4.2.0 through the controlled path."""
    with transaction(rt.sessions) as session:
        catalog.register_model(
            session, rt.audit, admin, name=MODEL, display_name="Infusion pump IP-100",
            gtin="09506000134352", image_kind=catalog.FIRMWARE,
        )  # fmt: skip
        for revision in ("A", "B"):
            catalog.add_hardware_revision(session, rt.audit, admin, MODEL, revision)
    prepare_release_signing(rt, WHO, MODEL)
    old = controlled_release(
        rt, WHO, _spec(OLD, 410, None, "Pump stalls after 30 days", "Stall watchdog")
    )
    step(f"released {MODEL} {OLD} ({old.change_key}): the factory image of the fleet")
    new = controlled_release(
        rt,
        WHO,
        _spec(NEW, 420, 410, "Occlusion alarm 40 s late below 1 ml/h", "Faster occlusion alarm"),
    )
    step(
        f"released {MODEL} {NEW}: {new.problem_key} → {new.change_key}, assessed, e-signed, "
        f"target {new.target_path}"
    )
    result.releases = [
        {"version": r.version, "change_request": r.change_key, "target": r.target_path}
        for r in (old, new)
    ]
    return new


def hospitals_prepare(rt: Runtime, people: People, start: datetime, step: Step) -> None:
    """Nightly windows at every site; St. Anna auto-approves routine campaigns."""
    for index, hospital in enumerate(people.hospital_ids):
        admin = authenticate(rt, f"h{index + 1}.admin", DEMO_PASSWORD)
        with transaction(rt.sessions) as session:
            for site, owner in people.site_hospital.items():
                if owner != hospital:
                    continue
                window_service.add_window(
                    session, rt.audit, admin, site_id=people.site_ids[site], name="nightly",
                    start_local=datetime.combine(start.date(), datetime.min.time()).replace(
                        hour=1
                    ),
                    rrule="FREQ=DAILY", duration=timedelta(hours=4),
                )  # fmt: skip
    step("maintenance windows: every site nightly 01:00-05:00 local time")
    biomed = authenticate(rt, "h1.biomed", DEMO_PASSWORD)
    with transaction(rt.sessions) as session:
        acceptance_policies.set_policy(
            session, rt.audit, biomed, site_id=None, urgency=Urgency.ROUTINE,
            confirm_production=True,
        )  # fmt: skip
    step("St. Anna: routine campaigns auto-approved, production confirmed in advance")


def bayview_approves(rt: Runtime, people: People, step: Step) -> None:
    """Bayview's biomed reads 4.2.0's notes and approves it for both sites."""
    biomed = authenticate(rt, "h2.biomed", DEMO_PASSWORD)
    with transaction(rt.sessions) as session:
        for site in ("Boston Main", "Seattle Clinic"):
            acceptance.decide(
                session, rt.audit, biomed, model=MODEL, version=NEW,
                site_id=people.site_ids[site], approve=True,
                comment="Read the release notes; 5 min downtime fits the night window.",
            )  # fmt: skip
    step(f"Bayview approves {NEW} for Boston Main and Seattle Clinic (test devices first)")


def fleet_specs(plan: FleetPlan, people: People) -> list[DeviceSpec]:
    """The devices of every site: test devices first, then production, with their faults."""
    specs = []
    counts = [max(plan.test_per_site + 1, round(plan.devices * SHARE[site])) for site in SITES]
    counts[-1] = max(plan.test_per_site + 1, plan.devices - sum(counts[:-1]))
    for site, count in zip(SITES, counts, strict=True):
        faulty = round((count - plan.test_per_site) * FAULTY_LOT_SHARE) if site == SITES[1] else 0
        for n in range(count):
            test = n < plan.test_per_site
            profile = FaultProfile()
            production = n - plan.test_per_site
            if not test and site == SITES[1] and production < faulty:
                profile = replace(profile, fail_health_on=frozenset({NEW}))
            elif not test and site == SITES[0] and production < plan.clinical_in_munich:
                profile = replace(profile, clinical=ClinicalUse(until_released=True))
            elif (
                not test
                and site == SITES[0]
                and production < (plan.clinical_in_munich + plan.power_losses)
            ):
                profile = replace(profile, power_loss=PowerLoss.during_write())
            serial = f"{site.split()[0][:3].upper()}-{n + 1:04d}"
            tags = ["lot-2309"] if profile.fail_health_on else ["lot-2310"]
            specs.append(
                DeviceSpec(
                    serial,
                    people.hospital_ids[people.site_hospital[site]],
                    people.site_ids[site],
                    MODEL,
                    "B" if n % 3 else "A",
                    profile,
                    {"is_test_device": test, "tags": tags},
                )
            )
    return specs


def policy_for(people: People) -> dict[str, object]:
    return {
        "urgency": "routine",
        "canary": {"success_threshold": 100, "error_threshold": 0},
        "phases": [
            {
                "name": site,
                "group": {"site_ids": [people.site_ids[site]]},
                "success_threshold": 90,
                "error_threshold": 10,
            }
            for site in SITES
        ],
    }
