"""Bringing a data directory to life: directories, server key, schema, manufacturer, admin.

``initialise`` is what ``medfleet init`` and ``medfleet demo`` run. Each step is idempotent
except the last: a deployment gets its manufacturer and first admin exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from medfleet.accounts import service as accounts
from medfleet.accounts.model import Role
from medfleet.accounts.service import NewUser
from medfleet.db.engine import transaction
from medfleet.db.migrate import upgrade
from medfleet.runtime import Runtime
from medfleet.signing.server_key import create_server_key


@dataclass(frozen=True)
class InitResult:
    """What ``initialise`` created."""

    data_dir: str
    database_url: str
    server_key_id: str
    manufacturer_id: int
    admin_username: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "data_dir": self.data_dir,
            "database_url": self.database_url,
            "server_key_id": self.server_key_id,
            "manufacturer_id": self.manufacturer_id,
            "admin_username": self.admin_username,
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
) -> InitResult:
    """Prepare storage, then create the manufacturer and its first admin in one transaction.

    Raises:
        ConflictError: the deployment already has a manufacturer.
        InvalidInputError: a name or the password is not acceptable (nothing is created in the
            database; directories, key and schema may already exist, which is harmless).
    """
    key_id = prepare_storage(runtime)
    with transaction(runtime.sessions) as session:
        admin = accounts.bootstrap_manufacturer(
            session,
            runtime.audit,
            runtime.passwords,
            manufacturer,
            NewUser(admin_username, admin_full_name, admin_password, frozenset({Role.ADMIN})),
        )
        return InitResult(
            str(runtime.settings.data_dir),
            runtime.db.url.render_as_string(),
            key_id,
            admin.org_id,
            admin.username,
        )
