"""Shared fleets, releases and a ``plan`` shortcut for the planning tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from medfleet.rollouts.columns import FleetBuilder, FleetColumns
from medfleet.rollouts.compat import ReleaseInfo
from medfleet.rollouts.model import CampaignKind
from medfleet.rollouts.planning import DeviceStatus, Plan, plan_campaign
from medfleet.rollouts.policy import Policy
from medfleet.rollouts.policy_parse import parse_policy
from medfleet.rollouts.selection import Selection

MODEL = "IP-100"
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def rel(
    number: int, min_from: int | None = None, revisions: str = "AB", *, withdrawn: bool = False
) -> ReleaseInfo:
    return ReleaseInfo(
        f"{MODEL}-{number}",
        MODEL,
        f"{number // 100}.{number % 100}.0",
        number,
        frozenset(revisions),
        min_from,
        withdrawn,
    )


TARGET = rel(500, min_from=300)
AVAILABLE = [
    rel(100, min_from=0, revisions="A"),
    rel(200, min_from=100),
    rel(300, min_from=150),
    rel(400, min_from=300, revisions="B"),
    TARGET,
]
PERCENT = parse_policy({"phases": [{"percent": 10}, {"percent": 30}, {"percent": 60}]})


@dataclass(frozen=True)
class Opening:
    start: datetime
    end: datetime


@dataclass
class Device:
    pk: int
    org: int = 1
    site: int = 10
    model: str = MODEL
    revision: str = "A"
    version: int | None = 300
    test: bool = False
    tags: tuple[str, ...] = ()
    previous: int | None = None


def fleet_of(
    devices: list[Device], tag_names: tuple[str, ...] = (), with_previous: bool = False
) -> FleetColumns:
    builder = FleetBuilder(tag_names, with_previous=with_previous)
    for d in devices:
        builder.add(
            d.pk,
            org_id=d.org,
            site_id=d.site,
            model=d.model,
            hardware_revision=d.revision,
            version_number=d.version,
            is_test=d.test,
            tags=d.tags,
            previous_version_number=d.previous,
        )
    return builder.build()


def plan(
    devices: list[Device],
    *,
    policy: Policy = PERCENT,
    selection: Selection | None = None,
    accepted: frozenset[int] = frozenset({10, 20, 30}),
    tag_names: tuple[str, ...] = (),
    **options: object,
) -> Plan:
    return plan_campaign(
        fleet_of(devices, tag_names, with_previous=bool(options.pop("with_previous", False))),
        campaign_key=options.pop("campaign_key", 1),  # type: ignore[arg-type]
        kind=options.pop("kind", CampaignKind.UPDATE),  # type: ignore[arg-type]
        selection=selection or Selection(),
        policy=policy,
        target=options.pop("target", TARGET),  # type: ignore[arg-type]
        available=AVAILABLE,
        accepted_sites=accepted,
        **options,  # type: ignore[arg-type]
    )


def statuses(result: Plan) -> list[DeviceStatus]:
    return [DeviceStatus(code) for code in result.status]
