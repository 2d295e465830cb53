"""The attack suite: every attack is a state change of the simulated world, and none installs.

Attacks from the TUF specification (arbitrary installation, endless data, extraneous
dependencies, fast-forward, indefinite freeze, malicious mirrors, mix-and-match, rollback, key
compromise below threshold, wrong software installation) and from Uptane (director compromised
alone, image repository compromised alone, partial bundle installation, freeze by the director).
Python-tuf's unmodified Updater runs on top of the simulator; each test asserts the precise
reason, so a regression that rejects for another reason is caught. Replayed device reports are
the server's attack and are tested there.

The world of every test: model IP-100 (hardware revision B) has released v1 (100, installed on
dev-1, floor 100) and v2 (200).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import TargetFile

from medfleet.agent.bundle import BundleInstall, BundleVerdict, verify_bundle, write_bundle
from medfleet.agent.contract import Instruction
from medfleet.agent.decision import (
    Decision,
    Install,
    NoUpdateReason,
    Rejected,
    RejectReason,
    RepositoryName,
    UpToDate,
)
from medfleet.agent.poll import (
    PollError,
    poll_director,
)
from medfleet.agent.updates import (
    TargetMismatchError,
    copy_verified,
)
from tests.agent.simulator import (
    DAY,
    MODEL,
    V1,
    V2,
    SimDevice,
    UptaneSimulator,
    device_clock,
    director_target,
    rewrite_bundle,
    serve_http,
)

EVIL = b"malware " * 400


def assert_rejected(
    decision: Decision, reason: RejectReason, repository: RepositoryName | None = None
) -> Rejected:
    assert isinstance(decision, Rejected), decision
    assert decision.reason is reason, decision
    assert decision.repository == repository, decision
    assert not decision.transient
    return decision


def install(device: SimDevice, image: TargetFile) -> None:
    """The legitimate update happens first, so the device holds fresh trusted metadata."""
    decision = device.check()
    assert isinstance(decision, Install), decision
    device.installs(image)


# --- TUF: arbitrary installation -----------------------------------------------------------


def test_attack_arbitrary_installation_director_signed_with_own_key(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the server's online snapshot/timestamp keys and the mirror, not the director's
    targets key. It lists its own image, signed with its own key. Fails: the director targets
    role is not signed by the key that the director root trusts."""
    evil = TargetFile.from_data("IP-100/image-999.img", EVIL, ["sha256", "sha512"])
    sim.directors["dev-1"].sign_with("targets", [CryptoSigner.generate_ed25519()])
    sim.set_director_targets("dev-1", [director_target(evil, Instruction("dev-1", "R-999", 999))])

    assert_rejected(device.check(), RejectReason.METADATA_BAD_SIGNATURE, "director")


