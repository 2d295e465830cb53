"""What the campaign planner and scheduler read from the database, as the pure core's inputs.

* ``release_infos``: the model's releases a device may install on the way (released ones, and
  withdrawn ones flagged as such, which routing skips), as ``compat.ReleaseInfo``;
* ``load_fleet``: the model's enrolled devices as ``FleetColumns`` (streamed, ~50 bytes a
  device); only enrolled devices can take part in a campaign, since only they poll the director;
* ``busy_devices``: devices another campaign holds (an unfinished device of an active campaign,
  or an instruction that exists or is being written);
* ``site_facts``: each site's stance towards the release (``acceptance_views.site_stances``)
  and its current or next maintenance window opening (``windows.next_opening``).

``plan_and_store`` plans a campaign with ``planning.plan_campaign`` over these inputs and bulk
inserts one ``CampaignDevice`` row per device in the campaign.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from medfleet.fleet.tables import Device
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.rollouts.acceptance_model import SiteStance
from medfleet.rollouts.acceptance_views import site_stances
from medfleet.rollouts.campaign_model import UNFINISHED, unassigned_status
from medfleet.rollouts.columns import NO_SITE, UNKNOWN_VERSION, FleetBuilder, FleetColumns
from medfleet.rollouts.compat import ReleaseInfo, release_info
from medfleet.rollouts.model import ACTIVE_STATES, CampaignKind, Urgency
from medfleet.rollouts.planning import Plan, plan_campaign
from medfleet.rollouts.policy import Policy
from medfleet.rollouts.selection import Selection
from medfleet.rollouts.tables import ActiveAssignment, Campaign, CampaignDevice
from medfleet.rollouts.window_lookup import rules_by_site
from medfleet.rollouts.windows import Opening, next_opening

_CHUNK = 1000
_INSERT_BATCH = 5000


def release_infos(session: Session, model: str) -> list[ReleaseInfo]:
    """Every released or withdrawn release of ``model`` that was signed into the image
    repository, by version number (withdrawn ones carry ``withdrawn=True``)."""
    records = session.scalars(
        select(Release)
        .where(
            Release.model == model,
            Release.state.in_([ReleaseState.RELEASED.value, ReleaseState.WITHDRAWN.value]),
            Release.target_path.is_not(None),
        )
        .order_by(Release.version_number)
    )
    return [release_info(record) for record in records]


def load_fleet(
    session: Session,
    model: str,
    tag_names: Iterable[str] = (),
    *,
    device_pks: Collection[int] | None = None,
    previous_versions: Mapping[int, int | None] | None = None,
) -> FleetColumns:
    """The enrolled devices of ``model`` (only ``device_pks`` when given) as fleet columns.

    ``tag_names`` are the tags the plan looks at (``columns.relevant_tags``);
    ``previous_versions`` (rollback campaigns) gives each device the version it ran before.
    """
    names = tuple(tag_names)
    builder = FleetBuilder(names, with_previous=previous_versions is not None)
    statement = (
        select(
            Device.id,
            Device.org_id,
            Device.site_id,
            Device.hardware_revision,
            Device.installed_version_number,
            Device.is_test_device,
            Device.tags,
        )
        .where(Device.model == model, Device.public_key.is_not(None))
        .order_by(Device.id)
    )
    chunks: Iterable[list[int] | None] = [None]
    if device_pks is not None:
        ordered = sorted(device_pks)
        chunks = [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]
    for chunk in chunks:
        chosen = statement if chunk is None else statement.where(Device.id.in_(chunk))
        rows = session.execute(chosen.execution_options(yield_per=10_000))
        for pk, org_id, site_id, revision, version, is_test, tags in rows:
            builder.add(
                pk,
                org_id=org_id,
                site_id=site_id,
                model=model,
                hardware_revision=revision,
                version_number=version,
                is_test=bool(is_test),
                tags=tags if names else (),
                previous_version_number=None
                if previous_versions is None
                else previous_versions.get(pk),
            )
    return builder.build()


def busy_devices(session: Session, *, except_campaign: int | None = None) -> set[int]:
    """Devices another campaign holds: unfinished in an active campaign, or with an
    instruction (``ActiveAssignment``) of another campaign that is not being withdrawn.

    A device whose instruction is being withdrawn is free: the next campaign's instruction
    replaces it (``assigning.claim``)."""
    held = (
        select(CampaignDevice.device_pk)
        .join(Campaign, Campaign.id == CampaignDevice.campaign_id)
        .where(
            Campaign.state.in_([state.value for state in ACTIVE_STATES]),
            CampaignDevice.status.in_([status.value for status in UNFINISHED]),
        )
    )
    instructed = select(ActiveAssignment.device_pk).where(ActiveAssignment.clear_pending.is_(False))
    if except_campaign is not None:
        held = held.where(Campaign.id != except_campaign)
        instructed = instructed.where(ActiveAssignment.campaign_id != except_campaign)
    return set(session.scalars(held)) | set(session.scalars(instructed))


@dataclass(frozen=True)
class SiteFacts:
    """Sites' stances towards a release and their current or next window openings."""

    stances: Mapping[int, SiteStance]
    openings: Mapping[int, Opening | None]

    @property
    def accepted(self) -> frozenset[int]:
        """Sites that accepted the release."""
        return frozenset(site for site, stance in self.stances.items() if stance.accepted)

    @property
    def confirmed(self) -> frozenset[int]:
        """Sites that confirmed their production devices may follow their test devices."""
        return frozenset(
            site for site, stance in self.stances.items() if stance.production_confirmed
        )

    @property
    def out_of_cycle(self) -> frozenset[int]:
        """Sites that consented to out-of-cycle installs (critical campaigns only)."""
        return frozenset(
            site for site, stance in self.stances.items() if stance.out_of_cycle_consent
        )


