"""What the server's two repositories and the agent agree on: URL layout, roles, custom fields.

The server writes metadata with these names and fields (``medfleet.signing``); the agent reads
them (``medfleet.agent``). This module is pure and is the only place both sides share, so a
change here is a change of the wire format.

Layout, relative to the server's base URL (every file is static, servable from any web server):

- image repository: ``repo/image/metadata/`` (``1.root.json``, ``timestamp.json``,
  ``N.snapshot.json``, ``N.targets.json``, ``N.model-<model>.json``) and
  ``repo/image/targets/`` (consistent snapshots: ``<model>/<sha256>.<filename>``);
- director, one repository per device under the director's own root:
  ``repo/director/<device-id>/metadata/`` (same file names; its targets role lists the one
  image the device should install now). Its ``timestamp.json`` is the file devices poll.

Image-repository target (one released artifact, or a delta between two), custom field
``medfleet``::

    {"kind": "image", "release_id": "R-12", "model": "IP-100", "hardware_revisions": ["B"],
     "version": "4.3.0", "version_number": 430, "min_from_version_number": 400}
    {"kind": "delta", "model": "IP-100", "from_sha256": "<hex>", "to_path": "IP-100/…",
     "method": "bsdiff4" | "zstd-patch-from"}

Director target (the instruction for one device), custom field ``medfleet``::

    {"device_id": "…", "release_id": "R-12", "version_number": 430,
     "delta_path": "IP-100/deltas/….delta" | null,
     "install_after": "2026-03-07T07:00:00Z" | null, "install_before": "…Z" | null}

``install_after`` / ``install_before`` bound the install window ``[after, before)`` in UTC: the
device may download at any time but takes itself out of service to install only inside it.
A missing key means the same as null: no bound on that side (directors older than the window
fields did not write them).

The director's target path equals the image target's path and must carry the same length and
hashes; a delta it names must be an image-repository target whose ``to_path`` is that path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

CUSTOM_KEY = "medfleet"
IMAGE_REPO_DIR = "repo/image"
DIRECTOR_REPO_DIR = "repo/director"
METADATA_DIR = "metadata"
TARGETS_DIR = "targets"
DELTA_METHODS = ("bsdiff4", "zstd-patch-from")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

DeltaMethod = Literal["bsdiff4", "zstd-patch-from"]


class ContractError(ValueError):
    """Metadata does not follow the medfleet wire format (a missing or mistyped field)."""


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a safe identifier for a model or device (used in paths and URLs).

    Raises:
        ContractError: anything else (empty, too long, a slash, a leading dot …).
    """
    if not _NAME.fullmatch(value):
        raise ContractError(f"{kind} {value!r} is not 1-64 letters, digits, '.', '_' or '-'")
    return value


def model_role(model: str) -> str:
    """The delegated targets role that signs one device model's images."""
    return f"model-{check_name('model', model)}"


def image_metadata_url(base_url: str) -> str:
    """Where the image repository's metadata lives (with a trailing slash)."""
    return f"{base_url.rstrip('/')}/{IMAGE_REPO_DIR}/{METADATA_DIR}/"


def image_targets_url(base_url: str) -> str:
    """Where the image repository's target files live (with a trailing slash)."""
    return f"{base_url.rstrip('/')}/{IMAGE_REPO_DIR}/{TARGETS_DIR}/"


def director_metadata_url(base_url: str, device_id: str) -> str:
    """Where one device's director metadata lives (with a trailing slash)."""
    device = check_name("device id", device_id)
    return f"{base_url.rstrip('/')}/{DIRECTOR_REPO_DIR}/{device}/{METADATA_DIR}/"


