"""Creating the signing infrastructure once (``medfleet init``) and unlocking root keys later.

``create_signing`` makes, in ``<key-dir>/tuf/``: one password-encrypted root key per root key
holder for the image repository and another for the director, the first targets key holder's
user key, and the online keys; then version 1 of the image repository and the director's root.
A production deployment needs at least two root key holders and a root threshold of at least
two; the demo uses one of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medfleet.clock import Clock
from medfleet.signing.director import Director
from medfleet.signing.errors import RepositoryExistsError, SigningInputError
from medfleet.signing.image_repo import ImageRepository
from medfleet.signing.keys import KeyStore
from medfleet.signing.layout import director_root_history
from medfleet.signing.tuf_api import Metadata, Root, Signer
from medfleet.signing.tufrepo import ROOT, MetadataDir

PRODUCTION_MIN_ROOT_THRESHOLD = 2


@dataclass(frozen=True, slots=True)
class SigningSetup:
    """What ``create_signing`` made (ids for the operator's records)."""

    image_root_key_ids: tuple[str, ...]
    director_root_key_ids: tuple[str, ...]
    targets_key_id: str
    image: ImageRepository
    director: Director


def create_signing(
    public_dir: Path,
    keys: KeyStore,
    clock: Clock,
    *,
    root_passwords: Sequence[str],
    root_threshold: int,
    targets_username: str,
    targets_password: str,
    production: bool,
) -> SigningSetup:
    """Create root, targets and online keys, the image repository and the director.

    Each entry of ``root_passwords`` is one root key holder's password: it encrypts that
    holder's image-root key and director-root key. ``targets_username``'s targets key (made
    if the user has none) signs the top-level targets role at first.

    Raises:
        SigningInputError: production with fewer than two holders or a threshold below two;
            a threshold above the number of holders; an empty password.
        RepositoryExistsError: the image repository or the director already exists.
        WrongPasswordError: the targets user has a key that ``targets_password`` does not open.
    """
    check_root_setup(root_passwords, root_threshold, production=production)
    image = ImageRepository(public_dir, keys, clock)
    if image.exists():
        raise RepositoryExistsError(f"an image repository exists in {image.metadata.path}")
    if MetadataDir(director_root_history(public_dir)).versions(ROOT):
        raise RepositoryExistsError("the director already exists")
    image_root = [keys.generate_offline_key(password) for password in root_passwords]
    director_root = [keys.generate_offline_key(password) for password in root_passwords]
    if not keys.has_user_key(targets_username):
        keys.generate_user_key(targets_username, targets_password)
    targets_signer = keys.unlock_user_key(targets_username, targets_password)
    image_signers = _unlock_all(keys, root_passwords, [k.keyid for k in image_root])
    director_signers = _unlock_all(keys, root_passwords, [k.keyid for k in director_root])
    image = ImageRepository.create(
        public_dir,
        keys,
        clock,
        root_keys=image_root,
        root_threshold=root_threshold,
        root_signers=image_signers,
        targets_keys=[targets_signer.public_key],
        targets_threshold=1,
        targets_signers=[targets_signer],
    )
    director = Director.create(
        public_dir,
        keys,
        clock,
        image,
        root_keys=director_root,
        root_threshold=root_threshold,
        root_signers=director_signers,
    )
    return SigningSetup(
        tuple(k.keyid for k in image_root),
        tuple(k.keyid for k in director_root),
        str(targets_signer.public_key.keyid),
        image,
        director,
    )


def check_root_setup(passwords: Sequence[str], threshold: int, *, production: bool) -> None:
    """Check the root key holders and threshold before anything is created.

    Raises:
        SigningInputError: production with fewer than two holders or a threshold below two; a
            threshold outside 1..holders; an empty password; in production, two holders
            with the same password.
    """
    if production and (
        threshold < PRODUCTION_MIN_ROOT_THRESHOLD or len(passwords) < PRODUCTION_MIN_ROOT_THRESHOLD
    ):
        raise SigningInputError(
            f"production needs at least {PRODUCTION_MIN_ROOT_THRESHOLD} root key holders "
            f"and a root threshold of at least {PRODUCTION_MIN_ROOT_THRESHOLD}"
        )
    if not 1 <= threshold <= len(passwords):
        raise SigningInputError(
            f"root threshold {threshold} must be between 1 and the "
            f"{len(passwords)} root key holder(s)"
        )
    if any(not password for password in passwords):
        raise SigningInputError("a root key holder's password must not be empty")
    if production and len(set(passwords)) < len(passwords):
        raise SigningInputError(
            "production root key holders must have different passwords (one person each)"
        )


def _unlock_all(keys: KeyStore, passwords: Sequence[str], key_ids: list[str]) -> list[Signer]:
    signers: list[Signer] = []
    for password in passwords:
        signers.extend(keys.unlock_offline_keys(password, key_ids))
    return signers


def unlock_root_signers(
    keys: KeyStore, root: Metadata[Root], passwords: Sequence[str]
) -> list[Signer]:
    """The root keys of ``root`` that the given holders' passwords open (possibly too few).

    Use with ``ImageRepository.chain().root`` or ``Director.root()``; passing the result to a
    root update checks the threshold.
    """
    return _unlock_all(keys, passwords, list(root.signed.roles[ROOT].keyids))
