"""The update decision on the normal paths, with python-tuf's real Updater on the simulator.

Up to date, install, delta chosen, key rotations followed, the rules that are not attacks
(minimum from-version, delegation to the model role), and the conditional poll and a full check
over real HTTP on loopback.
"""

from __future__ import annotations

import dataclasses
import io

import pytest
import urllib3
from tuf.api.exceptions import DownloadHTTPError
from tuf.api.metadata import TargetFile
from tuf.ngclient import Urllib3Fetcher

from medfleet.agent.contract import ContractError, ImageInfo, Instruction
from medfleet.agent.decision import (
    DeviceIdentity,
    Install,
    NoUpdateReason,
    Rejected,
    RejectReason,
    UpToDate,
)
from medfleet.agent.poll import (
    PollError,
    poll_director,
)
from medfleet.agent.updates import (
    check_for_update,
    copy_verified,
)
from tests.agent.simulator import (
    MODEL,
    V2,
    SimDevice,
    UptaneSimulator,
    director_target,
    serve_http,
)


def test_no_instruction_is_up_to_date(device: SimDevice, v2: TargetFile) -> None:
    assert device.check() == UpToDate(NoUpdateReason.NO_INSTRUCTION)


def test_assigned_image_installs_with_everything_the_installer_needs(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    sim.assign("dev-1", v2)

    decision = device.check()

    assert isinstance(decision, Install)
    assert decision.image.path == v2.path == "IP-100/image-200.img"
    assert decision.image.length == len(V2)
    assert decision.image.hashes == v2.hashes
    assert decision.image.url == (
        f"{sim.base_url}/repo/image/targets/IP-100/{v2.hashes['sha256']}.image-200.img"
    )
    assert decision.info == ImageInfo.from_custom(v2.custom)
    assert decision.instruction == Instruction("dev-1", "R-200", 200, None)
    assert decision.delta is None


def test_installed_image_is_up_to_date(
    sim: UptaneSimulator, device: SimDevice, v1: TargetFile
) -> None:
    sim.assign("dev-1", v1)

    assert device.check() == UpToDate(NoUpdateReason.ALREADY_INSTALLED)


def test_next_check_after_install_is_up_to_date(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    sim.assign("dev-1", v2)
    assert isinstance(device.check(), Install)

    device.installs(v2)

    assert device.check() == UpToDate(NoUpdateReason.ALREADY_INSTALLED)


def test_delta_named_by_the_director_is_chosen(
    sim: UptaneSimulator, device: SimDevice, v1: TargetFile, v2: TargetFile
) -> None:
    delta = sim.publish_delta(MODEL, v1, v2, b"bsdiff bytes", "bsdiff4")
    sim.assign("dev-1", v2, delta)

    decision = device.check()

    assert isinstance(decision, Install)
    assert decision.delta is not None
    assert decision.delta.target.path == delta.path
    assert decision.delta.target.hashes == delta.hashes
    assert decision.delta.info.from_sha256 == v1.hashes["sha256"]
    assert decision.delta.info.to_path == v2.path
    assert decision.delta.info.method == "bsdiff4"


def test_delta_from_another_installed_image_is_rejected(
    sim: UptaneSimulator, device: SimDevice, v1: TargetFile, v2: TargetFile
) -> None:
    v3 = sim.publish_image(MODEL, b"image three", 300)
    delta = sim.publish_delta(MODEL, v2, v3, b"from two")
    sim.assign("dev-1", v3, delta)

    decision = device.check()

    assert isinstance(decision, Rejected)
    assert decision.reason is RejectReason.DELTA_WRONG_BASE


def test_device_follows_image_root_and_timestamp_key_rotation(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    sim.assign("dev-1", v2)
    assert isinstance(device.check(), Install)

    sim.image.rotate_keys("root")
    sim.image.rotate_keys("timestamp")
    sim.image.rotate_keys("model-IP-100")

    assert isinstance(device.check(), Install)
    assert (device.repositories.image_metadata_dir / "root_history" / "3.root.json").exists()


def test_device_follows_director_key_rotation(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    sim.assign("dev-1", v2)
    sim.directors["dev-1"].rotate_keys("targets")

    assert isinstance(device.check(), Install)


def test_image_that_needs_a_newer_installed_version_is_rejected(
    sim: UptaneSimulator, device: SimDevice
) -> None:
    v3 = sim.publish_image(MODEL, b"image three", 300, min_from_version_number=200)
    sim.assign("dev-1", v3)

    decision = device.check()

    assert isinstance(decision, Rejected)
    assert decision.reason is RejectReason.FROM_VERSION_TOO_OLD
    assert not decision.transient


def test_image_listed_outside_the_model_role_is_rejected(
    sim: UptaneSimulator, device: SimDevice
) -> None:
    sim.add_model(MODEL)
    stray = sim.publish_image(MODEL, b"top-level image", 300, role="targets")
    sim.assign("dev-1", stray)

    decision = device.check()

    assert isinstance(decision, Rejected)
    assert decision.reason is RejectReason.NOT_DELEGATED_TO_MODEL


def test_instruction_without_medfleet_fields_is_rejected(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    bare = TargetFile(v2.length, dict(v2.hashes), v2.path)
    sim.set_director_targets("dev-1", [bare])

    decision = device.check()

    assert isinstance(decision, Rejected)
    assert decision.reason is RejectReason.INVALID_INSTRUCTION
    assert decision.repository == "director"


def test_instruction_whose_custom_is_not_an_object_is_rejected(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    odd = TargetFile(v2.length, dict(v2.hashes), v2.path, {"custom": ["not", "an", "object"]})
    sim.set_director_targets("dev-1", [odd])

    decision = device.check()

    assert isinstance(decision, Rejected)
    assert decision.reason is RejectReason.INVALID_INSTRUCTION
    assert "custom is not an object" in decision.detail


def test_instruction_naming_another_release_is_rejected(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    wrong = director_target(v2, Instruction("dev-1", "R-999", 999))
    sim.set_director_targets("dev-1", [wrong])

    decision = device.check()

    assert isinstance(decision, Rejected)
    assert decision.reason is RejectReason.INSTRUCTION_MISMATCH


def test_unreachable_director_is_a_transient_rejection(
    sim: UptaneSimulator, device: SimDevice
) -> None:
    del sim.directors["dev-1"]

    decision = device.check()

    assert isinstance(decision, Rejected)
    assert decision.reason is RejectReason.UNREACHABLE
    assert decision.repository == "director"
    assert decision.transient


def test_invalid_device_id_is_a_configuration_error(device: SimDevice) -> None:
    with pytest.raises(ContractError):
        check_for_update(
            DeviceIdentity("../dev", MODEL, "B"),
            device.installed,
            device.floor,
            device.repositories,
            fetcher=device.sim,
        )


def test_copy_verified_passes_the_exact_bytes(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    sim.assign("dev-1", v2)
    decision = device.check()
    assert isinstance(decision, Install)
    output = io.BytesIO()

    copy_verified(decision.image, sim.fetch(decision.image.url), output)

    assert output.getvalue() == V2


def test_simulator_refuses_a_target_url_with_a_wrong_hash_prefix(
    sim: UptaneSimulator, v2: TargetFile
) -> None:
    url = f"{sim.base_url}/repo/image/targets/IP-100/{'0' * 64}.image-200.img"

    with pytest.raises(DownloadHTTPError):
        list(sim.fetch(url))


def test_full_check_and_download_over_real_http(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    sim.assign("dev-1", v2)
    with serve_http(sim) as base_url:
        online = dataclasses.replace(device.repositories, base_url=base_url)
        decision = check_for_update(device.identity, device.installed, device.floor, online)
        assert isinstance(decision, Install)
        output = io.BytesIO()
        copy_verified(decision.image, Urllib3Fetcher().fetch(decision.image.url), output)

    assert decision.image.url.startswith(base_url)
    assert output.getvalue() == V2


def test_poll_answers_304_until_the_director_publishes(
    sim: UptaneSimulator, device: SimDevice, v2: TargetFile
) -> None:
    http = urllib3.PoolManager()
    with serve_http(sim) as base_url:
        first = poll_director(base_url, "dev-1", None, http=http)
        unchanged = poll_director(base_url, "dev-1", first.etag, http=http)
        sim.assign("dev-1", v2)
        changed = poll_director(base_url, "dev-1", first.etag, http=http)
        again = poll_director(base_url, "dev-1", changed.etag, http=http)

    assert first.changed
    assert first.etag is not None
    assert not unchanged.changed
    assert unchanged.etag == first.etag
    assert changed.changed
    assert changed.etag not in (None, first.etag)
    assert not again.changed
    timestamp_polls = [url for url in sim.fetched if url.endswith("/dev-1/metadata/timestamp.json")]
    assert len(timestamp_polls) == 4


def test_poll_of_an_unknown_device_fails(sim: UptaneSimulator) -> None:
    with serve_http(sim) as base_url, pytest.raises(PollError, match="HTTP 404"):
        poll_director(base_url, "dev-unknown", None)


def test_poll_of_an_unreachable_server_fails(sim: UptaneSimulator) -> None:
    with serve_http(sim) as base_url:
        pass  # the server is gone once the block ends

    with pytest.raises(PollError):
        poll_director(base_url, "dev-1", None, timeout=2.0)
