"""The image repository: creation, publication, anti-rollback, delegation per model, refresh.

Every "the client sees …" below is python-tuf's own ``ngclient.Updater``.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from medfleet.agent.contract import DeltaInfo, ImageInfo
from medfleet.clock import FrozenClock
from medfleet.signing import files
from medfleet.signing.errors import (
    InsufficientSignaturesError,
    ModelExistsError,
    RepositoryExistsError,
    RollbackError,
    SigningInputError,
    TargetConflictError,
    UnknownModelError,
)
from medfleet.signing.image_publish import publish_delta, publish_image
from medfleet.signing.image_repo import ImageRepository
from medfleet.signing.keys import KeyStore
from medfleet.signing.setup import create_signing
from medfleet.signing.tuf_api import TargetFile, Targets
from medfleet.signing.tufrepo import bump, sign
from tests.signing.helpers import (
    MODEL,
    OTHER_MODEL,
    RA,
    RA_PASSWORD,
    Signing,
    image_info,
)


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_created_repository_is_consumed_by_the_client(signing: Signing, tmp_path: Path) -> None:
    names = set(_files(signing.image.metadata.path))

    assert {"1.root.json", "1.snapshot.json", "timestamp.json"} <= names
    assert {"1.targets.json", "2.targets.json", "1.model-IP-100.json"} <= names
    client = signing.image_client(tmp_path / "client")
    client.refresh()
    assert client.get_targetinfo(f"{MODEL}/nothing.img") is None
    root = signing.image.chain().root.signed
    assert root.consistent_snapshot is True
    assert root.roles["root"].threshold == 1


def test_creating_twice_is_refused(signing: Signing) -> None:
    before = _files(signing.image.metadata.path)
    signer = signing.image_root_signers()

    with pytest.raises(RepositoryExistsError):
        ImageRepository.create(
            signing.public_dir,
            signing.keys,
            signing.clock,
            root_keys=[s.public_key for s in signer],
            root_threshold=1,
            root_signers=signer,
            targets_keys=[signing.admin.public_key],
            targets_threshold=1,
            targets_signers=[signing.admin],
        )
    assert _files(signing.image.metadata.path) == before


@pytest.mark.parametrize(("threshold", "signers"), [(2, 1), (1, 0)])
def test_create_checks_threshold_and_signers_first(
    tmp_path: Path, clock: FrozenClock, threshold: int, signers: int
) -> None:
    keys = KeyStore(tmp_path / "keys")
    root = keys.generate_offline_key("holder")
    root_signer = keys.unlock_offline_key(root.keyid, "holder")
    targets = keys.generate_user_key("admin", "pw")

    with pytest.raises((SigningInputError, InsufficientSignaturesError)):
        ImageRepository.create(
            tmp_path / "public",
            keys,
            clock,
            root_keys=[root],
            root_threshold=threshold,
            root_signers=[root_signer][:signers],
            targets_keys=[targets],
            targets_threshold=1,
            targets_signers=[keys.unlock_user_key("admin", "pw")],
        )
    assert not (tmp_path / "public").exists()
    assert not (tmp_path / "keys" / "tuf" / "online").exists()


def test_production_needs_two_root_holders(tmp_path: Path, clock: FrozenClock) -> None:
    keys = KeyStore(tmp_path / "keys")
    with pytest.raises(SigningInputError):
        create_signing(
            tmp_path / "public",
            keys,
            clock,
            root_passwords=["only holder"],
            root_threshold=1,
            targets_username="admin",
            targets_password="pw",
            production=True,
        )

    setup = create_signing(
        tmp_path / "public",
        keys,
        clock,
        root_passwords=["holder one", "holder two"],
        root_threshold=2,
        targets_username="admin",
        targets_password="pw",
        production=True,
    )

    for root in (setup.image.chain().root.signed, setup.director.root().signed):
        assert root.roles["root"].threshold == 2
        assert len(root.roles["root"].keyids) == 2
    assert set(setup.image_root_key_ids).isdisjoint(setup.director_root_key_ids)


def test_published_image_resolves_through_its_model_role(signing: Signing, tmp_path: Path) -> None:
    content = b"infusion pump firmware 4.3.0" * 100
    target = signing.publish(tmp_path, 430, content)

    assert target.path == f"{MODEL}/{MODEL}-430.img"
    assert target.hashes == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "sha512": hashlib.sha512(content).hexdigest(),
    }
    stored = signing.image.targets_dir / MODEL / f"{target.hashes['sha256']}.{MODEL}-430.img"
    assert stored.read_bytes() == content
    chain = signing.image.chain()
    assert target.path not in signing.image.top_targets(chain).signed.targets
    assert signing.image.model_targets(MODEL) == {target.path: target}

    client = signing.image_client(tmp_path / "client")
    client.refresh()
    info = client.get_targetinfo(target.path)
    assert info is not None
    assert (info.length, info.hashes) == (len(content), target.hashes)
    assert ImageInfo.from_custom(info.custom) == image_info(430)
    assert Path(client.download_target(info)).read_bytes() == content


def test_anti_rollback_refuses_a_version_number_not_above_the_highest(
    signing: Signing, tmp_path: Path
) -> None:
    signing.publish(tmp_path, 430, b"4.3.0")
    before = _files(signing.image.metadata.path)
    artifact = tmp_path / "older.img"
    artifact.write_bytes(b"an older build")

    for number in (430, 429, 1):
        with pytest.raises(RollbackError):
            publish_image(
                signing.image, artifact, f"older-{number}.img", image_info(number), [signing.qa]
            )
    assert _files(signing.image.metadata.path) == before

    signing.publish(tmp_path, 431, b"4.3.1")
    assert len(signing.image.model_targets(MODEL)) == 2


def test_republishing_the_same_image_is_idempotent(signing: Signing, tmp_path: Path) -> None:
    first = signing.publish(tmp_path, 430, b"4.3.0")
    before = _files(signing.image.metadata.path)

    again = signing.publish(tmp_path, 430, b"4.3.0")

    assert again == first
    assert _files(signing.image.metadata.path) == before


def test_a_published_path_never_changes_content(signing: Signing, tmp_path: Path) -> None:
    signing.publish(tmp_path, 430, b"4.3.0")
    artifact = tmp_path / "other.img"
    artifact.write_bytes(b"something else")

    with pytest.raises(TargetConflictError):
        publish_image(signing.image, artifact, f"{MODEL}-430.img", image_info(500), [signing.qa])


def test_bad_file_and_model_names_are_refused(signing: Signing, tmp_path: Path) -> None:
    artifact = tmp_path / "a.img"
    artifact.write_bytes(b"x")

    with pytest.raises(SigningInputError):
        publish_image(signing.image, artifact, "../escape.img", image_info(1), [signing.qa])
    with pytest.raises(SigningInputError):
        signing.image.add_model(
            "bad/model",
            [signing.qa.public_key],
            1,
            targets_signers=[signing.admin],
            model_signers=[],
        )


def test_a_model_without_a_role_is_refused(signing: Signing, tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError):
        signing.publish(tmp_path, 1, b"x", model=OTHER_MODEL)
    qa_key = [signing.qa.public_key]
    before = _files(signing.image.metadata.path)
    with pytest.raises(ModelExistsError):
        signing.image.add_model(
            MODEL, qa_key, 1, targets_signers=[signing.admin], model_signers=[signing.qa]
        )
    for targets_signer, model_signer in ((signing.qa, signing.qa), (signing.admin, signing.admin)):
        with pytest.raises(InsufficientSignaturesError):
            signing.image.add_model(
                OTHER_MODEL,
                qa_key,
                1,
                targets_signers=[targets_signer],
                model_signers=[model_signer],
            )
    assert _files(signing.image.metadata.path) == before


def test_each_model_is_signed_only_by_its_own_keys(signing: Signing, tmp_path: Path) -> None:
    ra_key = signing.keys.generate_user_key(RA, RA_PASSWORD)
    ra = signing.keys.unlock_user_key(RA, RA_PASSWORD)
    signing.image.add_model(
        OTHER_MODEL, [ra_key], 1, targets_signers=[signing.admin], model_signers=[ra]
    )
    artifact = tmp_path / "vent.img"
    artifact.write_bytes(b"ventilator 7.0")

    for wrong in ([signing.qa], [signing.admin], []):
        with pytest.raises(InsufficientSignaturesError):
            publish_image(signing.image, artifact, "vent.img", image_info(700, OTHER_MODEL), wrong)
    vent = publish_image(signing.image, artifact, "vent.img", image_info(700, OTHER_MODEL), [ra])
    pump = signing.publish(tmp_path, 430, b"pump")

    assert signing.image.models() == [MODEL, OTHER_MODEL]
    client = signing.image_client(tmp_path / "client")
    client.refresh()
    for target in (vent, pump):
        info = client.get_targetinfo(target.path)
        assert info is not None
        assert info.hashes == target.hashes


def test_a_model_role_cannot_list_another_models_paths(signing: Signing, tmp_path: Path) -> None:
    signing.publish(tmp_path, 430, b"pump")
    role = "model-IP-100"
    with signing.image.lock():
        chain = signing.image.chain()
        current = signing.image.role(chain, role)
        assert current is not None
        payload: Targets = bump(current.signed, signing.clock.now(), timedelta(days=1))
        payload.targets["VENT-7/evil.img"] = TargetFile(4, {"sha256": "00" * 32}, "VENT-7/evil.img")
        signing.image.commit(chain.root, chain, {role: sign(payload, [signing.qa])})

    client = signing.image_client(tmp_path / "client")
    client.refresh()
    assert client.get_targetinfo("VENT-7/evil.img") is None


def test_delta_between_published_images(signing: Signing, tmp_path: Path) -> None:
    old = signing.publish(tmp_path, 430, b"4.3.0")
    new = signing.publish(tmp_path, 431, b"4.3.1")
    delta_file = tmp_path / "430-431.delta"
    delta_file.write_bytes(b"delta bytes")
    info = DeltaInfo(MODEL, old.hashes["sha256"], new.path, "bsdiff4")

    target = publish_delta(signing.image, delta_file, "430-431.delta", info, [signing.qa])

    assert target.path == f"{MODEL}/deltas/430-431.delta"
    client = signing.image_client(tmp_path / "client")
    client.refresh()
    found = client.get_targetinfo(target.path)
    assert found is not None
    assert DeltaInfo.from_custom(found.custom) == info
    assert Path(client.download_target(found)).read_bytes() == b"delta bytes"


@pytest.mark.parametrize("wrong", ["to_path", "from_sha256"])
def test_delta_must_join_published_images(signing: Signing, tmp_path: Path, wrong: str) -> None:
    old = signing.publish(tmp_path, 430, b"4.3.0")
    new = signing.publish(tmp_path, 431, b"4.3.1")
    delta_file = tmp_path / "x.delta"
    delta_file.write_bytes(b"delta")
    from_sha = "00" * 32 if wrong == "from_sha256" else old.hashes["sha256"]
    to_path = f"{MODEL}/missing.img" if wrong == "to_path" else new.path

    with pytest.raises(SigningInputError):
        publish_delta(
            signing.image,
            delta_file,
            "x.delta",
            DeltaInfo(MODEL, from_sha, to_path, "zstd-patch-from"),
            [signing.qa],
        )


def test_a_publication_writes_target_role_snapshot_then_timestamp(
    signing: Signing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    real_write = files.atomic_write
    real_place = files.place_immutable

    def record_write(path: Path, data: bytes, mode: int = 0o644) -> None:
        written.append(path.name)
        real_write(path, data, mode)

    def record_place(source: Path, destination: Path) -> None:
        written.append("target file")
        real_place(source, destination)

    monkeypatch.setattr("medfleet.signing.tufrepo.atomic_write", record_write)
    monkeypatch.setattr("medfleet.signing.image_publish.place_immutable", record_place)

    signing.publish(tmp_path, 430, b"pump")

    assert written == ["target file", "2.model-IP-100.json", "3.snapshot.json", "timestamp.json"]


def test_concurrent_publications_lose_nothing(signing: Signing, tmp_path: Path) -> None:
    numbers = list(range(100, 112))
    outcomes: dict[int, str] = {}

    def publish(number: int) -> None:
        try:
            signing.publish(tmp_path, number, f"build {number}".encode())
            outcomes[number] = "published"
        except RollbackError:
            outcomes[number] = "refused"

    threads = [threading.Thread(target=publish, args=(n,)) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    published = {n for n, outcome in outcomes.items() if outcome == "published"}
    listed = signing.image.model_targets(MODEL)
    assert {f"{MODEL}/{MODEL}-{n}.img" for n in published} == set(listed)
    assert max(numbers) in published
    client = signing.image_client(tmp_path / "client")
    client.refresh()
    for path in listed:
        assert client.get_targetinfo(path) is not None


@pytest.mark.parametrize(
    "info",
    [
        ImageInfo("", MODEL, ("B",), "1.0", 10),
        ImageInfo("R-1", MODEL, (), "1.0", 10),
        ImageInfo("R-1", MODEL, ("B",), "1.0", 0),
        ImageInfo("R-1", MODEL, ("B",), "1.0", 10, min_from_version_number=10),
    ],
)
def test_malformed_image_fields_are_refused(
    signing: Signing, tmp_path: Path, info: ImageInfo
) -> None:
    artifact = tmp_path / "a.img"
    artifact.write_bytes(b"x")

    with pytest.raises(SigningInputError):
        publish_image(signing.image, artifact, "a.img", info, [signing.qa])


def test_signing_is_created_only_once(signing: Signing) -> None:
    offline_before = signing.keys.offline_key_ids()

    with pytest.raises(RepositoryExistsError):
        create_signing(
            signing.public_dir,
            signing.keys,
            signing.clock,
            root_passwords=["again"],
            root_threshold=1,
            targets_username="admin",
            targets_password="admin secret",
            production=False,
        )
    assert signing.keys.offline_key_ids() == offline_before