def test_attack_arbitrary_installation_of_served_target_bytes(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the mirror that serves target files; it serves its own bytes for v2.
    Fails: the bytes do not have the length and hashes of the verified metadata."""
    sim.assign("dev-1", v2)
    decision = device.check()
    assert isinstance(decision, Install)
    sim.serve_instead(decision.image.url, EVIL[: len(V2)])

    with pytest.raises(TargetMismatchError, match="sha256 does not match"):
        copy_verified(decision.image, sim.fetch(decision.image.url), io.BytesIO())


# --- TUF: endless data ---------------------------------------------------------------------


def test_attack_endless_data_metadata(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the mirror answers the director's timestamp.json with a stream that never ends.
    Fails: python-tuf reads at most the timestamp's size limit, then gives up."""
    sim.serve_endless(sim.director_url("dev-1", "timestamp.json"))

    assert_rejected(device.check(), RejectReason.METADATA_TOO_LARGE, "director")


def test_attack_endless_data_delegated_metadata(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the mirror answers the model role's metadata with an endless stream.
    Fails: targets metadata is read up to python-tuf's limit only."""
    sim.assign("dev-1", v2)
    version = sim.image.roles["model-IP-100"].signed.version
    sim.serve_endless(sim.image_url(f"{version}.model-IP-100.json"))

    assert_rejected(device.check(), RejectReason.METADATA_TOO_LARGE, "image")


def test_attack_endless_data_target_file(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the mirror serves the image as an endless stream. Fails: the copy stops one
    chunk past the image's signed length and keeps nothing."""
    sim.assign("dev-1", v2)
    decision = device.check()
    assert isinstance(decision, Install)
    sim.serve_endless(decision.image.url)
    output = io.BytesIO()

    with pytest.raises(TargetMismatchError, match=f"more than {len(V2)} bytes"):
        copy_verified(decision.image, sim.fetch(decision.image.url), output)
    assert len(output.getvalue()) <= len(V2)


def test_attack_endless_data_poll(sim: UptaneSimulator, device: SimDevice) -> None:
    """Attacker: the web server answers the device's poll with an endless body.
    Fails: the poll reads at most the timestamp size limit and reports an error."""
    sim.serve_endless(sim.director_url("dev-1", "timestamp.json"))

    with serve_http(sim) as base_url, pytest.raises(PollError, match="more than"):
        poll_director(base_url, "dev-1", None)


# --- TUF: extraneous dependencies ----------------------------------------------------------


def test_attack_extraneous_dependencies_second_target(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the director; besides v2 it asks the device to install a second (released)
    artifact. Fails: an instruction names exactly one image."""
    extra = sim.publish_image(MODEL, b"companion tool", 150)
    sim.set_director_targets(
        "dev-1",
        [
            director_target(v2, Instruction("dev-1", "R-200", 200)),
            director_target(extra, Instruction("dev-1", "R-150", 150)),
        ],
    )

    assert_rejected(device.check(), RejectReason.MULTIPLE_INSTRUCTIONS)


def test_attack_extraneous_dependencies_delta_for_another_image(
    sim: UptaneSimulator, device: SimDevice, v1: TargetFile, v2: TargetFile
) -> None:
    """Attacker: the director; it installs v2 "through" a released delta that builds another
    image (v3). Fails: the delta's to_path must be the assigned image."""
    v3 = sim.publish_image(MODEL, b"image three", 300)
    other = sim.publish_delta(MODEL, v1, v3, b"delta to three")
    sim.assign("dev-1", v2, other)

    assert_rejected(device.check(), RejectReason.DELTA_WRONG_TARGET)


def test_attack_extraneous_dependencies_image_named_as_delta(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the director names a released image as the "delta" to fetch first.
    Fails: the named delta must be a delta target of the image repository."""
    extra = sim.publish_image(MODEL, b"companion tool", 150)
    sim.assign("dev-1", v2, extra)

    assert_rejected(device.check(), RejectReason.DELTA_INVALID, "image")


# --- TUF: fast-forward ---------------------------------------------------------------------


def test_attack_fast_forward(sim: UptaneSimulator, device: SimDevice, v2: TargetFile) -> None:
    """Attacker: the image repository's timestamp key and the mirror, not the snapshot key. It
    signs timestamp version 1,000,000 naming snapshot 1,000,000, so that every honest timestamp
    looks like a rollback. Fails: that snapshot cannot be signed without the snapshot key (the
    mirror's honest snapshot has another version), so nothing installs. The device then refuses
    honest timestamps until the repository rotates the timestamp key; after that it drops the
    fast-forwarded timestamp and installs again (fast-forward recovery)."""
    sim.assign("dev-1", v2)
    honest_version = sim.image.timestamp.signed.version
    honest_snapshot = sim.image.served(f"{sim.image.snapshot.signed.version}.snapshot.json")
    assert honest_snapshot is not None
    sim.image.timestamp.signed.version = 999_999
    sim.image.publish_timestamp(snapshot_version=1_000_000)
    sim.serve_instead(sim.image_url("1000000.snapshot.json"), honest_snapshot)

    rejected = assert_rejected(device.check(), RejectReason.METADATA_BAD_VERSION, "image")
    assert "1000000" in rejected.detail
    sim.mirror.clear()
    sim.image.timestamp.signed.version = honest_version
    sim.image.publish()
    rejected = assert_rejected(device.check(), RejectReason.METADATA_BAD_VERSION, "image")
    assert "must be >= 1000000" in rejected.detail

    sim.image.rotate_keys("timestamp")
    assert isinstance(device.check(), Install)


# --- TUF: indefinite freeze ----------------------------------------------------------------


def test_attack_indefinite_freeze(sim: UptaneSimulator, device: SimDevice, v2: TargetFile) -> None:
    """Attacker: the mirror of the image repository; it keeps serving today's metadata forever
    (hiding, say, the recall of an image). Fails: two days later the frozen timestamp has
    expired, and the device refuses it."""
    sim.assign("dev-1", v2)
    assert isinstance(device.check(), Install)
    sim.image.freeze()
    later = sim.now + 2 * DAY
    sim.directors["dev-1"].renew(later, "targets")

    with device_clock(later):
        assert_rejected(device.check(), RejectReason.METADATA_EXPIRED, "image")


# --- TUF: malicious mirrors ----------------------------------------------------------------


def test_attack_malicious_mirrors_tampered_metadata(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: a mirror; it edits the director's signed instruction in transit (another image
    hash). Fails: the edited metadata no longer matches its signature."""
    sim.assign("dev-1", v2)
    name = f"{sim.directors['dev-1'].roles['targets'].signed.version}.targets.json"
    original = sim.directors["dev-1"].served(name)
    assert original is not None
    tampered = original.replace(v2.hashes["sha256"].encode(), b"0" * 64)
    sim.serve_instead(sim.director_url("dev-1", name), tampered)

    assert_rejected(device.check(), RejectReason.METADATA_BAD_SIGNATURE, "director")


def test_attack_malicious_mirrors_tampered_image(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: a mirror; it flips one byte of the image it serves (same length).
    Fails: the sha256 (and sha512) of the bytes differ from the verified metadata."""
    sim.assign("dev-1", v2)
    decision = device.check()
    assert isinstance(decision, Install)
    sim.serve_instead(decision.image.url, V2[:-1] + b"!")
    output = io.BytesIO()

    with pytest.raises(TargetMismatchError, match="sha256 does not match"):
        copy_verified(decision.image, sim.fetch(decision.image.url), output)


# --- TUF: mix-and-match --------------------------------------------------------------------


def test_attack_mix_and_match(sim: UptaneSimulator, device: SimDevice, v2: TargetFile) -> None:
    """Attacker: a mirror; it combines the current snapshot with an older model-role metadata
    (in which v3 does not exist yet), served under the current name. Fails: the role's version
    is not the one the snapshot names."""
    old_version = sim.image.roles["model-IP-100"].signed.version
    old_role = sim.image.served(f"{old_version}.model-IP-100.json")
    assert old_role is not None
    v3 = sim.publish_image(MODEL, b"image three", 300)
    sim.assign("dev-1", v3)
    current = sim.image.roles["model-IP-100"].signed.version
    sim.serve_instead(sim.image_url(f"{current}.model-IP-100.json"), old_role)

    rejected = assert_rejected(device.check(), RejectReason.METADATA_BAD_VERSION, "image")
    assert "model-IP-100" in rejected.detail


# --- TUF: rollback -------------------------------------------------------------------------


def test_attack_rollback_metadata(sim: UptaneSimulator, device: SimDevice, v2: TargetFile) -> None:
    """Attacker: a mirror; it replays the director's older, validly signed timestamp (from
    before v2 was assigned) to a device that has seen the newer one. Fails: a timestamp version
    below the trusted one is a rollback."""
    old_timestamp = sim.directors["dev-1"].served("timestamp.json")
    assert old_timestamp is not None
    sim.assign("dev-1", v2)
    install(device, v2)
    sim.serve_instead(sim.director_url("dev-1", "timestamp.json"), old_timestamp)

    rejected = assert_rejected(device.check(), RejectReason.METADATA_BAD_VERSION, "director")
    assert "must be >=" in rejected.detail


def test_attack_rollback_image(
    sim: UptaneSimulator, device: SimDevice, v1: TargetFile, v2: TargetFile
) -> None:
    """Attacker: the director (all its keys); after v2 is installed it assigns the older,
    genuinely released v1 (known vulnerabilities). Fails: 100 is not above the floor 200."""
    sim.assign("dev-1", v2)
    install(device, v2)
    sim.assign("dev-1", v1)

    assert_rejected(device.check(), RejectReason.ANTI_ROLLBACK)


# --- TUF: key compromise below threshold ---------------------------------------------------


def test_attack_key_compromise_below_threshold_targets(tmp_path: Path) -> None:
    """Attacker: one of the two top-level targets keys (threshold 2), the online image keys and
    the director. It delegates the model to its own key, releases malware and assigns it.
    Fails: the new targets metadata carries one of the two required signatures."""
    sim = UptaneSimulator(image_thresholds={"root": 2, "targets": 2})
    v1 = sim.publish_image(MODEL, V1, 100)
    device = sim.enroll(tmp_path, installed=v1)
    sim.image.sign_with("targets", sim.image.signers["targets"][:1])
    sim.image.rotate_keys("model-IP-100")
    evil = sim.publish_image(MODEL, EVIL, 999)
    sim.assign("dev-1", evil)

    rejected = assert_rejected(device.check(), RejectReason.METADATA_BAD_SIGNATURE, "image")
    assert "targets was signed by 1/2 keys" in rejected.detail


def test_attack_key_compromise_below_threshold_root(tmp_path: Path) -> None:
    """Attacker: one of the two root keys (threshold 2); it publishes a root that hands the
    timestamp role to its own key. Fails: the new root carries one of two required signatures."""
    sim = UptaneSimulator(image_thresholds={"root": 2, "targets": 2})
    v1 = sim.publish_image(MODEL, V1, 100)
    device = sim.enroll(tmp_path, installed=v1)
    sim.image.sign_with("root", sim.image.signers["root"][:1])
    sim.image.rotate_keys("timestamp")

    rejected = assert_rejected(device.check(), RejectReason.METADATA_BAD_SIGNATURE, "image")
    assert "root was signed by 1/2 keys" in rejected.detail


# --- TUF: wrong software installation ------------------------------------------------------


def test_attack_wrong_software_installation_other_model(
    sim: UptaneSimulator, device: SimDevice
) -> None:
    """Attacker: the director; it assigns an image genuinely released for another model
    (IP-200). Fails: the image repository says the image is for IP-200."""
    foreign = sim.publish_image("IP-200", b"other model", 500)
    sim.assign("dev-1", foreign)

    assert_rejected(device.check(), RejectReason.WRONG_MODEL)


def test_attack_wrong_software_installation_other_hardware_revision(
    sim: UptaneSimulator, device: SimDevice
) -> None:
    """Attacker: the director; it assigns an IP-100 image released for hardware revision A
    only, to a revision B device. Fails: B is not among the image's hardware revisions."""
    rev_a = sim.publish_image(MODEL, b"revision A only", 300, hardware_revisions=("A",))
    sim.assign("dev-1", rev_a)

    assert_rejected(device.check(), RejectReason.WRONG_HARDWARE_REVISION)


def test_attack_wrong_software_installation_other_device_instruction(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: a mirror; it serves dev-2's genuine director metadata (same director keys) at
    dev-1's URLs. Fails: the instruction names dev-2."""
    sim.add_device("dev-2")
    sim.assign("dev-2", v2)
    sim.directors["dev-1"] = sim.directors["dev-2"]

    assert_rejected(device.check(), RejectReason.WRONG_DEVICE)


# --- Uptane: director compromised alone ----------------------------------------------------


def test_attack_director_compromised_alone_unreleased_image(
    sim: UptaneSimulator, device: SimDevice
) -> None:
    """Attacker: every director key; it assigns an image that was never released.
    Fails: the image repository does not list it."""
    evil = TargetFile.from_data("IP-100/image-999.img", EVIL, ["sha256", "sha512"])
    sim.set_director_targets("dev-1", [director_target(evil, Instruction("dev-1", "R-999", 999))])

    assert_rejected(device.check(), RejectReason.NOT_IN_IMAGE_REPOSITORY)


def test_attack_director_compromised_alone_other_hashes(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: every director key; it assigns v2's path with the length and hashes of its own
    file. Fails: the image repository lists v2 with other length and hashes."""
    evil = TargetFile.from_data(v2.path, EVIL, ["sha256", "sha512"])
    sim.set_director_targets("dev-1", [director_target(evil, Instruction("dev-1", "R-200", 200))])

    assert_rejected(device.check(), RejectReason.IMAGE_MISMATCH)


# --- Uptane: image repository compromised alone --------------------------------------------


def test_attack_image_repository_compromised_alone_new_image(
    sim: UptaneSimulator, device: SimDevice, v1: TargetFile
) -> None:
    """Attacker: every online image-repository key and the model role key; it releases a
    "v9.99" for IP-100. Fails: the director did not assign it, so nothing installs."""
    sim.publish_image(MODEL, EVIL, 999)
    assert device.check() == UpToDate(NoUpdateReason.NO_INSTRUCTION)

    sim.assign("dev-1", v1)
    assert device.check() == UpToDate(NoUpdateReason.ALREADY_INSTALLED)


def test_attack_image_repository_compromised_alone_swapped_image(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: every image-repository key; it replaces the bytes of the assigned v2 under the
    same path. Fails: the director assigned v2 with the original length and hashes."""
    sim.assign("dev-1", v2)
    swapped = sim.publish_image(MODEL, EVIL, 200)
    assert swapped.path == v2.path

    assert_rejected(device.check(), RejectReason.IMAGE_MISMATCH)


# --- Uptane: freeze by the director --------------------------------------------------------


def test_attack_freeze_by_the_director_stale_instruction(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the director's online timestamp and snapshot keys; it keeps the device on a
    stale instruction by re-signing timestamp and snapshot but never the targets (instruction).
    Fails: the instruction has expired."""
    sim.assign("dev-1", v2)
    install(device, v2)
    later = sim.now + 2 * DAY
    sim.directors["dev-1"].renew(later)
    sim.image.renew(later)

    with device_clock(later):
        rejected = assert_rejected(device.check(), RejectReason.METADATA_EXPIRED, "director")
    assert "targets" in rejected.detail


def test_attack_freeze_by_the_director_replayed_metadata(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Attacker: the director's web server; it keeps serving the same director files forever
    (say, to hide a recall). Fails: the director's short expiry passes and the device refuses
    the frozen timestamp."""
    sim.assign("dev-1", v2)
    install(device, v2)
    sim.directors["dev-1"].freeze()
    later = sim.now + 2 * DAY
    sim.directors["dev-1"].renew(later, "targets")
    sim.image.renew(later)

    with device_clock(later):
        rejected = assert_rejected(device.check(), RejectReason.METADATA_EXPIRED, "director")
    assert "timestamp" in rejected.detail


# --- Uptane: partial bundle installation ---------------------------------------------------


@pytest.fixture
def bundle(sim: UptaneSimulator, device: SimDevice, v2: TargetFile, tmp_path: Path) -> Path:
    sim.assign("dev-1", v2)
    files = sim.bundle_files(MODEL, ["dev-1"])
    return write_bundle(tmp_path / "field.tar", files, release_id="R-200", model=MODEL)


def verify(device: SimDevice, bundle: Path, dest: Path) -> BundleVerdict:
    return verify_bundle(
        bundle, device.identity, device.installed, device.floor, device.repositories, dest
    )


def test_attack_partial_bundle_installation_missing_image(
    device: SimDevice, v2: TargetFile, bundle: Path, tmp_path: Path
) -> None:
    """Attacker: whoever carries the bundle; it removes the image and rewrites the unsigned
    manifest to match. Fails: the verified decision needs a file the bundle does not hold."""
    image = f"repo/image/targets/IP-100/{v2.hashes['sha256']}.image-200.img"
    rewrite_bundle(bundle, drop=[image])

    verdict = verify(device, bundle, tmp_path / "out")

    assert isinstance(verdict, Rejected)
    assert verdict.reason is RejectReason.BUNDLE_INCOMPLETE
    assert v2.path in verdict.detail
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_attack_partial_bundle_installation_missing_metadata(
    sim: UptaneSimulator, device: SimDevice, bundle: Path, tmp_path: Path
) -> None:
    """Attacker: whoever carries the bundle; it removes the model role's metadata and fixes the
    manifest. Fails: the Updater cannot find metadata it needs, so the bundle is partial."""
    version = sim.image.roles["model-IP-100"].signed.version
    rewrite_bundle(bundle, drop=[f"repo/image/metadata/{version}.model-IP-100.json"])

    verdict = verify(device, bundle, tmp_path / "out")

    assert isinstance(verdict, Rejected)
    assert verdict.reason is RejectReason.BUNDLE_INCOMPLETE
    assert "model-IP-100.json" in verdict.detail


def test_attack_partial_bundle_installation_truncated(
    device: SimDevice, bundle: Path, tmp_path: Path
) -> None:
    """Attacker (or a yanked USB stick): the bundle file is cut in the middle of a member.
    Fails: the member's bytes do not match the manifest, before anything is trusted."""
    data = bundle.read_bytes()
    bundle.write_bytes(data[: len(data) // 2])

    verdict = verify(device, bundle, tmp_path / "out")

    assert isinstance(verdict, Rejected)
    assert verdict.reason is RejectReason.BUNDLE_INCOMPLETE
    assert "truncated" in verdict.detail


def test_attack_partial_bundle_installation_swapped_image(
    device: SimDevice, v2: TargetFile, bundle: Path, tmp_path: Path
) -> None:
    """Attacker: whoever carries the bundle; it swaps the image bytes and fixes the manifest.
    Fails: the image does not match the TUF metadata; no file is left in the output."""
    image = f"repo/image/targets/IP-100/{v2.hashes['sha256']}.image-200.img"
    rewrite_bundle(bundle, replace={image: EVIL[: len(V2)]})

    verdict = verify(device, bundle, tmp_path / "out")

    assert isinstance(verdict, Rejected)
    assert verdict.reason is RejectReason.TARGET_MISMATCH
    assert list((tmp_path / "out").iterdir()) == []


def test_control_untouched_bundle_installs(device: SimDevice, bundle: Path, tmp_path: Path) -> None:
    """Control for the bundle attacks: the same bundle, unmodified, installs."""
    assert isinstance(verify(device, bundle, tmp_path / "out"), BundleInstall)


def test_control_unattacked_world_installs_v2(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    """Control for the attacks: the same world, unattacked, installs v2."""
    sim.assign("dev-1", v2)
    decision = device.check()
    assert isinstance(decision, Install)
    assert decision.image.path == v2.path
