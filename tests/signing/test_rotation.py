"""Key rotation and revocation in the image repository, judged by python-tuf's client.

A root rotation chain must be walkable from version 1 by a device that was offline through
every rotation; metadata signed by a revoked key must be rejected.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from tuf.api.exceptions import UnsignedMetadataError
from tuf.ngclient.updater import Updater

from medfleet.agent.contract import image_metadata_url, image_targets_url
from medfleet.clock import FrozenClock
from medfleet.signing.errors import InsufficientSignaturesError, SigningInputError
from medfleet.signing.image_keys import (
    change_image_keys,
    change_model_keys,
    rotate_image_online_key,
)
from medfleet.signing.image_refresh import refresh_expiring
from medfleet.signing.image_repo import IMAGE_LIFETIMES
from medfleet.signing.keys import KeyStore
from medfleet.signing.setup import create_signing, unlock_root_signers
from medfleet.signing.tuf_api import MetaFile, Signer, Targets, Timestamp
from medfleet.signing.tufrepo import bump, changed_root, meta_file, sign, sign_root
from tests.signing.helpers import (
    ADMIN,
    BASE_URL,
    MODEL,
    RA,
    RA_PASSWORD,
    DirectoryFetcher,
    Signing,
)


def _trusted_root_version(client_dir: Path) -> int:
    document = json.loads((client_dir / "meta" / "root.json").read_bytes())
    return int(document["signed"]["version"])


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def _rotate_root_key(signing: Signing, old: list[Signer], password: str) -> list[Signer]:
    """Replace the root keys by a new one, signed by the old and the new key."""
    new_public = signing.keys.generate_offline_key(password)
    new = signing.keys.unlock_offline_key(new_public.keyid, password)
    change_image_keys(
        signing.image,
        "root",
        add=[new_public],
        revoke=[s.public_key.keyid for s in old],
        root_signers=[*old, new],
    )
    return [new]


def test_root_rotation_chain_is_walked_from_version_1(signing: Signing, tmp_path: Path) -> None:
    offline_device = tmp_path / "offline-device"
    signing.image_client(offline_device).refresh()  # enrolled, then offline for months

    targets = []
    holders = signing.image_root_signers()
    for number, password in enumerate(("second holder", "third holder", "fourth holder")):
        holders = _rotate_root_key(signing, holders, password)
        targets.append(signing.publish(tmp_path, 430 + number, f"build {number}".encode()))
        signing.clock.advance(timedelta(days=30))
    assert signing.image.metadata.versions("root") == [1, 2, 3, 4]

    fresh = signing.image_client(tmp_path / "fresh")
    fresh.refresh()
    assert _trusted_root_version(tmp_path / "fresh") == 4

    returning = Updater(
        metadata_dir=str(offline_device / "meta"),
        metadata_base_url=image_metadata_url(BASE_URL),
        target_dir=str(offline_device),
        target_base_url=image_targets_url(BASE_URL),
        fetcher=DirectoryFetcher(signing.public_dir),
        bootstrap=None,  # what it trusted when it went offline: root version 1
    )
    returning.refresh()
    assert _trusted_root_version(offline_device) == 4
    info = returning.get_targetinfo(targets[-1].path)
    assert info is not None
    assert Path(returning.download_target(info)).read_bytes() == b"build 2"


def test_a_root_update_needs_the_old_and_the_new_threshold(signing: Signing) -> None:
    old = signing.image_root_signers()
    new_public = signing.keys.generate_offline_key("new holder")
    new = signing.keys.unlock_offline_key(new_public.keyid, "new holder")
    before = _files(signing.image.metadata.path)
    revoke = [s.public_key.keyid for s in old]

    for signers in ([new], old):
        with pytest.raises(InsufficientSignaturesError):
            change_image_keys(
                signing.image, "root", add=[new_public], revoke=revoke, root_signers=signers
            )
    assert _files(signing.image.metadata.path) == before


def test_production_root_updates_need_two_holders(tmp_path: Path, clock: FrozenClock) -> None:
    keys = KeyStore(tmp_path / "keys")
    setup = create_signing(
        tmp_path / "public",
        keys,
        clock,
        root_passwords=["holder one", "holder two"],
        root_threshold=2,
        targets_username=ADMIN,
        targets_password="pw",
        production=True,
    )
    root = setup.image.chain().root

    with pytest.raises(InsufficientSignaturesError):
        change_image_keys(
            setup.image, "root", root_signers=unlock_root_signers(keys, root, ["holder one"])
        )
    both = unlock_root_signers(keys, root, ["holder one", "holder two"])
    renewed = change_image_keys(setup.image, "root", root_signers=both)
    assert renewed.signed.version == 2


def _forge_timestamp(signing: Signing, signer: Signer, snapshot: MetaFile | None = None) -> None:
    """Write a new timestamp signed by ``signer`` (pointing at ``snapshot`` if given)."""
    chain = signing.image.chain()
    payload: Timestamp = bump(chain.timestamp.signed, signing.clock.now(), timedelta(days=1))
    if snapshot is not None:
        payload.snapshot_meta = snapshot
    signing.image.metadata.write("timestamp.json", sign(payload, [signer]).to_bytes())


@pytest.mark.parametrize("role", ["timestamp", "snapshot"])
def test_a_revoked_online_key_is_rejected_by_the_client(
    signing: Signing, tmp_path: Path, role: str
) -> None:
    old_id = signing.image.chain().root.signed.roles[role].keyids[0]
    stolen = signing.keys.online_signer(old_id)

    new_id = rotate_image_online_key(signing.image, role, signing.image_root_signers())

    assert signing.image.chain().root.signed.roles[role].keyids == [new_id]
    assert not (signing.keys.path / "online" / f"{old_id}.pem").exists()
    signing.image_client(tmp_path / "after-rotation").refresh()
    if role == "timestamp":
        _forge_timestamp(signing, stolen)
    else:  # the snapshot signed with the stolen key, under a valid timestamp
        chain = signing.image.chain()
        snapshot = bump(chain.snapshot.signed, signing.clock.now(), timedelta(days=1))
        data = sign(snapshot, [stolen]).to_bytes()
        signing.image.metadata.write(f"{snapshot.version}.snapshot.json", data)
        timestamp_key = chain.root.signed.roles["timestamp"].keyids[0]
        _forge_timestamp(
            signing, signing.keys.online_signer(timestamp_key), meta_file(snapshot.version, data)
        )
    with pytest.raises(UnsignedMetadataError):
        signing.image_client(tmp_path / "forged").refresh()


def test_a_forged_timestamp_is_accepted_only_with_a_current_key(
    signing: Signing, tmp_path: Path
) -> None:
    current_id = signing.image.chain().root.signed.roles["timestamp"].keyids[0]
    _forge_timestamp(signing, signing.keys.online_signer(current_id))

    signing.image_client(tmp_path / "client").refresh()


def test_only_online_roles_rotate_automatically(signing: Signing) -> None:
    with pytest.raises(SigningInputError):
        rotate_image_online_key(signing.image, "root", signing.image_root_signers())


def test_targets_key_rotation_is_a_root_update(signing: Signing, tmp_path: Path) -> None:
    new_holder = signing.keys.generate_user_key(RA, RA_PASSWORD)
    ra = signing.keys.unlock_user_key(RA, RA_PASSWORD)

    change_image_keys(
        signing.image,
        "targets",
        add=[new_holder],
        revoke=[signing.admin.public_key.keyid],
        root_signers=signing.image_root_signers(),
        targets_signers=[ra],
    )

    signing.image_client(tmp_path / "after").refresh()
    qa_key = [signing.qa.public_key]
    with pytest.raises(InsufficientSignaturesError):
        signing.image.add_model(
            "VENT-7", qa_key, 1, targets_signers=[signing.admin], model_signers=[signing.qa]
        )
    with signing.image.lock():
        chain = signing.image.chain()
        top: Targets = bump(
            signing.image.top_targets(chain).signed, signing.clock.now(), timedelta(days=1)
        )
        signing.image.commit(chain.root, chain, {"targets": sign(top, [signing.admin])})
    with pytest.raises(UnsignedMetadataError):
        signing.image_client(tmp_path / "forged").refresh()


def test_a_revoked_model_key_is_rejected_by_the_client(signing: Signing, tmp_path: Path) -> None:
    signing.publish(tmp_path, 430, b"4.3.0")
    ra_key = signing.keys.generate_user_key(RA, RA_PASSWORD)
    ra = signing.keys.unlock_user_key(RA, RA_PASSWORD)

    change_model_keys(
        signing.image,
        MODEL,
        add=[ra_key],
        revoke=[signing.qa.public_key.keyid],
        targets_signers=[signing.admin],
        model_signers=[ra],
    )

    with pytest.raises(InsufficientSignaturesError):
        signing.publish(tmp_path, 431, b"4.3.1 by the revoked QA key")
    role = f"model-{MODEL}"
    with signing.image.lock():
        chain = signing.image.chain()
        current = signing.image.role(chain, role)
        assert current is not None
        forged: Targets = bump(current.signed, signing.clock.now(), timedelta(days=1))
        signing.image.commit(chain.root, chain, {role: sign(forged, [signing.qa])})
    client = signing.image_client(tmp_path / "forged")
    client.refresh()
    with pytest.raises(UnsignedMetadataError):
        client.get_targetinfo(f"{MODEL}/{MODEL}-430.img")


def test_model_key_changes_check_both_thresholds(signing: Signing) -> None:
    ra_key = signing.keys.generate_user_key(RA, RA_PASSWORD)
    before = _files(signing.image.metadata.path)

    with pytest.raises(InsufficientSignaturesError):  # the new holder did not sign
        change_model_keys(
            signing.image,
            MODEL,
            add=[ra_key],
            revoke=[signing.qa.public_key.keyid],
            targets_signers=[signing.admin],
            model_signers=[signing.qa],
        )
    with pytest.raises(SigningInputError):  # no key left
        change_model_keys(
            signing.image,
            MODEL,
            revoke=[signing.qa.public_key.keyid],
            targets_signers=[signing.admin],
            model_signers=[],
        )
    assert _files(signing.image.metadata.path) == before


def test_refresh_finishes_a_rotation_interrupted_after_the_root(
    signing: Signing, tmp_path: Path
) -> None:
    chain = signing.image.chain()
    old_key = chain.root.signed.roles["timestamp"].keyids[0]
    new_key = signing.keys.generate_online_key().public_key
    new_root = changed_root(
        chain.root.signed,
        "timestamp",
        signing.clock.now(),
        IMAGE_LIFETIMES.root,
        add=[new_key],
        revoke=[old_key],
    )
    signed = sign_root(chain.root.signed, new_root, signing.image_root_signers())
    signing.image.metadata.write_root(signed)  # ... and the process stopped here
    with pytest.raises(UnsignedMetadataError):
        signing.image_client(tmp_path / "during").refresh()

    report = refresh_expiring(signing.image, timedelta(hours=1))

    assert report.resigned == ("timestamp",)
    signing.image_client(tmp_path / "after").refresh()
