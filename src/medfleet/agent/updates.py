"""The update decision: a device installs only what the image repository and the director agree on.

``check_for_update`` refreshes the device's director repository and the image repository with
python-tuf's unmodified ``ngclient.Updater`` (bootstrapped with the roots delivered at enrollment),
reads the director's instruction for this device and returns one decision:

- ``UpToDate``: the director assigns nothing, or the assigned image is the installed one;
- ``Install``: the assigned image is listed by the image repository, through the model's
  delegated role, with the same length and hashes; it is for this model and hardware revision;
  its version number is above the anti-rollback floor; the installed version may update to it;
  the named delta (if any) turns the installed image into exactly that image;
- ``Rejected``: anything else, with a specific ``RejectReason``. Every TUF failure (expired,
  badly signed, rolled back or oversized metadata, unreachable repository) ends here too, never
  as an exception.

Nothing here downloads an image: ``copy_verified`` is the check every download (online or from
a bundle) applies to a target's bytes. ``poll_director`` is the cheap conditional GET that tells
whether a full check is needed at all (``medfleet.agent.poll``). Clinical-use deferral is the
installer's business.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, NoReturn, TypeVar
from urllib import parse

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, TargetFile, Targets  # type: ignore[attr-defined]
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

from medfleet.agent import contract
from medfleet.agent.contract import ContractError, DeltaInfo, ImageInfo, Instruction
from medfleet.agent.decision import (
    Decision,
    DeltaTarget,
    DeviceIdentity,
    Install,
    InstalledImage,
    NoUpdateReason,
    Rejected,
    RejectReason,
    Repositories,
    RepositoryName,
    TargetSpec,
    UpToDate,
)
from medfleet.agent.errors import AgentError
from medfleet.agent.poll import USER_AGENT

_T = TypeVar("_T")


class _RejectionError(Exception):
    def __init__(
        self, reason: RejectReason, detail: str, repository: RepositoryName | None
    ) -> None:
        super().__init__(detail)
        self.decision = Rejected(reason, detail, repository)


_TUF_REASONS: tuple[tuple[type[Exception], RejectReason], ...] = (
    (tuf_errors.ExpiredMetadataError, RejectReason.METADATA_EXPIRED),
    (tuf_errors.UnsignedMetadataError, RejectReason.METADATA_BAD_SIGNATURE),
    (tuf_errors.BadVersionNumberError, RejectReason.METADATA_BAD_VERSION),
    (tuf_errors.LengthOrHashMismatchError, RejectReason.METADATA_MISMATCH),
    (tuf_errors.DownloadLengthMismatchError, RejectReason.METADATA_TOO_LARGE),
    (tuf_errors.RepositoryError, RejectReason.METADATA_INVALID),
    (tuf_errors.DownloadError, RejectReason.UNREACHABLE),
    (OSError, RejectReason.LOCAL_STORAGE),
)
_TUF_FAILURES = tuple(kind for kind, _ in _TUF_REASONS)


def _guarded(repository: RepositoryName, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except _TUF_FAILURES as error:
        reason = next(reason for kind, reason in _TUF_REASONS if isinstance(error, kind))
        raise _RejectionError(reason, str(error) or type(error).__name__, repository) from error


def check_for_update(
    device: DeviceIdentity,
    installed: InstalledImage,
    floor: int,
    repositories: Repositories,
    fetcher: FetcherInterface | None = None,
) -> Decision:
    """Refresh both repositories and decide what this device should do; never raises for them.

    ``floor`` is the anti-rollback floor: only a ``version_number`` above it installs. ``fetcher``
    defaults to python-tuf's urllib3 fetcher; tests and offline bundles pass their own.

    Raises:
        ContractError: the device id or model is not a valid name (local configuration).
    """
    contract.check_name("device id", device.device_id)
    contract.model_role(device.model)
    try:
        director = _guarded("director", lambda: _updater(repositories, "director", device, fetcher))
        _guarded("director", director.refresh)
        image = _guarded("image", lambda: _updater(repositories, "image", device, fetcher))
        _guarded("image", image.refresh)
        return _decide(device, installed, floor, repositories, director, image)
    except _RejectionError as rejection:
        return rejection.decision


def _updater(
    repositories: Repositories,
    which: RepositoryName,
    device: DeviceIdentity,
    fetcher: FetcherInterface | None,
) -> Updater:
    if which == "director":
        metadata_dir = repositories.director_metadata_dir
        url = contract.director_metadata_url(repositories.base_url, device.device_id)
        root = repositories.director_root
    else:
        metadata_dir = repositories.image_metadata_dir
        url = contract.image_metadata_url(repositories.base_url)
        root = repositories.image_root
    metadata_dir.mkdir(parents=True, exist_ok=True)
    config = UpdaterConfig(app_user_agent=USER_AGENT)
    return Updater(str(metadata_dir), url, fetcher=fetcher, config=config, bootstrap=root)


def _decide(
    device: DeviceIdentity,
    installed: InstalledImage,
    floor: int,
    repositories: Repositories,
    director: Updater,
    image: Updater,
) -> UpToDate | Install:
    assigned = _instruction_target(repositories.director_metadata_dir, director)
    if assigned is None:
        return UpToDate(NoUpdateReason.NO_INSTRUCTION)
    instruction = _parse(
        Instruction.from_custom, assigned, RejectReason.INVALID_INSTRUCTION, "director"
    )
    if instruction.device_id != device.device_id:
        _reject(RejectReason.WRONG_DEVICE, f"instruction is for device {instruction.device_id!r}")
    listed = _guarded("image", lambda: image.get_targetinfo(assigned.path))
    if listed is None:
        _reject(RejectReason.NOT_IN_IMAGE_REPOSITORY, f"{assigned.path} is not a released image")
    if listed.length != assigned.length or listed.hashes != assigned.hashes:
        _reject(RejectReason.IMAGE_MISMATCH, f"{assigned.path}: director and image repo differ")
    info = _parse(ImageInfo.from_custom, listed, RejectReason.INVALID_IMAGE_METADATA, "image")
    if info.model != device.model:
        _reject(RejectReason.WRONG_MODEL, f"image is for model {info.model!r}")
    if device.hardware_revision not in info.hardware_revisions:
        _reject(RejectReason.WRONG_HARDWARE_REVISION, f"image is for {info.hardware_revisions}")
    _require_model_role(repositories.image_metadata_dir, listed.path, device.model)
    if (instruction.release_id, instruction.version_number) != (
        info.release_id,
        info.version_number,
    ):
        _reject(RejectReason.INSTRUCTION_MISMATCH, "instruction names another release/version")
    target = _spec(listed, repositories.base_url)
    if target.sha256 == installed.sha256:
        return UpToDate(NoUpdateReason.ALREADY_INSTALLED)
    if info.version_number <= floor:
        _reject(RejectReason.ANTI_ROLLBACK, f"version {info.version_number} <= floor {floor}")
    minimum = info.min_from_version_number
    if minimum is not None and installed.version_number < minimum:
        _reject(RejectReason.FROM_VERSION_TOO_OLD, f"needs version >= {minimum} installed first")
    delta = None
    if instruction.delta_path is not None:
        delta = _delta(instruction.delta_path, target, installed, device, repositories, image)
    return Install(target, info, instruction, delta)


def _instruction_target(director_dir: Path, director: Updater) -> TargetFile | None:
    # ngclient cannot list targets; its cache holds exactly the targets.json it verified in this
    # refresh, and get_targetinfo below proves that what we read is what it trusts.
    listed = _verified_targets(director_dir, "targets", "director").targets
    if len(listed) > 1:
        _reject(RejectReason.MULTIPLE_INSTRUCTIONS, f"director lists {sorted(listed)}")
    if not listed:
        return None
    path, target = next(iter(listed.items()))
    if _guarded("director", lambda: director.get_targetinfo(path)) != target:
        _reject(RejectReason.METADATA_INVALID, "cached director targets differ", "director")
    return target


def _delta(
    path: str,
    target: TargetSpec,
    installed: InstalledImage,
    device: DeviceIdentity,
    repositories: Repositories,
    image: Updater,
) -> DeltaTarget:
    listed = _guarded("image", lambda: image.get_targetinfo(path))
    if listed is None:
        _reject(RejectReason.DELTA_NOT_IN_IMAGE_REPOSITORY, f"{path} is not a published delta")
    info = _parse(DeltaInfo.from_custom, listed, RejectReason.DELTA_INVALID, "image")
    if info.model != device.model:
        _reject(RejectReason.DELTA_INVALID, f"delta is for model {info.model!r}")
    _require_model_role(repositories.image_metadata_dir, path, device.model)
    if info.from_sha256 != installed.sha256:
        _reject(RejectReason.DELTA_WRONG_BASE, "delta does not start from the installed image")
    if info.to_path != target.path:
        _reject(RejectReason.DELTA_WRONG_TARGET, f"delta builds {info.to_path}, not {target.path}")
    return DeltaTarget(_spec(listed, repositories.base_url), info)


def _require_model_role(image_dir: Path, path: str, model: str) -> None:
    top = _verified_targets(image_dir, "targets", "image")
    role = contract.model_role(model)
    roles = top.delegations.get_roles_for_target(path) if top.delegations else iter(())
    first = next(roles, None)
    if path in top.targets or first is None or first[0] != role:
        _reject(RejectReason.NOT_DELEGATED_TO_MODEL, f"{path} is not signed by role {role}")


def _verified_targets(metadata_dir: Path, role: str, repository: RepositoryName) -> Targets:
    file = metadata_dir / f"{parse.quote(role, '')}.json"
    data = _guarded(repository, file.read_bytes)
    metadata = _guarded(repository, lambda: Metadata[Targets].from_bytes(data))
    if not isinstance(metadata.signed, Targets):
        _reject(RejectReason.METADATA_INVALID, f"{file.name} is not targets", repository)
    return metadata.signed


def _parse(
    parser: Callable[[Any], _T],
    target: TargetFile,
    reason: RejectReason,
    repository: RepositoryName,
) -> _T:
    try:
        if not isinstance(target.custom, dict):
            raise ContractError("custom is not an object")
        return parser(target.custom)
    except ContractError as error:
        raise _RejectionError(reason, f"{target.path}: {error}", repository) from error


def _spec(target: TargetFile, base_url: str) -> TargetSpec:
    sha256 = target.hashes.get("sha256")
    if not isinstance(sha256, str):
        _reject(RejectReason.INVALID_IMAGE_METADATA, f"{target.path} has no sha256", "image")
    directory, slash, name = target.path.rpartition("/")
    url = f"{contract.image_targets_url(base_url)}{directory}{slash}{sha256}.{name}"
    return TargetSpec(target.path, target.length, dict(target.hashes), url)


def _reject(
    reason: RejectReason, detail: str, repository: RepositoryName | None = None
) -> NoReturn:
    raise _RejectionError(reason, detail, repository)


class TargetMismatchError(AgentError):
    """The bytes offered for a target are not the ones the verified metadata describes."""


def copy_verified(target: TargetSpec, chunks: Iterable[bytes], destination: BinaryIO) -> None:
    """Copy ``chunks`` to ``destination`` while checking them against ``target``.

    Reads at most ``target.length + 1`` bytes, so an endless stream cannot exhaust the device.
    The caller discards ``destination`` when this raises.

    Raises:
        TargetMismatchError: too long, too short, an unsupported hash algorithm or a wrong hash.
    """
    try:
        digests = {name: hashlib.new(name) for name in target.hashes}
    except ValueError as error:
        raise TargetMismatchError(f"{target.path}: unsupported hash algorithm") from error
    if not digests:
        raise TargetMismatchError(f"{target.path}: no hashes to check")
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if received > target.length:
            raise TargetMismatchError(f"{target.path}: more than {target.length} bytes")
        for digest in digests.values():
            digest.update(chunk)
        destination.write(chunk)
    if received != target.length:
        raise TargetMismatchError(f"{target.path}: {received} of {target.length} bytes")
    for name, digest in digests.items():
        if not hmac.compare_digest(digest.hexdigest(), target.hashes[name]):
            raise TargetMismatchError(f"{target.path}: {name} does not match")


def target_file_name(target: TargetSpec) -> str:
    """A collision-free local file name for a target: ``<sha256>.<basename>``."""
    return f"{target.sha256}.{PurePosixPath(target.path).name}"
