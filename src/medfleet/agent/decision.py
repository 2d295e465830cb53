"""What an update check decides, as plain data: up to date, install (what), or rejected (why).

``medfleet.agent.updates`` produces these; the installer, the run loop, bundles and status
reports consume them. Pure: no I/O, no python-tuf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

from medfleet.agent.contract import DeltaInfo, ImageInfo, Instruction

RepositoryName = Literal["director", "image"]


class RejectReason(StrEnum):
    """Why a device refuses to install; ``Rejected.repository`` says which repository failed."""

    METADATA_EXPIRED = "metadata-expired"
    METADATA_BAD_SIGNATURE = "metadata-bad-signature"
    METADATA_BAD_VERSION = "metadata-bad-version"
    METADATA_MISMATCH = "metadata-length-or-hash-mismatch"
    METADATA_TOO_LARGE = "metadata-too-large"
    METADATA_INVALID = "metadata-invalid"
    UNREACHABLE = "repository-unreachable"
    LOCAL_STORAGE = "local-storage-error"
    MULTIPLE_INSTRUCTIONS = "multiple-instructions"
    INVALID_INSTRUCTION = "invalid-instruction"
    WRONG_DEVICE = "wrong-device"
    NOT_IN_IMAGE_REPOSITORY = "not-in-image-repository"
    IMAGE_MISMATCH = "image-length-or-hash-mismatch"
    INVALID_IMAGE_METADATA = "invalid-image-metadata"
    WRONG_MODEL = "wrong-model"
    WRONG_HARDWARE_REVISION = "wrong-hardware-revision"
    NOT_DELEGATED_TO_MODEL = "not-delegated-to-model"
    INSTRUCTION_MISMATCH = "instruction-does-not-match-image"
    ANTI_ROLLBACK = "anti-rollback"
    FROM_VERSION_TOO_OLD = "installed-version-too-old"
    DELTA_NOT_IN_IMAGE_REPOSITORY = "delta-not-in-image-repository"
    DELTA_INVALID = "delta-invalid"
    DELTA_WRONG_BASE = "delta-wrong-base"
    DELTA_WRONG_TARGET = "delta-wrong-target"
    BUNDLE_UNREADABLE = "bundle-unreadable"
    BUNDLE_UNSAFE = "bundle-unsafe"
    BUNDLE_INCOMPLETE = "bundle-incomplete"
    BUNDLE_NOT_FOR_DEVICE = "bundle-not-for-this-device"
    TARGET_MISMATCH = "target-length-or-hash-mismatch"

    @property
    def transient(self) -> bool:
        """True when trying again later may succeed (network or local I/O), not a security event."""
        return self in (RejectReason.UNREACHABLE, RejectReason.LOCAL_STORAGE)


class NoUpdateReason(StrEnum):
    """Why there is nothing to install."""

    NO_INSTRUCTION = "no-instruction"
    ALREADY_INSTALLED = "already-installed"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who the device is: its id and what hardware it is."""

    device_id: str
    model: str
    hardware_revision: str


@dataclass(frozen=True, slots=True)
class InstalledImage:
    """The image the device runs now."""

    sha256: str
    version_number: int


@dataclass(frozen=True, slots=True)
class Repositories:
    """Where the device's two repositories live and the roots it trusts (from enrollment).

    ``state_dir`` holds python-tuf's trusted metadata caches (``image/``, ``director/``); keep it
    across checks, online and offline, so rollback of metadata is detected across both.
    """

    base_url: str
    state_dir: Path
    image_root: bytes = field(repr=False)
    director_root: bytes = field(repr=False)

    @property
    def image_metadata_dir(self) -> Path:
        """The image repository's trusted metadata cache."""
        return self.state_dir / "image"

    @property
    def director_metadata_dir(self) -> Path:
        """The director repository's trusted metadata cache."""
        return self.state_dir / "director"


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A verified target file: what its bytes must be and where the repository serves them."""

    path: str
    length: int
    hashes: dict[str, str]
    url: str

    @property
    def sha256(self) -> str:
        """The sha256 hex digest (every medfleet target carries one)."""
        return self.hashes["sha256"]


@dataclass(frozen=True, slots=True)
class DeltaTarget:
    """A delta the director chose, checked against the image repository."""

    target: TargetSpec
    info: DeltaInfo


@dataclass(frozen=True, slots=True)
class UpToDate:
    """Nothing to install."""

    reason: NoUpdateReason


@dataclass(frozen=True, slots=True)
class Install:
    """Both repositories agree: install ``image`` (through ``delta`` if one is given)."""

    image: TargetSpec
    info: ImageInfo
    instruction: Instruction
    delta: DeltaTarget | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The device must not install; ``reason`` is specific enough to report and to test."""

    reason: RejectReason
    detail: str
    repository: RepositoryName | None = None

    @property
    def transient(self) -> bool:
        """True when a later retry may succeed; otherwise the rejection is a security finding."""
        return self.reason.transient


Decision = UpToDate | Install | Rejected
