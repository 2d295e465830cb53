"""Offline field bundles: written by the server's export, verified on the device like an update.

The partial-bundle attacks are in ``test_attacks.py``; here are the format, the refusal of unsafe
or damaged bundles, and that a bundle gets exactly the online checks (expiry, rollback of
metadata, device binding) against the same trusted metadata caches.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from tuf.api.metadata import TargetFile

from medfleet.agent.bundle import (
    MANIFEST,
    BundleInstall,
    BundleVerdict,
    BundleWriteError,
    verify_bundle,
    write_bundle,
)
from medfleet.agent.decision import (
    Install,
    NoUpdateReason,
    Rejected,
    RejectReason,
    UpToDate,
)
from tests.agent.simulator import (
    DAY,
    MODEL,
    V2,
    SimDevice,
    UptaneSimulator,
    device_clock,
    read_tar,
    rewrite_bundle,
    write_tar,
)

DELTA = b"bsdiff from one to two"


@pytest.fixture
def bundle(sim: UptaneSimulator, device: SimDevice, v1: TargetFile, v2: TargetFile) -> Path:
    delta = sim.publish_delta(MODEL, v1, v2, DELTA)
    sim.assign("dev-1", v2, delta)
    return export(sim, device.repositories.state_dir.parent / "field.tar")


def export(sim: UptaneSimulator, output: Path, devices: tuple[str, ...] = ("dev-1",)) -> Path:
    files = sim.bundle_files(MODEL, devices)
    return write_bundle(output, files, release_id="R-200", model=MODEL)


def verify(device: SimDevice, bundle: Path, dest: Path) -> BundleVerdict:
    return verify_bundle(
        bundle, device.identity, device.installed, device.floor, device.repositories, dest
    )


def assert_refused(verdict: BundleVerdict, reason: RejectReason) -> Rejected:
    assert isinstance(verdict, Rejected), verdict
    assert verdict.reason is reason, verdict
    return verdict


def test_bundle_installs_the_verified_image_and_delta(
    device: SimDevice, v2: TargetFile, bundle: Path, tmp_path: Path
) -> None:
    verdict = verify(device, bundle, tmp_path / "out")

    assert isinstance(verdict, BundleInstall)
    assert isinstance(verdict.decision, Install)
    assert verdict.decision.image.hashes == v2.hashes
    assert verdict.image_file == tmp_path / "out" / f"{v2.hashes['sha256']}.image-200.img"
    assert verdict.image_file.read_bytes() == V2
    assert verdict.delta_file is not None
    assert verdict.delta_file.read_bytes() == DELTA


def test_bundle_holds_the_online_layout_and_a_manifest(bundle: Path, v2: TargetFile) -> None:
    members = read_tar(bundle)
    manifest = json.loads(members[MANIFEST])

    assert manifest["format"] == 1
    assert manifest["release_id"] == "R-200"
    assert manifest["model"] == MODEL
    assert manifest["devices"] == ["dev-1"]
    assert set(manifest["files"]) == set(members) - {MANIFEST}
    assert "repo/image/metadata/1.root.json" in members
    assert "repo/director/dev-1/metadata/timestamp.json" in members
    assert f"repo/image/targets/IP-100/{v2.hashes['sha256']}.image-200.img" in members


def test_write_bundle_is_deterministic_and_reads_files(
    sim: UptaneSimulator, bundle: Path, tmp_path: Path
) -> None:
    files: dict[str, bytes | Path] = dict(sim.bundle_files(MODEL, ["dev-1"]))
    image_name = next(name for name in files if name.endswith(".image-200.img"))
    on_disk = tmp_path / "image-200.img"
    on_disk.write_bytes(V2)
    files[image_name] = on_disk

    again = write_bundle(tmp_path / "again.tar", files, release_id="R-200", model=MODEL)

    assert again.read_bytes() == bundle.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle-")] == []


@pytest.mark.parametrize(
    "name",
    [
        "../escape",
        "/etc/passwd",
        "repo/image/metadata/../../../escape",
        "repo/image/./metadata/x.json",
        "repo/other/x.json",
        "repo/director/dev-1/x.json",
        "repo/director/../metadata/x.json",
        MANIFEST,
    ],
)
def test_write_bundle_refuses_names_outside_the_layout(
    sim: UptaneSimulator, device: SimDevice, tmp_path: Path, name: str
) -> None:
    files = {**sim.bundle_files(MODEL, ["dev-1"]), name: b"x"}

    with pytest.raises(BundleWriteError):
        write_bundle(tmp_path / "b.tar", files, release_id="R-1", model=MODEL)
    assert not (tmp_path / "b.tar").exists()


def test_write_bundle_refuses_a_bundle_without_director(
    sim: UptaneSimulator, v1: TargetFile, tmp_path: Path
) -> None:
    with pytest.raises(BundleWriteError, match="director"):
        export(sim, tmp_path / "b.tar", devices=())


@pytest.mark.parametrize(
    ("members", "links", "detail"),
    [
        ({"/etc/evil": b"x"}, {}, "member name '/etc/evil'"),
        ({"repo/../evil": b"x"}, {}, "member name 'repo/../evil'"),
        ({}, {"repo/image/metadata/link.json": "/etc/passwd"}, "link.json is not a file"),
        ({"unlisted.txt": b"x"}, {}, "not in the manifest: ['unlisted.txt']"),
    ],
    ids=["absolute", "dotdot", "symlink", "unlisted"],
)
def test_unsafe_bundle_members_are_refused(
    device: SimDevice,
    bundle: Path,
    tmp_path: Path,
    members: dict[str, bytes],
    links: dict[str, str],
    detail: str,
) -> None:
    write_tar(bundle, {**read_tar(bundle), **members}, links)

    verdict = assert_refused(verify(device, bundle, tmp_path / "out"), RejectReason.BUNDLE_UNSAFE)
    assert detail in verdict.detail
    assert not (tmp_path / "out").exists()


def test_duplicate_members_are_refused(device: SimDevice, bundle: Path, tmp_path: Path) -> None:
    with tarfile.open(bundle, "a:") as tar:
        tar.addfile(tarfile.TarInfo("repo/image/metadata/timestamp.json"))

    verdict = assert_refused(verify(device, bundle, tmp_path / "out"), RejectReason.BUNDLE_UNSAFE)
    assert "timestamp.json" in verdict.detail


def test_a_file_that_is_not_a_tar_is_unreadable(device: SimDevice, tmp_path: Path) -> None:
    not_a_bundle = tmp_path / "notes.txt"
    not_a_bundle.write_text("hello " * 200)

    assert_refused(verify(device, not_a_bundle, tmp_path / "out"), RejectReason.BUNDLE_UNREADABLE)


def test_a_missing_file_is_unreadable(device: SimDevice, tmp_path: Path) -> None:
    verdict = verify(device, tmp_path / "absent.tar", tmp_path / "out")

    assert_refused(verdict, RejectReason.BUNDLE_UNREADABLE)


def test_a_bundle_without_manifest_is_incomplete(
    device: SimDevice, bundle: Path, tmp_path: Path
) -> None:
    rewrite_bundle(bundle, drop=[MANIFEST], fix_manifest=False)

    assert_refused(verify(device, bundle, tmp_path / "out"), RejectReason.BUNDLE_INCOMPLETE)


def test_a_broken_manifest_is_unreadable(device: SimDevice, bundle: Path, tmp_path: Path) -> None:
    rewrite_bundle(bundle, replace={MANIFEST: b'{"format": 2, "files": {}}'}, fix_manifest=False)

    assert_refused(verify(device, bundle, tmp_path / "out"), RejectReason.BUNDLE_UNREADABLE)


def test_a_listed_member_that_is_absent_makes_the_bundle_incomplete(
    device: SimDevice, bundle: Path, tmp_path: Path
) -> None:
    rewrite_bundle(bundle, drop=["repo/image/metadata/1.root.json"], fix_manifest=False)

    verdict = assert_refused(
        verify(device, bundle, tmp_path / "out"), RejectReason.BUNDLE_INCOMPLETE
    )
    assert "1.root.json" in verdict.detail


def test_a_member_that_differs_from_the_manifest_is_refused_before_any_check(
    device: SimDevice, v2: TargetFile, bundle: Path, tmp_path: Path
) -> None:
    image = f"repo/image/targets/IP-100/{v2.hashes['sha256']}.image-200.img"
    rewrite_bundle(bundle, replace={image: V2[:-1] + b"?"}, fix_manifest=False)

    verdict = assert_refused(
        verify(device, bundle, tmp_path / "out"), RejectReason.BUNDLE_INCOMPLETE
    )
    assert verdict.detail == f"{image} is truncated or altered"
    assert not device.repositories.director_metadata_dir.exists()


def test_a_bundle_whose_delta_is_missing_leaves_no_file_behind(
    device: SimDevice, bundle: Path, tmp_path: Path
) -> None:
    delta = next(name for name in read_tar(bundle) if name.endswith(".delta"))
    rewrite_bundle(bundle, drop=[delta])

    verdict = assert_refused(
        verify(device, bundle, tmp_path / "out"), RejectReason.BUNDLE_INCOMPLETE
    )
    assert "deltas/" in verdict.detail
    assert list((tmp_path / "out").iterdir()) == []


def test_a_bundle_for_other_devices_is_refused(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile, tmp_path: Path
) -> None:
    sim.add_device("dev-2")
    sim.assign("dev-2", v2)
    other = export(sim, tmp_path / "other.tar", devices=("dev-2",))

    verdict = assert_refused(
        verify(device, other, tmp_path / "out"), RejectReason.BUNDLE_NOT_FOR_DEVICE
    )
    assert verdict.detail == "dev-1"


def test_an_expired_bundle_is_refused_as_online(
    device: SimDevice, bundle: Path, sim: UptaneSimulator, tmp_path: Path
) -> None:
    with device_clock(sim.now + 2 * DAY):
        verdict = assert_refused(
            verify(device, bundle, tmp_path / "out"), RejectReason.METADATA_EXPIRED
        )
    assert verdict.repository == "director"


def test_a_bundle_older_than_what_the_device_trusts_is_a_rollback(
    sim: UptaneSimulator, device: SimDevice, bundle: Path, tmp_path: Path
) -> None:
    sim.directors["dev-1"].publish()
    assert isinstance(device.check(), Install)

    verdict = assert_refused(
        verify(device, bundle, tmp_path / "out"), RejectReason.METADATA_BAD_VERSION
    )
    assert verdict.repository == "director"


def test_a_bundle_of_the_installed_image_is_up_to_date(
    device: SimDevice, v2: TargetFile, bundle: Path, tmp_path: Path
) -> None:
    device.installs(v2)

    verdict = verify(device, bundle, tmp_path / "out")

    assert verdict == UpToDate(NoUpdateReason.ALREADY_INSTALLED)


def test_online_checks_continue_after_an_offline_install(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile, bundle: Path, tmp_path: Path
) -> None:
    assert isinstance(verify(device, bundle, tmp_path / "out"), BundleInstall)
    device.installs(v2)

    assert device.check() == UpToDate(NoUpdateReason.ALREADY_INSTALLED)
