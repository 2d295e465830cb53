"""Eligibility and phase assignment of a campaign over a whole fleet, pure and fast.

``plan_campaign`` takes the fleet as ``FleetColumns`` and decides, for every device row, its
``DeviceStatus`` and, for devices in the campaign, its phase and the release it installs
next. It is built for millions of devices in pure Python:

* compatibility routing runs once per distinct (model, hardware revision, installed version
  [, previous version]) profile, and once per (hospital, site) for site-level facts
  (selection, acceptance, window); each device then costs two dictionary hits and one pass
  of a plain loop;
* outputs are compact: ``bytes`` of statuses, ``array('b')`` of phases, ``array('h')`` of
  step indices into ``Plan.steps`` (``steps[0]`` is the campaign's target).

Rules, in order of precedence for one device: not selected (the selection's hospitals,
sites, models, revisions, versions, tags, test-device choice) → ineligible by compatibility
(``medfleet.rollouts.compat``) → busy (in another active campaign) → not in any phase (an
explicit-group policy whose groups miss it) → in the campaign: ``ready``, or
``awaiting_acceptance`` (its site has not accepted the release) or ``awaiting_window`` (a
routine campaign and its site has no window ahead; critical campaigns skip this at sites that
consented to out-of-cycle installs). Devices in the campaign keep their phase whatever they
await.

Phases: a site's test devices are in phase 0 (canary); production devices are in phases
1..n. With percentage phases a device's phase comes from ``phase_bucket``, a keyed hash of its
primary key and the campaign key: deterministic, independent of row order, stable when
devices are added or removed, and spread evenly over sites (every site gets each phase's
share on average). ``Plan.test_sites`` lists the sites with test devices in the campaign: the
service holds their production devices until the site's test devices succeeded and the site
confirmed (``medfleet.rollouts.startable``'s ``held_sites``).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from medfleet.rollouts.columns import FleetColumns
from medfleet.rollouts.compat import ReleaseInfo
from medfleet.rollouts.eligibility import STEP_BASE, DeviceStatus, ProfileTable, SiteTable
from medfleet.rollouts.model import CampaignKind, Urgency
from medfleet.rollouts.phasing import (
    PRIME,
    GroupTable,
    bucket_phases,
    percent_phase,
    phase_bucket,
    phase_hash_key,
)
from medfleet.rollouts.policy import BASIS_POINTS, CANARY_PHASE, Policy
from medfleet.rollouts.selection import Selection, TestDevices, tag_mask
from medfleet.rollouts.startable import WindowOpening

__all__ = [
    "DeviceStatus",
    "Plan",
    "percent_phase",
    "phase_bucket",
    "phase_hash_key",
    "plan_campaign",
]

_NO_TEST = 2  # is_test is 0 or 1: no device is refused


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of ``plan_campaign``, row by row like the fleet it was made from.

    ``status[i]`` is a ``DeviceStatus``; ``phase[i]`` the phase (0 canary, 1..n) or -1 when
    the device is not in the campaign; ``step[i]`` an index into ``steps`` (0: the target
    itself, higher: an intermediate release to install first) or -1. ``phase_counts[p]`` counts
    the devices in phase ``p`` and ``ready_counts[p]`` those of them that are ready now.
    ``messages`` holds one sentence per compatibility status, for people.
    """

    status: bytes
    phase: array[int]
    step: array[int]
    steps: tuple[ReleaseInfo, ...]
    status_counts: Mapping[DeviceStatus, int]
    phase_counts: tuple[int, ...]
    ready_counts: tuple[int, ...]
    test_sites: frozenset[int]
    messages: Mapping[DeviceStatus, str]

    def __len__(self) -> int:
        return len(self.status)

    def rows(self, phase_index: int, statuses: Container[int] = (DeviceStatus.READY,)) -> list[int]:
        """The rows in phase ``phase_index`` whose status is in ``statuses``, in row order."""
        wanted = phase_index
        return [
            row
            for row, (phase, status) in enumerate(zip(self.phase, self.status, strict=True))
            if phase == wanted and status in statuses
        ]

    def step_release(self, row: int) -> ReleaseInfo | None:
        """The release row ``row`` installs next (None when it is not in the campaign)."""
        index = self.step[row]
        return None if index < 0 else self.steps[index]

    def summary(self) -> dict[str, object]:
        """JSON-ready counts: per status, per phase, per step release."""
        per_step = Counter(self.step)
        return {
            "devices": len(self.status),
            "in_campaign": sum(self.phase_counts),
            "statuses": {s.code: n for s, n in sorted(self.status_counts.items()) if n},
            "phases": [
                {"phase": index, "devices": total, "ready": self.ready_counts[index]}
                for index, total in enumerate(self.phase_counts)
            ],
            "steps": [
                {"release_id": release.release_id, "devices": per_step.get(index, 0)}
                for index, release in enumerate(self.steps)
            ],
            "test_sites": len(self.test_sites),
            "messages": {s.code: m for s, m in sorted(self.messages.items())},
        }


