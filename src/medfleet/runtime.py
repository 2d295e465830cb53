"""Everything a use case needs besides its arguments, built once per process from the settings.

The CLI and the API both build one ``Runtime``; tests build one per database under test with a
controlled clock and a cheap password hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from medfleet.accounts.model import LockoutPolicy
from medfleet.accounts.passwords import make_hasher
from medfleet.audit.service import AuditLog
from medfleet.clock import Clock, SystemClock
from medfleet.config import Settings
from medfleet.db.engine import make_engine, make_session_factory
from medfleet.signing.distribution import Distribution
from medfleet.signing.server_key import ServerSigner, load_server_key, trusted_public_keys


@dataclass
class Runtime:
    """Settings, database, clock, keys and the audit log of one process."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    engine: Engine | None = None
    hasher: PasswordHasher | None = None

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = make_engine(self.settings)
        if self.hasher is None:
            self.hasher = make_hasher(
                self.settings.argon2_time_cost, self.settings.argon2_memory_kib
            )

    @property
    def db(self) -> Engine:
        """The engine (always set after construction)."""
        assert self.engine is not None
        return self.engine

    @property
    def passwords(self) -> PasswordHasher:
        """The password hasher (always set after construction)."""
        assert self.hasher is not None
        return self.hasher

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory; use with ``medfleet.db.engine.transaction``."""
        return make_session_factory(self.db)

    @cached_property
    def signer(self) -> ServerSigner:
        """The server's signing key (raises ``ServerKeyError`` before ``medfleet init``)."""
        return load_server_key(self.settings.keys)

    @cached_property
    def audit(self) -> AuditLog:
        """The audit log, signing with the server key."""
        return AuditLog(self.signer, self.clock, self.settings.audit_checkpoint_interval)

    @cached_property
    def distribution(self) -> Distribution:
        """Keys, blob store, image repository and director (created by ``medfleet init``)."""
        return Distribution.for_directories(self.settings.blobs, self.settings.keys, self.clock)

    @property
    def lockout(self) -> LockoutPolicy:
        """The login lockout policy from the settings."""
        return LockoutPolicy(
            self.settings.login_max_failures, timedelta(minutes=self.settings.login_lockout_minutes)
        )

    def trusted_keys(self) -> dict[str, Ed25519PublicKey]:
        """Public keys the audit verifier trusts (read fresh from the key directory)."""
        return trusted_public_keys(self.settings.keys)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()
