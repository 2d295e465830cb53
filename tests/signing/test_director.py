"""The director: per-device instructions, refusal of unlisted images, expiry, rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api.exceptions import ExpiredMetadataError, UnsignedMetadataError

from medfleet.agent.contract import DeltaInfo, Instruction
from medfleet.clock import FrozenClock
from medfleet.signing.director import DIRECTOR_LIFETIMES
from medfleet.signing.director_keys import change_director_keys, rotate_director_online_key
from medfleet.signing.errors import (
    RepositoryNotFoundError,
    SigningInputError,
    TargetNotListedError,
)
from medfleet.signing.image_publish import publish_delta
from medfleet.signing.tuf_api import TargetFile, Timestamp
from medfleet.signing.tufrepo import MetadataDir, bump, changed_root, sign, sign_root
from tests.signing.helpers import MODEL, Signing, make_signing

DEVICE = "dev-0001"


def _instruction(target: TargetFile, device: str = DEVICE, delta: str | None = None) -> Instruction:
    number = int(target.path.rsplit("-", 1)[1].removesuffix(".img"))
    return Instruction(device, f"R-{number}", number, delta)


def _assign(signing: Signing, target: TargetFile, device: str = DEVICE) -> TargetFile:
    instruction = _instruction(target, device)
    return signing.director.assign(device, target.path, target.length, target.hashes, instruction)


def _device_dir(signing: Signing, device: str = DEVICE) -> Path:
    return signing.public_dir / "repo" / "director" / device / "metadata"


def test_assign_lists_exactly_the_image_to_install(signing: Signing, tmp_path: Path) -> None:
    image = signing.publish(tmp_path, 430, b"pump 4.3.0")

    assigned = _assign(signing, image)

    assert (assigned.path, assigned.length, assigned.hashes) == (
        image.path,
        image.length,
        image.hashes,
    )
    assert signing.director.assigned(DEVICE) == assigned
    assert signing.director.devices() == [DEVICE]
    assert (_device_dir(signing) / "1.root.json").read_bytes() == signing.director.root_bytes(1)
    client = signing.director_client(tmp_path / "device", DEVICE)
    client.refresh()
    info = client.get_targetinfo(image.path)
    assert info is not None
    assert Instruction.from_custom(info.custom) == _instruction(image)
    assert Path(client.download_target(info)).read_bytes() == b"pump 4.3.0"


def test_a_new_assignment_replaces_the_old_and_versions_only_grow(
    signing: Signing, tmp_path: Path
) -> None:
    first = signing.publish(tmp_path, 430, b"4.3.0")
    second = signing.publish(tmp_path, 431, b"4.3.1")
    directory = MetadataDir(_device_dir(signing))

    _assign(signing, first)
    _assign(signing, second)
    signing.director.clear(DEVICE)

    assert directory.versions("targets") == [1, 2, 3]
    assert directory.read("timestamp.json", Timestamp).signed.version == 3
    assert signing.director.assigned(DEVICE) is None
    client = signing.director_client(tmp_path / "device", DEVICE)
    client.refresh()
    assert client.get_targetinfo(first.path) is None
    assert client.get_targetinfo(second.path) is None


def test_enrolled_device_has_metadata_with_no_target(signing: Signing, tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFoundError):
        signing.director.assigned(DEVICE)

    signing.director.enroll(DEVICE)
    signing.director.enroll(DEVICE)  # idempotent

    assert MetadataDir(_device_dir(signing)).versions("targets") == [1]
    client = signing.director_client(tmp_path / "device", DEVICE)
    client.refresh()
    assert signing.director.assigned(DEVICE) is None


@pytest.mark.parametrize(
    "change",
    ["unknown path", "length", "sha256", "only sha256", "release", "version number", "delta"],
)
def test_director_refuses_what_the_image_repository_does_not_list(
    signing: Signing, tmp_path: Path, change: str
) -> None:
    image = signing.publish(tmp_path, 430, b"pump 4.3.0")
    path, length, hashes = image.path, image.length, dict(image.hashes)
    instruction = _instruction(image)
    if change == "unknown path":
        path = f"{MODEL}/unreleased.img"
    elif change == "length":
        length += 1
    elif change == "sha256":
        hashes["sha256"] = "00" * 32
    elif change == "only sha256":
        del hashes["sha512"]
    elif change == "release":
        instruction = Instruction(DEVICE, "R-999", 430)
    elif change == "version number":
        instruction = Instruction(DEVICE, "R-430", 999)
    else:
        instruction = Instruction(DEVICE, "R-430", 430, f"{MODEL}/deltas/none.delta")

    with pytest.raises(TargetNotListedError):
        signing.director.assign(DEVICE, path, length, hashes, instruction)
    assert not _device_dir(signing).exists()


def test_director_refuses_an_instruction_for_another_device(
    signing: Signing, tmp_path: Path
) -> None:
    image = signing.publish(tmp_path, 430, b"pump")

    with pytest.raises(SigningInputError):
        signing.director.assign(
            DEVICE, image.path, image.length, image.hashes, _instruction(image, "dev-9")
        )
    with pytest.raises(SigningInputError):
        signing.director.assign(
            "../x", image.path, image.length, image.hashes, _instruction(image, "../x")
        )


def test_director_names_a_delta_only_if_it_leads_to_the_target(
    signing: Signing, tmp_path: Path
) -> None:
    old = signing.publish(tmp_path, 430, b"4.3.0")
    new = signing.publish(tmp_path, 431, b"4.3.1")
    newest = signing.publish(tmp_path, 432, b"4.3.2")
    delta_file = tmp_path / "d.delta"
    delta_file.write_bytes(b"delta")
    info = DeltaInfo(MODEL, old.hashes["sha256"], new.path, "bsdiff4")
    delta = publish_delta(signing.image, delta_file, "430-431.delta", info, [signing.qa])

    with pytest.raises(TargetNotListedError):
        signing.director.assign(
            DEVICE,
            newest.path,
            newest.length,
            newest.hashes,
            _instruction(newest, delta=delta.path),
        )
    assigned = signing.director.assign(
        DEVICE, new.path, new.length, new.hashes, _instruction(new, delta=delta.path)
    )
    assert Instruction.from_custom(assigned.custom).delta_path == delta.path


def test_director_metadata_expires_soon(signing: Signing, tmp_path: Path) -> None:
    _assign(signing, signing.publish(tmp_path, 430, b"pump"))
    now = signing.clock.now()
    directory = MetadataDir(_device_dir(signing))

    timestamp = directory.read("timestamp.json", Timestamp).signed
    assert timestamp.expires == now + DIRECTOR_LIFETIMES.timestamp == now + timedelta(hours=1)
    assert DIRECTOR_LIFETIMES.targets == DIRECTOR_LIFETIMES.snapshot == timedelta(days=1)


def test_a_field_assignment_lasts_for_the_visit_then_returns_to_short_lifetimes(
    signing: Signing, tmp_path: Path
) -> None:
    image = signing.publish(tmp_path, 430, b"pump")
    instruction = _instruction(image)
    signing.director.assign(
        DEVICE, image.path, image.length, image.hashes, instruction, lifetime=timedelta(days=7)
    )
    directory = MetadataDir(_device_dir(signing))
    start = signing.clock.now()
    assert directory.read("timestamp.json", Timestamp).signed.expires == start + timedelta(days=7)
    assert signing.director.refresh_expiring(timedelta(minutes=40)).resigned == ()
    signing.clock.advance(timedelta(days=7) - timedelta(minutes=30))
    assert signing.director.refresh_expiring(timedelta(minutes=40)).resigned == (DEVICE,)
    renewed = directory.read("timestamp.json", Timestamp).signed
    assert renewed.expires == signing.clock.now() + DIRECTOR_LIFETIMES.timestamp
    assert signing.director.assigned(DEVICE) is not None  # the instruction is kept


@pytest.mark.parametrize("days", [0, 15])
def test_a_field_lifetime_is_bounded(signing: Signing, tmp_path: Path, days: int) -> None:
    image = signing.publish(tmp_path, 430, b"pump")
    with pytest.raises(SigningInputError, match="at most 14 days"):
        signing.director.assign(
            DEVICE, image.path, image.length, image.hashes, _instruction(image),
            lifetime=timedelta(days=days),
        )  # fmt: skip


def test_refresh_re_signs_only_devices_that_expire_soon(tmp_path: Path) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    signing = make_signing(tmp_path, clock)
    image = signing.publish(tmp_path, 430, b"pump")
    _assign(signing, image)
    with pytest.raises(ExpiredMetadataError):
        signing.director_client(tmp_path / "stale", DEVICE).refresh()

    clock.advance(timedelta(hours=2))
    _assign(signing, image, "dev-0002")  # fresh: not due
    report = signing.director.refresh_expiring(timedelta(minutes=10))

    assert report.resigned == (DEVICE,)
    assert report.needs_offline == ()
    client = signing.director_client(tmp_path / "fresh", DEVICE)
    client.refresh()
    assert client.get_targetinfo(image.path) is not None


def test_refresh_keeps_the_instruction_when_targets_expire(
    signing: Signing, tmp_path: Path
) -> None:
    assigned = _assign(signing, signing.publish(tmp_path, 430, b"pump"))
    signing.clock.advance(timedelta(hours=23, minutes=55))

    report = signing.director.refresh_expiring(timedelta(minutes=10))

    assert report.resigned == (DEVICE,)
    assert MetadataDir(_device_dir(signing)).versions("targets") == [1, 2]
    assert signing.director.assigned(DEVICE) == assigned


def test_refresh_asks_for_the_root_holders_before_the_root_expires(signing: Signing) -> None:
    signing.clock.advance(timedelta(days=360))

    assert signing.director.refresh_expiring(timedelta(days=10)).needs_offline == ("root",)
    change_director_keys(signing.director, "root", root_signers=signing.director_root_signers())
    assert signing.director.refresh_expiring(timedelta(days=10)).needs_offline == ()


def test_director_rotation_reaches_every_device(signing: Signing, tmp_path: Path) -> None:
    image = signing.publish(tmp_path, 430, b"pump")
    for device in (DEVICE, "dev-0002"):
        _assign(signing, image, device)
    root = signing.director.root().signed
    stolen = signing.keys.online_signer(root.roles["timestamp"].keyids[0])
    old_root = signing.director_root_signers()
    new_root_key = signing.keys.generate_offline_key("new director holder")
    new_root = signing.keys.unlock_offline_key(new_root_key.keyid, "new director holder")

    change_director_keys(
        signing.director,
        "root",
        add=[new_root_key],
        revoke=[s.public_key.keyid for s in old_root],
        root_signers=[*old_root, new_root],
    )
    rotate_director_online_key(signing.director, "timestamp", [new_root])

    for device in (DEVICE, "dev-0002"):
        assert MetadataDir(_device_dir(signing, device)).versions("root") == [1, 2, 3]
        client = signing.director_client(tmp_path / device, device)
        client.refresh()
        assert client.get_targetinfo(image.path) is not None
    directory = MetadataDir(_device_dir(signing))
    forged = bump(
        directory.read("timestamp.json", Timestamp).signed, signing.clock.now(), timedelta(hours=1)
    )
    directory.write("timestamp.json", sign(forged, [stolen]).to_bytes())
    with pytest.raises(UnsignedMetadataError):
        signing.director_client(tmp_path / "forged", DEVICE).refresh()


def test_refresh_finishes_a_director_rotation_interrupted_after_the_root(
    signing: Signing, tmp_path: Path
) -> None:
    image = signing.publish(tmp_path, 430, b"pump")
    _assign(signing, image)
    current = signing.director.root().signed
    new_key = signing.keys.generate_online_key().public_key
    new_root = changed_root(
        current,
        "snapshot",
        signing.clock.now(),
        DIRECTOR_LIFETIMES.root,
        add=[new_key],
        revoke=current.roles["snapshot"].keyids,
    )
    signed = sign_root(current, new_root, signing.director_root_signers())
    signing.director.history.write_root(signed)  # ... and the process stopped here

    report = signing.director.refresh_expiring(timedelta(minutes=10))

    assert report.resigned == (DEVICE,)
    assert MetadataDir(_device_dir(signing)).versions("root") == [1, 2]
    client = signing.director_client(tmp_path / "device", DEVICE)
    client.refresh()
    assert client.get_targetinfo(image.path) is not None
    assert signing.director.refresh_expiring(timedelta(minutes=10)).resigned == ()