def stances_of(
    session: Session, release_pk: int, urgency: Urgency, site_ids: Iterable[int]
) -> dict[int, SiteStance]:
    """Every listed site's stance towards the release, a thousand sites per query."""
    unique = sorted({site for site in site_ids if site != NO_SITE})
    found: dict[int, SiteStance] = {}
    for offset in range(0, len(unique), _CHUNK):
        found.update(site_stances(session, release_pk, urgency, unique[offset : offset + _CHUNK]))
    return found


def openings_of(
    session: Session, site_ids: Iterable[int], now: datetime
) -> dict[int, Opening | None]:
    """Each listed site's window open at ``now`` or next opening (None: no window ahead)."""
    rules = rules_by_site(session, [site for site in site_ids if site != NO_SITE])
    return {
        site: next_opening(windows, blackouts, now) if windows else None
        for site, (windows, blackouts) in rules.items()
    }


def site_facts(
    session: Session,
    release_pk: int,
    urgency: Urgency,
    site_ids: Iterable[int],
    now: datetime,
    *,
    with_openings: bool = True,
) -> SiteFacts:
    """Stances and (``with_openings``) window openings of the listed sites."""
    unique = {site for site in site_ids if site != NO_SITE}
    stances = stances_of(session, release_pk, urgency, unique)
    openings = openings_of(session, unique, now) if with_openings else {}
    return SiteFacts(stances, openings)


def named_devices(session: Session, policy: Policy) -> dict[str, int]:
    """Primary keys of the device ids the policy's phase groups name."""
    named = sorted({d for phase in policy.phases if phase.group for d in phase.group.device_ids})
    found: dict[str, int] = {}
    for offset in range(0, len(named), _CHUNK):
        chunk = named[offset : offset + _CHUNK]
        found.update(
            session.execute(
                select(Device.device_id, Device.id).where(Device.device_id.in_(chunk))
            ).all()
        )
    return found


def plan_and_store(
    session: Session,
    campaign: Campaign,
    *,
    fleet: FleetColumns,
    kind: CampaignKind,
    selection: Selection,
    policy: Policy,
    target: ReleaseInfo,
    available: list[ReleaseInfo],
    now: datetime,
) -> Plan:
    """Plan ``campaign`` over ``fleet`` and insert a ``CampaignDevice`` row for each device
    in it (``awaiting_acceptance``, ``held`` or ``waiting``); returns the plan.

    Raises:
        InvalidSelectionError, UnknownDeviceError, InvalidPlanInputError: see
            ``planning.plan_campaign``.
    """
    facts = site_facts(session, campaign.release_pk, policy.urgency, set(fleet.site_id), now)
    plan = plan_campaign(
        fleet,
        campaign_key=campaign.id,
        kind=kind,
        selection=selection,
        policy=policy,
        target=target,
        available=available,
        accepted_sites=facts.accepted,
        busy=busy_devices(session, except_campaign=campaign.id),
        site_openings=facts.openings,
        out_of_cycle_sites=facts.out_of_cycle,
        device_pks_by_id=named_devices(session, policy),
    )
    accepted, held = facts.accepted, plan.test_sites
    batch: list[dict[str, object]] = []
    for row, phase in enumerate(plan.phase):
        if phase < 0:
            continue
        site = fleet.site_id[row]
        version = fleet.version[row]
        step = plan.step_release(row)
        batch.append(
            {
                "campaign_id": campaign.id,
                "device_pk": fleet.device_pk[row],
                "phase": phase,
                "status": unassigned_status(
                    phase, None if site == NO_SITE else site, accepted=accepted, held=held
                ).value,
                "step_release_pk": None if step is None else step.pk,
                "start_version_number": None if version == UNKNOWN_VERSION else version,
                "hops": 0,
            }
        )
        if len(batch) >= _INSERT_BATCH:
            session.execute(insert(CampaignDevice), batch)
            batch = []
    if batch:
        session.execute(insert(CampaignDevice), batch)
    return plan
