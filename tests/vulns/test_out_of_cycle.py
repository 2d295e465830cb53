"""A critical finding starts an out-of-cycle campaign of a release that fixes it.

IP-100 4.1.0 carries Heartbleed (openssl 1.0.1f), 4.2.0 does not (openssl 1.0.1g). The campaign
is created through the real campaign service and moved on by the real scheduler.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from medfleet.accounts.model import Principal
from medfleet.db.engine import transaction
from medfleet.errors import MedfleetError
from medfleet.rollouts.campaign_errors import CampaignReleaseError
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.tables import Campaign
from medfleet.vulns.errors import (
    AssessmentConflictError,
    AssessmentNotFoundError,
    FixReleaseError,
    VulnsPermissionError,
)
from medfleet.vulns.out_of_cycle import OutOfCycleCampaign, start_out_of_cycle_campaign
from tests.rollouts.campaign_support import Camp, camp
from tests.vulns.support_deadline import (
    HEARTBLEED,
    OPENSSL_3,
    add_release,
    assess,
    clean_sbom,
    events,
    view,
    vulnerable_camp,
)

__all__ = ["camp", "vulnerable_camp"]


def start(
    camp: Camp, version: str = "4.2.0", who: Principal | None = None, vuln: str = HEARTBLEED
) -> OutOfCycleCampaign:
    with transaction(camp.rt.sessions) as session:
        return start_out_of_cycle_campaign(
            session, camp.rt.audit, who or camp.world.admin, vuln, model="IP-100",
            version=version, now=camp.rt.clock.now(),
        )  # fmt: skip


def campaigns(camp: Camp) -> int:
    with transaction(camp.rt.sessions) as session:
        return session.scalar(select(func.count(Campaign.id))) or 0


def refused(camp: Camp, error: type[MedfleetError], match: str, **call: Any) -> None:
    with pytest.raises(error, match=match):
        start(camp, **call)
    assert campaigns(camp) == 0


def test_a_critical_finding_starts_a_campaign_to_the_affected_devices(
    vulnerable_camp: Camp,
) -> None:
    camp, world = vulnerable_camp, vulnerable_camp.world
    clean_sbom(camp)
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    affected = camp.device(world.site_a)
    already_fixed = camp.device(world.site_a, running=("4.2.0", 420))
    assess(camp.rt, world.engineer, critical=True, planned_fix="4.2.0 ships openssl 1.0.1g")

    started = start(camp)
    document = started.as_dict()
    assert document["campaign"] == "CMP-1"
    assert (document["state"], document["urgency"]) == ("running", "critical")
    assert (document["affected_versions"], document["affected_devices"]) == (["4.1.0"], 1)
    assert camp.statuses("CMP-1").keys() == {affected.device_id}
    assert already_fixed.device_id not in camp.statuses("CMP-1")
    assert camp.show("CMP-1")["name"] == f"Out-of-cycle fix for {HEARTBLEED}"

    [(actor, _, payload)] = events(camp.rt, "vulns.out_of_cycle_campaign")
    assert actor == "user:root"
    assert (payload["campaign"], payload["campaign_id"]) == ("CMP-1", started.campaign.id)
    assert payload["release"] == "IP-100-4.2.0"
    seen = view(camp.rt, world.auditor)
    assert seen.fixed_release == "IP-100-4.2.0"
    assert (seen.fix.state, seen.fix.met_at) == ("met", camp.rt.clock.now())

    camp.advance()  # critical, with out-of-cycle consent: instructed at once
    assert camp.statuses("CMP-1") == {affected.device_id: "assigned"}
    instruction = camp.instruction(affected)
    assert instruction is not None
    assert instruction.version_number == 420


def test_only_a_critical_assessment_may(vulnerable_camp: Camp) -> None:
    camp, world = vulnerable_camp, vulnerable_camp.world
    clean_sbom(camp)
    camp.device(world.site_a)
    refused(camp, AssessmentNotFoundError, "has not been assessed")
    assess(camp.rt, world.engineer, critical=False)
    refused(camp, AssessmentConflictError, "not assessed as critical")


def test_the_release_must_be_released_and_not_affected_itself(vulnerable_camp: Camp) -> None:
    camp, world = vulnerable_camp, vulnerable_camp.world
    camp.device(world.site_a)
    assess(camp.rt, world.engineer, critical=True)
    refused(camp, FixReleaseError, "no SBOM", version="4.2.0")
    refused(camp, FixReleaseError, f"itself affected by {HEARTBLEED}", version="4.1.0")
    add_release(camp.rt, world, "4.3.0", 430, state="approved")
    refused(camp, CampaignReleaseError, "only released releases", version="4.3.0")
    clean_sbom(camp)
    camp.withdraw("4.2.0")
    refused(camp, CampaignReleaseError, "withdrawn", version="4.2.0")


def test_something_must_be_affected(vulnerable_camp: Camp) -> None:
    camp, world = vulnerable_camp, vulnerable_camp.world
    clean_sbom(camp)
    assess(camp.rt, world.engineer, critical=True)
    refused(camp, AssessmentConflictError, "no IP-100 device runs a release affected")
    assess(camp.rt, world.engineer, OPENSSL_3, critical=True)
    refused(camp, AssessmentConflictError, "no release of IP-100 carries", vuln=OPENSSL_3)


@pytest.mark.parametrize("who", ["engineer", "auditor", "biomed_a", "admin_a"])
def test_only_admins_and_fleet_operators_may(vulnerable_camp: Camp, who: str) -> None:
    camp, world = vulnerable_camp, vulnerable_camp.world
    clean_sbom(camp)
    camp.device(world.site_a)
    assess(camp.rt, world.engineer, critical=True)
    message = "admin or fleet_operator|internal to the manufacturer"
    refused(camp, VulnsPermissionError, message, who=getattr(world, who))
