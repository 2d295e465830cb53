"""Offline field bundles: one tar file that a device verifies as it verifies an online update.

A bundle is an uncompressed tar whose members mirror the online layout of
``medfleet.agent.contract``, plus a manifest:

- ``medfleet-bundle.json``: ``{"format": 1, "release_id", "model", "devices": [...],
  "files": {member: {"length", "sha256"}}}``, listing every other member. It is not signed: it
  only lets the device refuse a partial or truncated bundle before it trusts anything.
  Authenticity comes from the TUF metadata alone.
- ``repo/image/metadata/``: every root version from 1 (a device offline for months follows the
  rotations), ``timestamp.json`` and the snapshot, targets and ``model-<model>`` versions it
  leads to;
- ``repo/image/targets/<model>/<sha256>.<name>``: the released image and its deltas;
- ``repo/director/<device-id>/metadata/``: the director metadata of every device the bundle is
  for, naming the release. The director stays per device, so offline too nothing installs unless
  the image repository and the director agree; ``bundle export --release R --model M`` signs
  these for the model's devices assigned R, with an expiry long enough for the field visit.

``verify_bundle`` serves the bundle to the same ``check_for_update`` (python-tuf's Updater over a
fetcher that reads the tar), with the device's own metadata caches, so expiry, signatures and
rollback of metadata are checked as online; then it copies the chosen files out, verified.
``write_bundle`` is pure stdlib, for the server's ``medfleet bundle export``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO, Any

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient.fetcher import FetcherInterface

from medfleet.agent import contract
from medfleet.agent.decision import (
    DeviceIdentity,
    Install,
    InstalledImage,
    Rejected,
    RejectReason,
    Repositories,
    TargetSpec,
    UpToDate,
)
from medfleet.agent.errors import AgentError
from medfleet.agent.updates import (
    TargetMismatchError,
    check_for_update,
    copy_verified,
    target_file_name,
)

FORMAT = 1
MANIFEST = "medfleet-bundle.json"
BUNDLE_BASE_URL = "https://bundle.medfleet.invalid"
MAX_MEMBERS = 200_000
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_IMAGE_METADATA = f"{contract.IMAGE_REPO_DIR}/{contract.METADATA_DIR}/"
_IMAGE_TARGETS = f"{contract.IMAGE_REPO_DIR}/{contract.TARGETS_DIR}/"
_DIRECTOR = f"{contract.DIRECTOR_REPO_DIR}/"


class BundleWriteError(AgentError, ValueError):
    """The files given for a bundle are unsafe or incomplete; nothing was written.

    Also a ``ValueError`` (bad input), for callers that catch that.
    """


@dataclass(frozen=True, slots=True)
class BundleInstall:
    """A verified bundle: install ``decision`` from these files, already checked and on disk."""

    decision: Install
    image_file: Path
    delta_file: Path | None


BundleVerdict = BundleInstall | UpToDate | Rejected


def write_bundle(
    output: Path, files: Mapping[str, bytes | Path], *, release_id: str, model: str
) -> Path:
    """Write a bundle atomically (temp file, fsync, rename); the same inputs give the same bytes.

    ``files`` maps member names in the online layout (see the module docstring) to their content
    or to a file holding it. The manifest is computed here.

    Raises:
        BundleWriteError: a name outside the layout or unsafe, no image or director metadata, or
            an invalid model name.
        OSError: a source file cannot be read or the output cannot be written.
    """
    for name in files:
        _check_layout_name(name)
    devices = sorted({device for name in files if (device := _director_device(name))})
    if f"{_IMAGE_METADATA}timestamp.json" not in files or not devices:
        raise BundleWriteError("a bundle needs the image repository and a device's director")
    try:
        contract.check_name("model", model)
    except contract.ContractError as error:
        raise BundleWriteError(str(error)) from error
    listing = {name: _describe(content) for name, content in sorted(files.items())}
    manifest = {
        "format": FORMAT,
        "release_id": release_id,
        "model": model,
        "devices": devices,
        "files": listing,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=".bundle-")
    try:
        with os.fdopen(handle, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:", format=tarfile.PAX_FORMAT) as tar:
                body = json.dumps(manifest, indent=1, sort_keys=True).encode()
                _add(tar, MANIFEST, len(body), io.BytesIO(body))
                for name, content in sorted(files.items()):
                    with _open(content) as source:
                        _add(tar, name, listing[name]["length"], source)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, output)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return output


def verify_bundle(
    bundle: Path,
    device: DeviceIdentity,
    installed: InstalledImage,
    floor: int,
    repositories: Repositories,
    dest_dir: Path,
) -> BundleVerdict:
    """Check a bundle as an online update is checked and, if it installs, copy its files out.

    Refuses (``Rejected``) a bundle that is unreadable, unsafe (absolute or ``..`` names, links,
    duplicates), partial or truncated, not meant for this device, or that fails any check of
    ``check_for_update``. On ``BundleInstall`` the image (and delta) are in ``dest_dir``, their
    length and hashes verified against the TUF metadata. Never raises for the bundle's content;
    an I/O error (bundle medium or ``dest_dir``) is a transient ``LOCAL_STORAGE`` rejection.

    Raises:
        ContractError: the device id or model is not a valid name (local configuration).
    """
    contract.check_name("device id", device.device_id)
    contract.model_role(device.model)
    try:
        tar = tarfile.open(bundle, "r:")  # noqa: SIM115 - closed below, after the checks
    except (OSError, tarfile.TarError) as error:
        return Rejected(RejectReason.BUNDLE_UNREADABLE, f"{bundle}: {error}")
    try:
        with tar:
            return _verify_open_bundle(tar, device, installed, floor, repositories, dest_dir)
    except _BundleProblemError as problem:
        return problem.decision
    except (tarfile.TarError, EOFError) as error:
        return Rejected(RejectReason.BUNDLE_INCOMPLETE, f"{bundle} is truncated: {error}")
    except OSError as error:
        return Rejected(RejectReason.LOCAL_STORAGE, f"{bundle}: {error}")


class _BundleProblemError(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.decision = Rejected(reason, detail)


def _verify_open_bundle(
    tar: tarfile.TarFile,
    device: DeviceIdentity,
    installed: InstalledImage,
    floor: int,
    repositories: Repositories,
    dest_dir: Path,
) -> BundleVerdict:
    members = _safe_members(tar)
    _check_complete(tar, members, _read_manifest(tar, members))
    director = f"{_DIRECTOR}{device.device_id}/{contract.METADATA_DIR}/timestamp.json"
    if director not in members:
        raise _BundleProblemError(RejectReason.BUNDLE_NOT_FOR_DEVICE, device.device_id)
    fetcher = _BundleFetcher(tar, members)
    offline = replace(repositories, base_url=BUNDLE_BASE_URL)
    decision = check_for_update(device, installed, floor, offline, fetcher)
    if isinstance(decision, Rejected) and fetcher.missing:
        raise _BundleProblemError(RejectReason.BUNDLE_INCOMPLETE, f"missing {fetcher.missing}")
    if not isinstance(decision, Install):
        return decision
    image = _extract(tar, members, decision.image, dest_dir)
    if decision.delta is None:
        return BundleInstall(decision, image, None)
    try:
        delta = _extract(tar, members, decision.delta.target, dest_dir)
    except BaseException:
        image.unlink(missing_ok=True)
        raise
    return BundleInstall(decision, image, delta)


def _safe_members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar:
        if len(members) >= MAX_MEMBERS:
            raise _BundleProblemError(RejectReason.BUNDLE_UNSAFE, "too many members")
        if not member.isreg():
            raise _BundleProblemError(RejectReason.BUNDLE_UNSAFE, f"{member.name} is not a file")
        if not _is_safe_name(member.name) or member.name in members:
            raise _BundleProblemError(RejectReason.BUNDLE_UNSAFE, f"member name {member.name!r}")
        members[member.name] = member
    return members


def _read_manifest(tar: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo]) -> dict[str, Any]:
    member = members.get(MANIFEST)
    if member is None or member.size > MAX_MANIFEST_BYTES:
        raise _BundleProblemError(RejectReason.BUNDLE_INCOMPLETE, f"no usable {MANIFEST}")
    try:
        manifest = json.loads(_read(tar, member))
        files = manifest["files"]
        if manifest["format"] != FORMAT or not isinstance(files, dict):
            raise ValueError(f"format {manifest['format']!r}")
        return {name: (int(entry["length"]), str(entry["sha256"])) for name, entry in files.items()}
    except (ValueError, KeyError, TypeError) as error:
        raise _BundleProblemError(RejectReason.BUNDLE_UNREADABLE, f"{MANIFEST}: {error}") from error


def _check_complete(
    tar: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo], listed: Mapping[str, Any]
) -> None:
    present = set(members) - {MANIFEST}
    if missing := sorted(set(listed) - present):
        raise _BundleProblemError(RejectReason.BUNDLE_INCOMPLETE, f"missing {missing}")
    if unlisted := sorted(present - set(listed)):
        raise _BundleProblemError(RejectReason.BUNDLE_UNSAFE, f"not in the manifest: {unlisted}")
    for name, (length, sha256) in listed.items():
        digest = hashlib.sha256()
        received = 0
        for chunk in _chunks(tar, members[name]):
            digest.update(chunk)
            received += len(chunk)
        if received != length or digest.hexdigest() != sha256:
            raise _BundleProblemError(
                RejectReason.BUNDLE_INCOMPLETE, f"{name} is truncated or altered"
            )


def _extract(
    tar: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo], target: TargetSpec, dest: Path
) -> Path:
    member = members.get(target.url.removeprefix(f"{BUNDLE_BASE_URL}/"))
    if member is None:
        raise _BundleProblemError(RejectReason.BUNDLE_INCOMPLETE, f"missing {target.path}")
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / target_file_name(target)
    handle, temporary = tempfile.mkstemp(dir=dest, prefix=".extract-")
    try:
        with os.fdopen(handle, "wb") as output:
            copy_verified(target, _chunks(tar, member), output)
            output.flush()
            os.fsync(output.fileno())
        os.replace(temporary, final)
    except TargetMismatchError as error:
        raise _BundleProblemError(RejectReason.TARGET_MISMATCH, str(error)) from error
    finally:
        Path(temporary).unlink(missing_ok=True)
    return final


class _BundleFetcher(FetcherInterface):
    """Serves the bundle's members at ``BUNDLE_BASE_URL``; remembers what the Updater missed."""

    def __init__(self, tar: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo]) -> None:
        self._tar = tar
        self._members = members
        self.missing: list[str] = []

    def _fetch(self, url: str) -> Iterator[bytes]:
        name = url.removeprefix(f"{BUNDLE_BASE_URL}/")
        member = self._members.get(name)
        if member is None:
            if not name.endswith(".root.json"):  # the Updater probes for the next root: normal
                self.missing.append(name)
            raise DownloadHTTPError(f"{name} is not in the bundle", 404)
        return _chunks(self._tar, member)


