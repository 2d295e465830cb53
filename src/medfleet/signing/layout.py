"""Where the signing domain keeps things on disk (paths only, no I/O).

``public_dir`` is served as-is to devices (normally ``<blob-dir>/public``); its layout is the
wire format fixed in ``medfleet.agent.contract``. ``key_dir`` is private to the server; TUF keys
live under ``<key-dir>/tuf/`` next to (and separate from) the audit-checkpoint key.
"""

from __future__ import annotations

from pathlib import Path

from medfleet.agent.contract import (
    DIRECTOR_REPO_DIR,
    IMAGE_REPO_DIR,
    METADATA_DIR,
    TARGETS_DIR,
    check_name,
)

TUF_KEYS = "tuf"
# Not a valid device id (those start with a letter or digit), so it cannot collide with one.
DIRECTOR_ROOT_HISTORY = "_root"


def tuf_key_dir(key_dir: Path) -> Path:
    """The directory that holds every TUF key file."""
    return key_dir / TUF_KEYS


def image_metadata_dir(public_dir: Path) -> Path:
    """The image repository's metadata directory."""
    return public_dir / IMAGE_REPO_DIR / METADATA_DIR


def image_targets_dir(public_dir: Path) -> Path:
    """The image repository's target files (consistent snapshots, content-addressed)."""
    return public_dir / IMAGE_REPO_DIR / TARGETS_DIR


def director_dir(public_dir: Path) -> Path:
    """The director's directory: one sub-directory per device plus the root history."""
    return public_dir / DIRECTOR_REPO_DIR


def director_root_history(public_dir: Path) -> Path:
    """Every version of the director's root, from which device directories are filled."""
    return director_dir(public_dir) / DIRECTOR_ROOT_HISTORY


def director_device_metadata_dir(public_dir: Path, device_id: str) -> Path:
    """One device's director metadata directory (the device polls its ``timestamp.json``).

    Raises:
        medfleet.agent.contract.ContractError: ``device_id`` is not a safe name.
    """
    return director_dir(public_dir) / check_name("device id", device_id) / METADATA_DIR


def stored_target_path(targets_dir: Path, target_path: str, sha256: str) -> Path:
    """Where a target file is stored: ``<dir>/<sha256>.<name>`` as a TUF client requests it."""
    parent, _, name = target_path.rpartition("/")
    return targets_dir / parent / f"{sha256}.{name}"
