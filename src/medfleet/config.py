"""One settings object for the whole server side.

Values come, highest priority first, from explicit keyword arguments (the CLI's ``--data-dir``),
environment variables ``MEDFLEET_*``, an optional TOML config file (``MEDFLEET_CONFIG``, or
``<data-dir>/medfleet.toml`` when it exists), and the defaults below. Paths derived from the data
directory (database, blobs, keys) are filled in once, so every component sees the same ones.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("./medfleet-data")
CONFIG_FILE_NAME = "medfleet.toml"


class ConfigFileError(ValueError):
    """The config file named by ``MEDFLEET_CONFIG`` (or in the data directory) is unusable."""


class Settings(BaseSettings):
    """Where medfleet keeps its state and how it behaves; immutable once built."""

    model_config = SettingsConfigDict(env_prefix="MEDFLEET_", frozen=True, extra="forbid")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Root of all local state.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at <data-dir>/medfleet.db (WAL mode).",
    )
    blob_dir: Path | None = Field(
        default=None, description="Artifacts, metadata and bundles; default <data-dir>/blobs."
    )
    key_dir: Path | None = Field(
        default=None, description="Server keys (Ed25519); default <data-dir>/keys."
    )
    login_max_failures: int = Field(default=5, ge=1, description="Failed logins before lockout.")
    login_lockout_minutes: int = Field(default=15, ge=1)
    token_ttl_hours: int = Field(default=24 * 30, ge=1, description="Lifetime of API tokens.")
    audit_checkpoint_interval: int = Field(
        default=1000, ge=1, description="A signed checkpoint is kept every this many events."
    )
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    argon2_time_cost: int = Field(default=3, ge=1, description="Argon2id passes.")
    argon2_memory_kib: int = Field(default=65_536, ge=8, description="Argon2id memory (KiB).")

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        # frozen model: derived defaults are set through object.__setattr__ once, here only.
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'medfleet.db'}")
        if self.blob_dir is None:
            object.__setattr__(self, "blob_dir", self.data_dir / "blobs")
        if self.key_dir is None:
            object.__setattr__(self, "key_dir", self.data_dir / "keys")
        return self

    @property
    def blobs(self) -> Path:
        """The blob directory (always set after validation)."""
        assert self.blob_dir is not None
        return self.blob_dir

    @property
    def keys(self) -> Path:
        """The key directory (always set after validation)."""
        assert self.key_dir is not None
        return self.key_dir

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite default (or another SQLite file)."""
        return self.database_url.startswith("sqlite")


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from exc
    section = raw.get("medfleet", raw)
    if not isinstance(section, dict):
        raise ConfigFileError(f"config file {path}: [medfleet] must be a table")
    return dict(section)


def load_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from arguments, environment and config file, in that priority.

    Raises:
        ConfigFileError: the config file exists but cannot be read or parsed.
        pydantic.ValidationError: a value has the wrong type or range.
    """
    explicit: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        explicit["data_dir"] = data_dir
    env_config = os.environ.get("MEDFLEET_CONFIG")
    if env_config:
        config_path: Path | None = Path(env_config)
    else:
        base = Path(
            explicit.get("data_dir") or os.environ.get("MEDFLEET_DATA_DIR") or DEFAULT_DATA_DIR
        )
        candidate = base / CONFIG_FILE_NAME
        config_path = candidate if candidate.is_file() else None
    file_values = _read_config_file(config_path) if config_path is not None else {}
    env_names = {f"MEDFLEET_{name.upper()}" for name in Settings.model_fields}
    # Environment beats the file: drop file values that the environment sets.
    merged = {
        key: value
        for key, value in file_values.items()
        if f"MEDFLEET_{key.upper()}" not in env_names or f"MEDFLEET_{key.upper()}" not in os.environ
    }
    merged.update(explicit)
    return Settings(**merged)
