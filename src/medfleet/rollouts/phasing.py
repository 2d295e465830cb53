"""Phase assignment: the keyed hash of percentage phases and the matching of explicit groups.

Pure. With percentage phases a device's phase comes from ``phase_bucket``, a keyed universal
hash of its primary key and the campaign key into ``[0, 10_000)`` basis points: deterministic,
independent of row order and of other devices (stable when devices are added or removed), and
even over sites. With explicit groups the first group a device matches wins.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Mapping

from medfleet.rollouts.columns import FleetColumns
from medfleet.rollouts.errors import InvalidPlanInputError, UnknownDeviceError
from medfleet.rollouts.policy import BASIS_POINTS, Policy
from medfleet.rollouts.selection import tag_mask

PRIME = 2**61 - 1


def phase_hash_key(campaign_key: str | int) -> tuple[int, int]:
    """The keyed-hash parameters ``(a, b)`` of a campaign: ``bucket(pk) =
    ((a * pk + b) mod (2**61 - 1)) mod 10_000`` (a universal hash family)."""
    digest = hashlib.blake2b(f"medfleet.phase:{campaign_key}".encode(), digest_size=16).digest()
    multiplier = int.from_bytes(digest[:8], "big") % (PRIME - 1) + 1
    return multiplier, int.from_bytes(digest[8:], "big") % PRIME


def phase_bucket(device_pk: int, campaign_key: str | int) -> int:
    """The device's hash bucket in ``[0, 10_000)`` for percentage phases of a campaign."""
    multiplier, offset = phase_hash_key(campaign_key)
    return (multiplier * device_pk + offset) % PRIME % BASIS_POINTS


def percent_phase(bucket: int, policy: Policy) -> int:
    """The production phase (1..n) of a bucket under a percentage policy.

    Raises:
        InvalidPlanInputError: the policy's phases are explicit groups.
    """
    for index, bound in enumerate(policy.cumulative_basis_points(), start=1):
        if bucket < bound:
            return index
    raise InvalidPlanInputError("percent_phase needs a policy with percentage phases")


def bucket_phases(policy: Policy) -> array[int]:
    """Hash bucket → production phase (percentage policies; zeros for groups)."""
    lut = array("b", bytes(BASIS_POINTS))
    start = 0
    for phase_index, bound in enumerate(policy.cumulative_basis_points(), start=1):
        lut[start:bound] = array("b", [phase_index]) * (bound - start)
        start = bound
    return lut


class GroupTable:
    """Explicit-group phases: the first group a device matches (1-based), or -1."""

    def __init__(self, policy: Policy, fleet: FleetColumns, pks_by_id: Mapping[str, int]):
        self.groups = [phase.group for phase in policy.phases if phase.group is not None]
        named = {d for group in self.groups for d in group.device_ids}
        unknown = sorted(named - pks_by_id.keys())
        if unknown:
            raise UnknownDeviceError(unknown)
        self.masks = [tag_mask(group.tags, fleet.tag_names) for group in self.groups]
        self.pks = [frozenset(pks_by_id[d] for d in group.device_ids) for group in self.groups]
        self.by_device = any(self.masks) or any(self.pks)
        self.site_phase: dict[tuple[int, int], int] = {}

    def _site_level(self, org: int, site: int) -> int:
        for index, group in enumerate(self.groups, start=1):
            if group.is_rest or site in group.site_ids or org in group.hospital_ids:
                return index
        return -1

    def phase_of(self, pk: int, org: int, site: int, tags: int) -> int:
        """The device's production phase, or -1 when no group takes it."""
        key = (org, site)
        site_level = self.site_phase.get(key)
        if site_level is None:
            site_level = self.site_phase[key] = self._site_level(org, site)
        if not self.by_device:
            return site_level
        for index, (mask, pks) in enumerate(zip(self.masks, self.pks, strict=True), start=1):
            if index == site_level:
                return index
            if tags & mask or pk in pks:
                return index
        return site_level