def _chunks(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[bytes]:
    stream = tar.extractfile(member)
    if stream is None:
        raise _BundleProblemError(RejectReason.BUNDLE_UNSAFE, f"{member.name} is not a file")
    with stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    return b"".join(_chunks(tar, member))


def _is_safe_name(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        bool(parts)
        and not name.startswith("/")
        and "\\" not in name
        and "\x00" not in name
        and all(part not in ("", ".", "..") for part in parts)
        and "/".join(parts) == name
    )


def _check_layout_name(name: str) -> None:
    if not _is_safe_name(name) or name == MANIFEST:
        raise BundleWriteError(f"unsafe member name {name!r}")
    inside_image = name.startswith((_IMAGE_METADATA, _IMAGE_TARGETS))
    if not inside_image and _director_device(name) is None:
        raise BundleWriteError(f"{name!r} is outside the repository layout")


def _director_device(name: str) -> str | None:
    device, _, rest = name.removeprefix(_DIRECTOR).partition("/")
    if not name.startswith(_DIRECTOR) or not rest.startswith(f"{contract.METADATA_DIR}/"):
        return None
    try:
        return contract.check_name("device id", device)
    except contract.ContractError:
        return None


def _describe(content: bytes | Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    length = 0
    with _open(content) as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            length += len(chunk)
    return {"length": length, "sha256": digest.hexdigest()}


def _open(content: bytes | Path) -> IO[bytes]:
    return io.BytesIO(content) if isinstance(content, bytes) else content.open("rb")


def _add(tar: tarfile.TarFile, name: str, length: int, source: IO[bytes]) -> None:
    info = tarfile.TarInfo(name)
    info.size = length
    info.mode = 0o644
    tar.addfile(info, source)