@dataclass(frozen=True, slots=True)
class _Rows:
    """The per-device pass of ``plan_campaign``: one plain loop, locals only."""

    busy: Container[int]
    groups: GroupTable | None
    lut: array[int]
    hash_key: tuple[int, int]
    refused_test: int
    tags_filter: bool
    wanted_tags: int
    phase_count: int

    def assign(
        self, fleet: FleetColumns, codes: list[int], site_codes: list[int]
    ) -> tuple[list[int], list[int], list[int], list[int], set[int]]:
        """Statuses, phases, steps, per-phase tallies (``phase * 3 + status``), test sites."""
        busy, groups, lut, refused_test = self.busy, self.groups, self.lut, self.refused_test
        tags_filter, wanted_tags = self.tags_filter, self.wanted_tags
        multiplier, offset = self.hash_key
        prime, buckets = PRIME, BASIS_POINTS
        not_selected, busy_code = DeviceStatus.NOT_SELECTED.value, DeviceStatus.BUSY.value
        no_phase, step_base = DeviceStatus.NOT_IN_ANY_PHASE.value, STEP_BASE
        statuses: list[int] = []
        phases: list[int] = []
        steps: list[int] = []
        add_status, add_phase, add_step = statuses.append, phases.append, steps.append
        tally = [0] * (self.phase_count * 3)
        test_sites: set[int] = set()
        columns = zip(
            fleet.device_pk,
            codes,
            site_codes,
            fleet.is_test,
            fleet.tags,
            fleet.org_id,
            fleet.site_id,
            strict=True,
        )
        for pk, code, site_code, test, tags, org, site in columns:
            if (
                site_code == not_selected
                or test == refused_test
                or (tags_filter and not tags & wanted_tags)
            ):
                add_status(not_selected)
            elif code < step_base:
                add_status(code)
            elif pk in busy:
                add_status(busy_code)
            else:
                if test:
                    phase = CANARY_PHASE
                    test_sites.add(site)
                elif groups is None:
                    phase = lut[(multiplier * pk + offset) % prime % buckets]
                else:
                    phase = groups.phase_of(pk, org, site, tags)
                    if phase < 0:
                        add_status(no_phase)
                        add_phase(-1)
                        add_step(-1)
                        continue
                add_status(site_code)
                add_phase(phase)
                add_step(code - step_base)
                tally[phase * 3 + site_code] += 1
                continue
            add_phase(-1)
            add_step(-1)
        return statuses, phases, steps, tally, test_sites


def plan_campaign(
    fleet: FleetColumns,
    *,
    campaign_key: str | int,
    kind: CampaignKind,
    selection: Selection,
    policy: Policy,
    target: ReleaseInfo,
    available: Sequence[ReleaseInfo],
    accepted_sites: Container[int],
    busy: Container[int] = frozenset(),
    site_openings: Mapping[int, WindowOpening | None] | None = None,
    out_of_cycle_sites: Container[int] = frozenset(),
    device_pks_by_id: Mapping[str, int] | None = None,
) -> Plan:
    """Every device's status, phase and next release in a campaign (see the module text).

    ``campaign_key`` (the campaign's id) keys the percentage hash. ``target`` is the release
    the campaign installs (for a rollback: the release devices return to) and ``available``
    the releases devices may install on the way (released ones; withdrawn ones are skipped).
    ``accepted_sites`` are the sites that accepted the release; ``busy`` the device primary
    keys held by another active campaign; ``site_openings`` each site's current or next
    maintenance window opening (None: no window ahead; omit the mapping to not judge
    windows); ``out_of_cycle_sites`` the sites that consented to out-of-cycle installs (critical
    campaigns only); ``device_pks_by_id`` resolves device ids named by phase groups. Build
    ``fleet`` with ``columns.relevant_tags(selection, policy)`` as its tag names: a tag it does
    not carry matches no device.

    Raises:
        InvalidSelectionError: the selection names a version no release of the model has.
        UnknownDeviceError: a phase group names a device id that ``device_pks_by_id`` lacks.
        InvalidPlanInputError: a model or revision index outside the fleet's name tuples.
    """
    profiles = ProfileTable(fleet, kind, selection, target, available)
    critical = policy.urgency == Urgency.CRITICAL
    sites = SiteTable(selection, accepted_sites, site_openings, not critical, out_of_cycle_sites)
    groups = None if policy.by_percent else GroupTable(policy, fleet, device_pks_by_id or {})
    keys: Iterator[tuple[int, ...]]
    if kind is CampaignKind.ROLLBACK and fleet.previous_version is not None:
        keys = zip(
            fleet.model, fleet.hardware_revision, fleet.version, fleet.previous_version, strict=True
        )
    else:
        keys = zip(fleet.model, fleet.hardware_revision, fleet.version, strict=True)
    codes = list(map(profiles.__getitem__, keys))
    site_keys: Iterable[int | tuple[int, int]] = fleet.site_id
    if sites.by_hospital:
        site_keys = zip(fleet.org_id, fleet.site_id, strict=True)
    site_codes = list(map(sites.__getitem__, site_keys))
    test_rule = selection.test_devices
    rows = _Rows(
        busy=busy,
        groups=groups,
        lut=bucket_phases(policy),
        hash_key=phase_hash_key(campaign_key),
        refused_test={TestDevices.EXCLUDE: 1, TestDevices.ONLY: 0}.get(test_rule, _NO_TEST),
        tags_filter=bool(selection.tags),
        wanted_tags=tag_mask(selection.tags, fleet.tag_names),
        phase_count=policy.phase_count,
    )
    statuses, phases, steps, tally, test_sites = rows.assign(fleet, codes, site_codes)
    del codes, site_codes
    status_bytes = bytes(statuses)
    del statuses
    counts = {status: status_bytes.count(status) for status in DeviceStatus}
    return Plan(
        status=status_bytes,
        phase=array("b", phases),
        step=array("h", steps),
        steps=tuple(profiles.steps),
        status_counts=counts,
        phase_counts=tuple(sum(tally[i * 3 : i * 3 + 3]) for i in range(policy.phase_count)),
        ready_counts=tuple(tally[i * 3] for i in range(policy.phase_count)),
        test_sites=frozenset(test_sites),
        messages=dict(profiles.messages),
    )
