"""Compatibility and upgrade routing: which release a device installs next, or why none.

Pure. A release runs on the hardware revisions it lists and, when it has a minimum
from-version, installs only over a version at least that high. ``route`` answers, for one
device and a campaign's target, either a ``Step`` (install this release next: the target
itself, or an intermediate that brings the device closer) or ``Ineligible`` with a reason.

Guarantees of ``route``: the release of a step is never withdrawn, always of the device's
model, supports the device's hardware revision and accepts the device's installed version;
every release along ``Step.path`` is above the one before and below the target, so a path
has no cycles and ends at the target. Among the releases a device can install directly, the
highest below the target is chosen: since a minimum from-version is a lower bound, a higher
version can never reach less, so this greedy choice finds a path whenever one exists and
takes the fewest hops. A device whose installed version is unknown is never routed through an
intermediate (for all anyone knows it would be a downgrade).

``route_rollback`` is the rule of rollback campaigns: a device returns to a lower release only
if it is the release the device ran before (when known), not withdrawn and compatible with
its hardware. ``available`` lists the releases a device may install, i.e. the released ones;
withdrawn releases in it are skipped.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from medfleet.releases.model import ReleaseState, release_id


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """What routing needs to know about one release."""

    release_id: str
    model: str
    version: str
    version_number: int
    hardware_revisions: frozenset[str]
    min_from_version_number: int | None = None
    withdrawn: bool = False
    pk: int | None = None

    def supports(self, hardware_revision: str) -> bool:
        """Whether the release runs on ``hardware_revision``."""
        return hardware_revision in self.hardware_revisions

    def accepts_from(self, installed_version_number: int | None) -> bool:
        """Whether the release installs over ``installed_version_number`` (None = unknown,
        which satisfies no minimum from-version)."""
        minimum = self.min_from_version_number
        if minimum is None:
            return True
        return installed_version_number is not None and installed_version_number >= minimum


class ReleaseRecord(Protocol):
    """The attributes of a release record (``medfleet.releases.tables.Release``) used here."""

    @property
    def id(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def version_number(self) -> int: ...
    @property
    def min_from_version_number(self) -> int | None: ...
    @property
    def hardware_revisions(self) -> list[str]: ...
    @property
    def state(self) -> str: ...


def release_info(record: ReleaseRecord) -> ReleaseInfo:
    """The ``ReleaseInfo`` of a release record (withdrawn when its state says so)."""
    return ReleaseInfo(
        release_id=release_id(record.model, record.version),
        model=record.model,
        version=record.version,
        version_number=record.version_number,
        hardware_revisions=frozenset(record.hardware_revisions),
        min_from_version_number=record.min_from_version_number,
        withdrawn=record.state == ReleaseState.WITHDRAWN.value,
        pk=record.id,
    )


class IneligibleReason(enum.StrEnum):
    """Why a device cannot take part in a campaign, as far as compatibility goes."""

    WRONG_MODEL = "wrong_model"
    HARDWARE_NOT_SUPPORTED = "hardware_not_supported"
    UP_TO_DATE = "up_to_date"
    TARGET_WITHDRAWN = "target_withdrawn"
    NO_PATH = "no_path"
    UNKNOWN_VERSION = "unknown_version"
    NOT_ABOVE_TARGET = "not_above_target"
    NOT_PREVIOUS_RELEASE = "not_previous_release"


@dataclass(frozen=True, slots=True)
class Step:
    """Install ``release`` next; ``path`` is every release from it to the target (last)."""

    release: ReleaseInfo
    path: tuple[ReleaseInfo, ...]

    @property
    def final(self) -> bool:
        """Whether this step installs the target itself."""
        return len(self.path) == 1

    @property
    def hops(self) -> int:
        """Installs still needed to reach the target, this one included."""
        return len(self.path)


@dataclass(frozen=True, slots=True)
class Ineligible:
    """No release for this device: a stable reason and a sentence for people."""

    reason: IneligibleReason
    message: str


def _common(hardware_revision: str, target: ReleaseInfo, model: str) -> Ineligible | None:
    if target.model != model:
        return Ineligible(
            IneligibleReason.WRONG_MODEL,
            f"the device is a {model}; release {target.release_id} is for {target.model}",
        )
    if target.withdrawn:
        return Ineligible(
            IneligibleReason.TARGET_WITHDRAWN, f"release {target.release_id} is withdrawn"
        )
    if not target.supports(hardware_revision):
        supported = ", ".join(sorted(target.hardware_revisions)) or "none"
        return Ineligible(
            IneligibleReason.HARDWARE_NOT_SUPPORTED,
            f"release {target.release_id} does not run on hardware revision "
            f"{hardware_revision} (supported: {supported})",
        )
    return None


def route(
    installed_version_number: int | None,
    hardware_revision: str,
    target: ReleaseInfo,
    available: Sequence[ReleaseInfo],
    *,
    model: str,
) -> Step | Ineligible:
    """The next release a ``model`` device with ``hardware_revision`` running
    ``installed_version_number`` (None: unknown) installs on its way up to ``target``.

    Ineligible when the model differs, the target is withdrawn or does not support the
    hardware revision, the device already runs the target or a higher version
    (``up_to_date``), or no chain of compatible, non-withdrawn releases in ``available``
    leads from the installed version to the target's minimum from-version (``no_path``).
    A device whose installed version is unknown installs only a target without a minimum
    from-version, and never an intermediate (it might be a downgrade): ``unknown_version``.
    """
    refused = _common(hardware_revision, target, model)
    if refused is not None:
        return refused
    installed = installed_version_number
    if installed is not None and installed >= target.version_number:
        return Ineligible(
            IneligibleReason.UP_TO_DATE,
            f"version {installed} is already at or above {target.release_id} "
            f"({target.version_number})",
        )
    candidates = sorted(
        (
            release
            for release in available
            if release.model == model
            and not release.withdrawn
            and release.supports(hardware_revision)
            and release.version_number < target.version_number
        ),
        key=lambda release: release.version_number,
        reverse=True,
    )
    if installed is None and not target.accepts_from(None):
        return _no_path(installed, target)
    path: list[ReleaseInfo] = []
    current = installed
    while not target.accepts_from(current):
        following = next(
            (
                release
                for release in candidates
                if (current is None or release.version_number > current)
                and release.accepts_from(current)
            ),
            None,
        )
        if following is None:
            return _no_path(installed, target)
        path.append(following)
        current = following.version_number
    path.append(target)
    return Step(path[0], tuple(path))


def _no_path(installed: int | None, target: ReleaseInfo) -> Ineligible:
    needed = target.min_from_version_number
    if installed is None:
        return Ineligible(
            IneligibleReason.UNKNOWN_VERSION,
            f"the installed version is unknown and {target.release_id} needs at least version "
            f"{needed}; the device must report its version first",
        )
    return Ineligible(
        IneligibleReason.NO_PATH,
        f"{target.release_id} needs at least version {needed} and no compatible, "
        f"non-withdrawn release leads there from version {installed}",
    )


def route_rollback(
    installed_version_number: int | None,
    hardware_revision: str,
    target: ReleaseInfo,
    *,
    model: str,
    previous_version_number: int | None = None,
) -> Step | Ineligible:
    """The step of a rollback campaign: return a device to ``target``, a lower release.

    Allowed when the target is of the device's model, not withdrawn, supports its hardware
    revision, lies below the installed version, and, when ``previous_version_number`` (the
    version the device ran before its current one) is known, is exactly that release.
    Minimum from-versions do not apply to going back. The step is always the target itself.
    """
    refused = _common(hardware_revision, target, model)
    if refused is not None:
        return refused
    installed = installed_version_number
    if installed is None:
        return Ineligible(
            IneligibleReason.UNKNOWN_VERSION,
            f"the installed version is unknown, so a return to {target.release_id} cannot "
            "be checked",
        )
    if installed <= target.version_number:
        return Ineligible(
            IneligibleReason.NOT_ABOVE_TARGET,
            f"version {installed} is not above {target.release_id} "
            f"({target.version_number}); nothing to roll back",
        )
    previous = previous_version_number
    if previous is not None and previous != target.version_number:
        return Ineligible(
            IneligibleReason.NOT_PREVIOUS_RELEASE,
            f"the device ran version {previous} before, not {target.release_id} "
            f"({target.version_number})",
        )
    return Step(target, (target,))