def _field(custom: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = custom.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ContractError(f"custom field {name!r} is missing or not {kind}")
    return value


def _medfleet(custom: object) -> dict[str, Any]:
    section = custom.get(CUSTOM_KEY) if isinstance(custom, dict) else None
    if not isinstance(section, dict):
        raise ContractError(f"target has no {CUSTOM_KEY!r} custom section")
    return section


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """The custom fields of a released image target."""

    release_id: str
    model: str
    hardware_revisions: tuple[str, ...]
    version: str
    version_number: int
    min_from_version_number: int | None = None

    def to_custom(self) -> dict[str, Any]:
        """The ``custom`` dict of the TUF target file."""
        return {
            CUSTOM_KEY: {
                "kind": "image",
                "release_id": self.release_id,
                "model": self.model,
                "hardware_revisions": list(self.hardware_revisions),
                "version": self.version,
                "version_number": self.version_number,
                "min_from_version_number": self.min_from_version_number,
            }
        }

    @classmethod
    def from_custom(cls, custom: dict[str, Any] | None) -> ImageInfo:
        """Parse a target's ``custom`` dict.

        Raises:
            ContractError: not an image target, or a field is missing or mistyped.
        """
        section = _medfleet(custom)
        if section.get("kind") != "image":
            raise ContractError("target is not a medfleet image")
        revisions = _field(section, "hardware_revisions", list)
        if not all(isinstance(r, str) for r in revisions):
            raise ContractError("hardware_revisions must be a list of strings")
        floor = section.get("min_from_version_number")
        if floor is not None and (not isinstance(floor, int) or isinstance(floor, bool)):
            raise ContractError("min_from_version_number must be an integer or null")
        return cls(
            release_id=_field(section, "release_id", str),
            model=_field(section, "model", str),
            hardware_revisions=tuple(revisions),
            version=_field(section, "version", str),
            version_number=_field(section, "version_number", int),
            min_from_version_number=floor,
        )


@dataclass(frozen=True, slots=True)
class DeltaInfo:
    """The custom fields of a delta target: how to turn one image into another."""

    model: str
    from_sha256: str
    to_path: str
    method: DeltaMethod

    def to_custom(self) -> dict[str, Any]:
        """The ``custom`` dict of the TUF target file."""
        return {
            CUSTOM_KEY: {
                "kind": "delta",
                "model": self.model,
                "from_sha256": self.from_sha256,
                "to_path": self.to_path,
                "method": self.method,
            }
        }

    @classmethod
    def from_custom(cls, custom: dict[str, Any] | None) -> DeltaInfo:
        """Parse a delta target's ``custom`` dict.

        Raises:
            ContractError: not a delta target, or a field is missing or mistyped.
        """
        section = _medfleet(custom)
        if section.get("kind") != "delta":
            raise ContractError("target is not a medfleet delta")
        method = _field(section, "method", str)
        if method not in DELTA_METHODS:
            raise ContractError(f"unknown delta method {method!r}")
        return cls(
            model=_field(section, "model", str),
            from_sha256=_field(section, "from_sha256", str),
            to_path=_field(section, "to_path", str),
            method=method,
        )


def utc_text(value: datetime) -> str:
    """``value`` as ISO 8601 in UTC with a ``Z`` suffix (the wire form of every instant).

    Raises:
        ContractError: ``value`` is naive.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ContractError(f"{value!r} has no time zone; instants must be UTC")
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def parse_utc(name: str, text: object) -> datetime:
    """Parse an instant written by ``utc_text`` (ISO 8601, ``Z`` suffix), as aware UTC.

    Raises:
        ContractError: not a string, not ISO 8601, or not UTC with a ``Z`` suffix.
    """
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ContractError(f"{name} must be an ISO 8601 UTC time ending in 'Z'")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ContractError(f"{name} {text!r} is not an ISO 8601 time") from exc
    if value.utcoffset() != timedelta(0):
        raise ContractError(f"{name} must be UTC")
    return value.astimezone(UTC)


def _optional_utc(section: dict[str, Any], name: str) -> datetime | None:
    value = section.get(name)
    return None if value is None else parse_utc(name, value)


@dataclass(frozen=True, slots=True)
class Instruction:
    """The custom fields of a director target: install this image on this device.

    ``install_after`` / ``install_before`` (aware; kept in UTC) bound the window
    ``[install_after, install_before)`` in which the device may install; None leaves that side
    open.

    Raises:
        ContractError: a bound is naive, or the window is empty (``after >= before``).
    """

    device_id: str
    release_id: str
    version_number: int
    delta_path: str | None = None
    install_after: datetime | None = None
    install_before: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("install_after", "install_before"):
            value = getattr(self, name)
            if value is not None:
                if value.tzinfo is None or value.utcoffset() is None:
                    raise ContractError(f"{name} has no time zone; it must be UTC")
                object.__setattr__(self, name, value.astimezone(UTC))
        after, before = self.install_after, self.install_before
        if after is not None and before is not None and after >= before:
            raise ContractError(f"install window is empty: {utc_text(after)} >= {utc_text(before)}")

    def to_custom(self) -> dict[str, Any]:
        """The ``custom`` dict of the director's TUF target file."""
        after, before = self.install_after, self.install_before
        return {
            CUSTOM_KEY: {
                "device_id": self.device_id,
                "release_id": self.release_id,
                "version_number": self.version_number,
                "delta_path": self.delta_path,
                "install_after": None if after is None else utc_text(after),
                "install_before": None if before is None else utc_text(before),
            }
        }

    @classmethod
    def from_custom(cls, custom: dict[str, Any] | None) -> Instruction:
        """Parse a director target's ``custom`` dict.

        Raises:
            ContractError: a field is missing or mistyped, a window bound is not an ISO 8601
                UTC time with a ``Z`` suffix, or the window is empty.
        """
        section = _medfleet(custom)
        delta = section.get("delta_path")
        if delta is not None and not isinstance(delta, str):
            raise ContractError("delta_path must be a string or null")
        return cls(
            device_id=_field(section, "device_id", str),
            release_id=_field(section, "release_id", str),
            version_number=_field(section, "version_number", int),
            delta_path=delta,
            install_after=_optional_utc(section, "install_after"),
            install_before=_optional_utc(section, "install_before"),
        )
