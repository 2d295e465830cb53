"""Eligibility of devices for a campaign: the statuses, and the per-profile and per-site tables.

Pure. ``DeviceStatus`` is what a plan says about one device. ``ProfileTable`` decides, once per
distinct (model, hardware revision, installed version[, previous version]) profile, whether
such devices are selected and which release they install next (``medfleet.rollouts.compat``);
``SiteTable`` decides, once per (hospital, site), whether the site is selected, accepted the
release and has a maintenance window ahead. Both are dictionaries that fill themselves on a
miss, so ``map(table.__getitem__, keys)`` classifies millions of rows at C speed.
"""

from __future__ import annotations

import enum
from collections.abc import Container, Mapping, Sequence

from medfleet.rollouts.columns import UNKNOWN_VERSION, FleetColumns
from medfleet.rollouts.compat import (
    Ineligible,
    IneligibleReason,
    ReleaseInfo,
    route,
    route_rollback,
)
from medfleet.rollouts.errors import InvalidPlanInputError
from medfleet.rollouts.model import CampaignKind
from medfleet.rollouts.selection import Selection
from medfleet.rollouts.startable import WindowOpening


class DeviceStatus(enum.IntEnum):
    """What a plan says about one device; the first three are in the campaign.

    The values are stable (a service may store them); new statuses get new values.
    """

    READY = 0
    AWAITING_ACCEPTANCE = 1
    AWAITING_WINDOW = 2
    NOT_SELECTED = 3
    BUSY = 4
    WRONG_MODEL = 5
    HARDWARE_NOT_SUPPORTED = 6
    UP_TO_DATE = 7
    TARGET_WITHDRAWN = 8
    NO_PATH = 9
    UNKNOWN_VERSION = 10
    NOT_ABOVE_TARGET = 11
    NOT_PREVIOUS_RELEASE = 12
    NOT_IN_ANY_PHASE = 13

    @property
    def code(self) -> str:
        """The stable lower-case name used in JSON (``awaiting_acceptance``)."""
        return self.name.lower()

    @property
    def in_campaign(self) -> bool:
        """Whether a device with this status belongs to the campaign (has a phase)."""
        return self <= DeviceStatus.AWAITING_WINDOW


FROM_REASON = {  # compat's reasons are statuses of the same name
    reason: DeviceStatus[reason.name] for reason in IneligibleReason
}
STEP_BASE = 64
"""Profile codes below are a ``DeviceStatus``; from here on ``STEP_BASE + step index``."""


class ProfileTable(dict[tuple[int, ...], int]):
    """(model, revision, version[, previous]) → a DeviceStatus or ``STEP_BASE`` + step."""

    def __init__(
        self,
        fleet: FleetColumns,
        kind: CampaignKind,
        selection: Selection,
        target: ReleaseInfo,
        available: Sequence[ReleaseInfo],
    ) -> None:
        super().__init__()
        self.fleet, self.kind, self.target = fleet, kind, target
        self.available = tuple(available)
        self.selection = selection
        by_name = {r.version: r.version_number for r in available if r.model == target.model}
        by_name[target.version] = target.version_number
        self.versions = selection.resolved_versions(by_name) if selection.filters_versions else None
        self.steps: list[ReleaseInfo] = [target]
        self.step_index = {target.release_id: 0}
        self.messages: dict[DeviceStatus, str] = {}

    def __missing__(self, key: tuple[int, ...]) -> int:
        model_index, revision_index, version = key[0], key[1], key[2]
        try:
            model = self.fleet.model_names[model_index]
            revision = self.fleet.revision_names[revision_index]
        except IndexError:
            raise InvalidPlanInputError(
                f"model index {model_index} or revision index {revision_index} is not in the "
                "fleet's name tuples"
            ) from None
        code = self._code(model, revision, version, key[3] if len(key) > 3 else UNKNOWN_VERSION)
        self[key] = code
        return code

    def _code(self, model: str, revision: str, version: int, previous: int) -> int:
        selection = self.selection
        if (
            (selection.models and model not in selection.models)
            or (selection.hardware_revisions and revision not in selection.hardware_revisions)
            or (self.versions is not None and version not in self.versions)
        ):
            return DeviceStatus.NOT_SELECTED
        installed = None if version == UNKNOWN_VERSION else version
        if self.kind is CampaignKind.ROLLBACK:
            before = None if previous == UNKNOWN_VERSION else previous
            result = route_rollback(
                installed, revision, self.target, model=model, previous_version_number=before
            )
        else:
            result = route(installed, revision, self.target, self.available, model=model)
        if isinstance(result, Ineligible):
            status = FROM_REASON[result.reason]
            self.messages.setdefault(status, result.message)
            return status
        release = result.release
        index = self.step_index.setdefault(release.release_id, len(self.steps))
        if index == len(self.steps):
            self.steps.append(release)
        return STEP_BASE + index


class SiteTable(dict[int | tuple[int, int], int]):
    """(hospital, site) → NOT_SELECTED, READY, AWAITING_ACCEPTANCE or AWAITING_WINDOW.

    Keyed by ``(hospital, site)`` when the selection names hospitals, else by the site alone
    (``by_hospital``), which halves the cost of the lookup pass.
    """

    def __init__(
        self,
        selection: Selection,
        accepted_sites: Container[int],
        site_openings: Mapping[int, WindowOpening | None] | None,
        windows_needed: bool,
        out_of_cycle_sites: Container[int],
    ) -> None:
        super().__init__()
        self.selection = selection
        self.accepted = accepted_sites
        self.openings = site_openings
        self.windows_needed = windows_needed
        self.out_of_cycle = out_of_cycle_sites
        self.by_hospital = bool(selection.hospital_ids)

    def __missing__(self, key: int | tuple[int, int]) -> int:
        org, site = key if isinstance(key, tuple) else (None, key)
        selection = self.selection
        if (selection.hospital_ids and org not in selection.hospital_ids) or (
            selection.site_ids and site not in selection.site_ids
        ):
            code = DeviceStatus.NOT_SELECTED
        elif site not in self.accepted:
            code = DeviceStatus.AWAITING_ACCEPTANCE
        elif (
            self.openings is not None
            and self.openings.get(site) is None
            and (self.windows_needed or site not in self.out_of_cycle)
        ):
            code = DeviceStatus.AWAITING_WINDOW
        else:
            code = DeviceStatus.READY
        self[key] = code
        return code
