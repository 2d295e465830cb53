"""Bringing a data directory to life: directories, server key, schema, manufacturer, admin, keys.

``initialise`` is what ``medfleet init`` and ``medfleet demo`` run. Storage preparation is
idempotent; the rest happens exactly once per deployment: the manufacturer, its first admin, and
the update signing (root keys for the image repository and the director, encrypted with the root
key holders' passwords; the admin's targets key; the online keys; version 1 of both roots).
The root set-up is checked before anything is written, and the signing is created inside the
database transaction, so a refusal leaves no manufacturer behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medfleet.accounts import service as accounts
from medfleet.accounts.model import Role
from medfleet.accounts.service import NewUser
from medfleet.db.engine import transaction
from medfleet.db.migrate import upgrade
from medfleet.runtime import Runtime
from medfleet.signing.server_key import create_server_key
from medfleet.signing.setup import check_root_setup, create_signing


@dataclass(frozen=True)
class RootSetup:
    """The root key holders' passwords (one key each, per repository) and the threshold."""

    passwords: Sequence[str]
    threshold: int
    production: bool


@dataclass(frozen=True)
class InitResult:
    """What ``initialise`` created."""

    data_dir: str
    database_url: str
    server_key_id: str
    manufacturer_id: int
    admin_username: str
    image_root_key_ids: tuple[str, ...]
    director_root_key_ids: tuple[str, ...]
    root_threshold: int
    targets_key_id: str
    production: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "data_dir": self.data_dir,
            "database_url": self.database_url,
            "server_key_id": self.server_key_id,
            "manufacturer_id": self.manufacturer_id,
            "admin_username": self.admin_username,
            "image_root_key_ids": list(self.image_root_key_ids),
            "director_root_key_ids": list(self.director_root_key_ids),
            "root_threshold": self.root_threshold,
            "targets_key_id": self.targets_key_id,
            "production": self.production,
        }


def prepare_storage(runtime: Runtime) -> str:
    """Create the data, blob and key directories, the server key and the schema; return key id."""
    settings = runtime.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.blobs.mkdir(parents=True, exist_ok=True)
    signer = create_server_key(settings.keys)
    upgrade(runtime.db)
    return signer.key_id


def initialise(
    runtime: Runtime,
    manufacturer: str,
    admin_username: str,
    admin_full_name: str,
    admin_password: str,
    root: RootSetup,
) -> InitResult:
    """Prepare storage, then create the manufacturer, its first admin and the signing at once.

    The admin holds the first targets key (encrypted with the admin's password) until QA/RA
    users take the model roles over.

    Raises:
        SigningInputError: production with fewer than two root holders or a threshold below
            two, a threshold above the holders, or an empty root password (nothing written).
        ConflictError: the deployment already has a manufacturer.
        RepositoryExistsError: the update repositories exist already.
        InvalidInputError: a name or the password is not acceptable (nothing is created in the
            database; directories, key and schema may already exist, which is harmless).
    """
    check_root_setup(root.passwords, root.threshold, production=root.production)
    key_id = prepare_storage(runtime)
    distribution = runtime.distribution
    with transaction(runtime.sessions) as session:
        admin = accounts.bootstrap_manufacturer(
            session,
            runtime.audit,
            runtime.passwords,
            manufacturer,
            NewUser(admin_username, admin_full_name, admin_password, frozenset({Role.ADMIN})),
        )
        signing = create_signing(
            distribution.public_dir,
            distribution.keys,
            runtime.clock,
            root_passwords=root.passwords,
            root_threshold=root.threshold,
            targets_username=admin_username,
            targets_password=admin_password,
            production=root.production,
        )
        return InitResult(
            str(runtime.settings.data_dir),
            runtime.db.url.render_as_string(),
            key_id,
            admin.org_id,
            admin.username,
            signing.image_root_key_ids,
            signing.director_root_key_ids,
            root.threshold,
            signing.targets_key_id,
            root.production,
        )
